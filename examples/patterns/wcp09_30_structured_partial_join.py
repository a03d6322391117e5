"""WCP-9 Structured Discriminator and WCP-30 Structured Partial Join.

A partial join of N out of M branches lets the thread through as soon as N branches have
arrived; the later arrivals are let in without starting anything, and once all M have
arrived the join is ready for its next use. The discriminator is the case N = 1.

Durable functions have no "wait for the first N of these calls" yet: ``ctx.gather`` waits
for all of them. So each branch is a detached child run (``pattern_kit.branch``) that, when
its task is done, signals the parent "arrived" through the client; the parent counts the
signals with ``ctx.wait_for``. After N it runs D; then it takes the remaining arrivals, so
the run ends once the whole structure is done, like the reset of the join.

Run it with ``python examples/patterns/wcp09_30_structured_partial_join.py``.
"""

from __future__ import annotations

from typing import Any

import pattern_kit as kit
from pattern_kit import D

import treadle as tr


@tr.workflow(name="wcp09.partial_join")
async def partial_join(
    ctx: tr.Context, database: str, branches: dict[str, float], n: int
) -> dict[str, Any]:
    for task, units in branches.items():
        await kit.start_branch(ctx, database, task, units)
    arrived = [(await ctx.wait_for("arrived"))["arrived"] for _ in range(n)]
    fired = await ctx.step(D, 0, "+".join(arrived))  # the join fires once, after N arrivals
    while len(arrived) < len(branches):  # the rest arrive and are let in: then it resets
        arrived.append((await ctx.wait_for("arrived"))["arrived"])
    return {"fired": fired, "arrivals": arrived}


def demo(engine: tr.Engine) -> dict[str, str]:
    runs = {
        "WCP-9 discriminator, B (1) and C (5)": engine.start(
            partial_join, engine.database, {"B": 1, "C": 5}, 1
        ),
        "WCP-30 2-out-of-3 join, B (1), C (2), E (9)": engine.start(
            partial_join, engine.database, {"B": 1, "C": 2, "E": 9}, 2
        ),
    }
    for run_id in runs.values():
        engine.result(run_id, timeout=10)
    return runs


if __name__ == "__main__":
    kit.main(demo)
