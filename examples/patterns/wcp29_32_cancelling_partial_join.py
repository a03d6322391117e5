"""WCP-29 Cancelling Discriminator and WCP-32 Cancelling Partial Join.

After N of the M branches have arrived (N = 1 for the discriminator) the join fires and the
branches still running are withdrawn. Each branch is a child run (``pattern_kit.run_task``);
``ctx.first(..., count=n)`` returns the first N to finish and cancels the others, with
their own children, in the same transaction that records which ones won. A cancelled
branch's task may be running: it is not interrupted, but its result is dropped, so it never
completes.

Run it with ``python examples/patterns/wcp29_32_cancelling_partial_join.py``.
"""

from __future__ import annotations

from typing import Any

import pattern_kit as kit
from pattern_kit import D

import treadle as tr


@tr.workflow(name="wcp29.cancelling_join")
async def cancelling_join(ctx: tr.Context, branches: dict[str, float], n: int) -> dict[str, Any]:
    first = await ctx.first(
        *(ctx.child(kit.run_task, task, units) for task, units in branches.items()), count=n
    )
    arrived = [result for _, result in first]
    return {"fired": await ctx.step(D, 0, "+".join(arrived)), "arrived": arrived}


def demo(engine: tr.Engine) -> dict[str, str]:
    runs = {
        "WCP-29 discriminator, B (1) and C (5)": engine.start(cancelling_join, {"B": 1, "C": 5}, 1),
        "WCP-32 2-out-of-3 join, B (1), C (2), E (9)": engine.start(
            cancelling_join, {"B": 1, "C": 2, "E": 9}, 2
        ),
    }
    for run_id in runs.values():
        engine.result(run_id, timeout=10)
        kit.wait_finished(engine, [c.id for c in kit.children(engine, run_id)])
    return runs


if __name__ == "__main__":
    kit.main(demo)
