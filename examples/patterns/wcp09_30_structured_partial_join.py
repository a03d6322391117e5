"""WCP-9 Structured Discriminator and WCP-30 Structured Partial Join.

A partial join of N out of M branches lets the thread through as soon as N branches have
arrived; the later arrivals are let in without starting anything, and once all M have
arrived the join is ready for its next use. The discriminator is the case N = 1.

Each branch is a child run (``pattern_kit.run_task``). ``ctx.first(..., count=n)`` returns
the first N to finish, in the order they finished, and with ``cancel_children=False`` leaves
the others running; D runs once. Then the workflow joins the rest by their ids, so the run
ends once the whole structure is done, like the reset of the join.

Run it with ``python examples/patterns/wcp09_30_structured_partial_join.py``.
"""

from __future__ import annotations

from typing import Any

import pattern_kit as kit
from pattern_kit import D

import treadle as tr


@tr.workflow(name="wcp09.partial_join")
async def partial_join(ctx: tr.Context, branches: dict[str, float], n: int) -> dict[str, Any]:
    ids = {task: f"{ctx.run_id}.{task}" for task in branches}
    first = await ctx.first(
        *(ctx.child(kit.run_task, task, units, id=ids[task]) for task, units in branches.items()),
        count=n,
        cancel_children=False,
    )
    arrived = [result for _, result in first]
    fired = await ctx.step(D, 0, "+".join(arrived))  # the join fires once, after N arrivals
    rest = [ids[task] for task in branches if task not in arrived]
    if rest:  # the rest arrive and are let in, in the order they finish: then it resets
        later = await ctx.first(*(ctx.child(kit.run_task, id=i) for i in rest), count=len(rest))
        arrived += [result for _, result in later]
    return {"fired": fired, "arrivals": arrived}


def demo(engine: tr.Engine) -> dict[str, str]:
    runs = {
        "WCP-9 discriminator, B (1) and C (5)": engine.start(partial_join, {"B": 1, "C": 5}, 1),
        "WCP-30 2-out-of-3 join, B (1), C (2), E (9)": engine.start(
            partial_join, {"B": 1, "C": 2, "E": 9}, 2
        ),
    }
    for run_id in runs.values():
        engine.result(run_id, timeout=10)
    return runs


if __name__ == "__main__":
    kit.main(demo)
