"""WCP-34 Static Partial Join for MI and WCP-35 Cancelling Partial Join for MI.

Five instances of B run; the task after them, C, starts once three have completed. In
WCP-34 the other two go on and are ignored; in WCP-35 they are withdrawn.

Each instance is a detached child run that signals "arrived" when done
(``pattern_kit.branch``); the workflow counts three signals, runs C and, for WCP-35,
cancels the rest with the ``pattern_kit.cancel_runs`` step. For WCP-34 the workflow ends
after C while two instances still run: their reports are refused by the finished run, which
is what "ignored" means here.

Run it with ``python examples/patterns/wcp34_35_mi_partial_join.py``.
"""

from __future__ import annotations

from typing import Any

import pattern_kit as kit
from pattern_kit import C

import treadle as tr

DURATIONS = [1, 2, 3, 6, 7]


@tr.workflow(name="wcp34.mi_partial_join")
async def mi_partial_join(
    ctx: tr.Context, database: str, n: int, cancel_rest: bool
) -> dict[str, Any]:
    ids = [
        await kit.start_branch(ctx, database, "B", units, number)
        for number, units in enumerate(DURATIONS)
    ]
    arrived = [(await ctx.wait_for("arrived"))["arrived"] for _ in range(n)]
    cancelled: list[str] = []
    if cancel_rest:
        rest = [run_id for number, run_id in enumerate(ids) if f"B#{number}" not in arrived]
        cancelled = await ctx.step(kit.cancel_runs, database, rest)
    return {"C": await ctx.step(C), "after": arrived, "cancelled": len(cancelled)}


def demo(engine: tr.Engine) -> dict[str, str]:
    runs = {
        "WCP-34, 5 B, C after 3": engine.start(mi_partial_join, engine.database, 3, False),
        "WCP-35, 5 B, C after 3, the rest cancelled": engine.start(
            mi_partial_join, engine.database, 3, True
        ),
    }
    for run_id in runs.values():
        engine.result(run_id, timeout=10)
        kit.wait_finished(engine, [c.id for c in kit.children(engine, run_id)])
    return runs


if __name__ == "__main__":
    kit.main(demo)
