"""WCP-28 Blocking Discriminator and WCP-31 Blocking Partial Join.

A partial join (N out of M, the discriminator being N = 1) used again and again, in a loop:
after it fires it waits for the other branches of the same round; a branch that arrives a
second time before that (it already belongs to the next round) is held, neither lost nor
counted twice, and is let in once the join has reset.

Each round starts its branches as detached child runs (``pattern_kit.run_task``). The join
of a round is ``ctx.first(..., count=n, cancel_children=False)`` over those children; the
next round starts as soon as D fires, so its fast branch B finishes before the slow branch
of the round before. The round's remaining branches are then joined by their ids: until
they have all arrived, the next round's join is not reached, and its early arrival waits,
recorded, for it.

Run it with ``python examples/patterns/wcp28_31_blocking_partial_join.py``.
"""

from __future__ import annotations

from typing import Any

import pattern_kit as kit
from pattern_kit import D

import treadle as tr


@tr.workflow(name="wcp28.blocking_join")
async def blocking_join(
    ctx: tr.Context, branches: dict[str, float], n: int, rounds: int
) -> dict[str, Any]:
    async def start_round(number: int) -> list[str]:
        return [
            await ctx.child(kit.run_task, task, units, number, wait=False)
            for task, units in branches.items()
        ]

    fired: list[str] = []
    ids = await start_round(0)
    for number in range(rounds):
        first = await ctx.first(
            *(ctx.child(kit.run_task, id=i) for i in ids), count=n, cancel_children=False
        )
        fired.append(await ctx.step(D, 0, number))
        arrived = {index for index, _ in first}
        following = await start_round(number + 1) if number + 1 < rounds else []
        for index, child_id in enumerate(ids):
            if index not in arrived:
                await ctx.child(kit.run_task, id=child_id)  # the join resets after these
        ids = following
    return {"fired": fired}


def demo(engine: tr.Engine) -> dict[str, str]:
    runs = {
        "WCP-28 discriminator, B (1) and C (5), 2 rounds": engine.start(
            blocking_join, {"B": 1, "C": 5}, 1, 2
        ),
        "WCP-31 2-out-of-3 join, B (1), C (2), E (9), 2 rounds": engine.start(
            blocking_join, {"B": 1, "C": 2, "E": 9}, 2, 2
        ),
    }
    for run_id in runs.values():
        engine.result(run_id, timeout=10)
    return runs


if __name__ == "__main__":
    kit.main(demo)
