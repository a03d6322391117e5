"""WCP-28 Blocking Discriminator and WCP-31 Blocking Partial Join.

A partial join (N out of M, the discriminator being N = 1) used again and again, in a loop:
after it fires it waits for the other branches of the same round; a branch that arrives a
second time before that (it already belongs to the next round) is held, neither lost nor
counted twice, and is let in once the join has reset.

Here each round starts its branches as detached children (``pattern_kit.branch``) that
signal "arrived"; the next round starts as soon as D fires, so its fast branch B arrives
before the slow branch of the round before. The join is the loop below, in the workflow's
own code: the set of branches that arrived this round, and a list of held arrivals.

Run it with ``python examples/patterns/wcp28_31_blocking_partial_join.py``.
"""

from __future__ import annotations

from typing import Any

import pattern_kit as kit
from pattern_kit import D

import treadle as tr


@tr.workflow(name="wcp28.blocking_join")
async def blocking_join(
    ctx: tr.Context, database: str, branches: dict[str, float], n: int, rounds: int
) -> dict[str, Any]:
    async def start_round(number: int) -> None:
        for task, units in branches.items():
            await kit.start_branch(ctx, database, task, units, number)

    held: list[str] = []  # arrivals from branches that already arrived in this round
    fired: list[str] = []
    await start_round(0)
    for number in range(rounds):
        arrived: set[str] = set()
        while len(arrived) < len(branches):
            waiting = [a for a in held if a.split("#")[0] not in arrived]
            if waiting:
                arrival = waiting[0]
                held.remove(arrival)
            else:
                arrival = (await ctx.wait_for("arrived"))["arrived"]
            task = arrival.split("#")[0]
            if task in arrived:
                held.append(arrival)  # blocked until the join resets
                continue
            arrived.add(task)
            if len(arrived) == n:
                fired.append(await ctx.step(D, 0, number))
                if number + 1 < rounds:
                    await start_round(number + 1)
    return {"fired": fired}


def demo(engine: tr.Engine) -> dict[str, str]:
    runs = {
        "WCP-28 discriminator, B (1) and C (5), 2 rounds": engine.start(
            blocking_join, engine.database, {"B": 1, "C": 5}, 1, 2
        ),
        "WCP-31 2-out-of-3 join, B (1), C (2), E (9), 2 rounds": engine.start(
            blocking_join, engine.database, {"B": 1, "C": 2, "E": 9}, 2, 2
        ),
    }
    for run_id in runs.values():
        engine.result(run_id, timeout=10)
    return runs


if __name__ == "__main__":
    kit.main(demo)
