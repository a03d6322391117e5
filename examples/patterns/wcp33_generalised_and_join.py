"""WCP-33 Generalised AND-Join: an AND-join that counts tokens per incoming branch.

The join fires once it holds at least one token from every branch and takes one from each;
extra tokens wait for the next firing. Here branch B loops and delivers twice, branch C
once: D fires once, and one B token stays behind for a C that never comes.

Durable functions have no tokens: each branch is a child run that signals "token" for every
delivery and "ended" when it is done, and the workflow keeps the counts itself. (A
``tr.Net``, when it is wired into the engine, is where token semantics will live.)

Run it with ``python examples/patterns/wcp33_generalised_and_join.py``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pattern_kit as kit
from pattern_kit import TASKS, D

import treadle as tr


@tr.workflow(name="wcp33.producer")
async def producer(
    ctx: tr.Context, database: str, parent: str, task: str, times: int, units: float
) -> int:
    for number in range(times):  # the loop around the branch
        result = await ctx.step(TASKS[task], units, number)
        await ctx.step(kit.signal_run, database, parent, "events", {"token": task, "of": result})
    await ctx.step(kit.signal_run, database, parent, "events", {"ended": task})
    return times


@tr.workflow(name="wcp33.and_join")
async def and_join(
    ctx: tr.Context, database: str, deliveries: dict[str, list[float]]
) -> dict[str, Any]:
    for task, (times, units) in deliveries.items():
        await ctx.child(producer, database, ctx.run_id, task, times, units, wait=False)
    tokens: Counter[str] = Counter()
    live, fired = set(deliveries), 0
    while live:
        event = await ctx.wait_for("events")
        if "ended" in event:
            live.discard(event["ended"])
            continue
        tokens[event["token"]] += 1
        if all(tokens[task] > 0 for task in deliveries):  # one token on every branch
            tokens.subtract(deliveries.keys())
            fired += 1
            await ctx.step(D, 0, fired)
    return {"fired": fired, "left": {task: n for task, n in tokens.items() if n}}


def demo(engine: tr.Engine) -> dict[str, str]:
    run_id = engine.start(and_join, engine.database, {"B": [2, 1], "C": [1, 3]})
    engine.result(run_id, timeout=10)
    kit.wait_finished(engine, [c.id for c in kit.children(engine, run_id)])
    return {"B delivers at t=1 and t=2, C at t=3": run_id}


if __name__ == "__main__":
    kit.main(demo)
