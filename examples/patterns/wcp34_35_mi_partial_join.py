"""WCP-34 Static Partial Join for MI and WCP-35 Cancelling Partial Join for MI.

Five instances of B run; the task after them, C, starts once three have completed. In
WCP-34 the other two go on and are ignored; in WCP-35 they are withdrawn.

Each instance is a child run (``pattern_kit.run_task``), and ``ctx.first(..., count=3)``
waits for the first three. For WCP-35 it cancels the other two (the default); for WCP-34,
``cancel_children=False`` leaves them running, and the workflow ends after C while they
finish on their own, which is what "ignored" means here.

Run it with ``python examples/patterns/wcp34_35_mi_partial_join.py``.
"""

from __future__ import annotations

from typing import Any

import pattern_kit as kit
from pattern_kit import C

import treadle as tr

DURATIONS = [1, 2, 3, 6, 7]


@tr.workflow(name="wcp34.mi_partial_join")
async def mi_partial_join(ctx: tr.Context, n: int, cancel_rest: bool) -> dict[str, Any]:
    first = await ctx.first(
        *(ctx.child(kit.run_task, "B", units, number) for number, units in enumerate(DURATIONS)),
        count=n,
        cancel_children=cancel_rest,
    )
    return {"C": await ctx.step(C), "after": [result for _, result in first]}


def demo(engine: tr.Engine) -> dict[str, str]:
    runs = {
        "WCP-34, 5 B, C after 3": engine.start(mi_partial_join, 3, False),
        "WCP-35, 5 B, C after 3, the rest cancelled": engine.start(mi_partial_join, 3, True),
    }
    for run_id in runs.values():
        engine.result(run_id, timeout=10)
        kit.wait_finished(engine, [c.id for c in kit.children(engine, run_id)])
    return runs


if __name__ == "__main__":
    kit.main(demo)
