"""WCP-15 Multiple Instances without a priori Run-Time Knowledge.

Instances of B can be added while others are running, until someone says there will be no
more; C follows when every instance started has completed.

The parent starts each instance as a detached child (``pattern_kit.branch``), and one signal
name, "events", carries both the requests from outside (``{"add": units}``, ``{"no_more":
true}``) and the instances' reports (``{"arrived": result}``); the parent reads them one by
one with ``ctx.wait_for``. Awaiting the children themselves is not possible here: a
``ctx.gather`` cannot grow while it waits, and attaching to a running child by its id
(``ctx.child(..., id=...)``) never returns today, because the child reports to the position
that started it.

Run it with ``python examples/patterns/wcp15_mi_without_a_priori_knowledge.py``.
"""

from __future__ import annotations

import pattern_kit as kit
from pattern_kit import C

import treadle as tr


@tr.workflow(name="wcp15.open_instances")
async def open_instances(ctx: tr.Context, database: str, initial: list[float]) -> list[str]:
    started = 0
    for units in initial:
        await kit.start_branch(ctx, database, "B", units, started, signal="events")
        started += 1
    done: list[str] = []
    more = True
    while more or len(done) < started:
        event = await ctx.wait_for("events")
        if "add" in event and more:
            await kit.start_branch(ctx, database, "B", event["add"], started, signal="events")
            started += 1
        elif "no_more" in event:
            more = False
        elif "arrived" in event:
            done.append(event["arrived"])
    await ctx.step(C)
    return done


def running_instances(engine: tr.Engine, run_id: str) -> list[str]:
    return [c.id for c in kit.children(engine, run_id) if (c.id, "B") in kit.STARTED]


def demo(engine: tr.Engine) -> dict[str, str]:
    run_id = engine.start(open_instances, engine.database, [3, 3])
    kit.wait_until(lambda: len(running_instances(engine, run_id)) == 2)
    engine.signal(run_id, "events", {"add": 1})  # while the first two are running
    engine.signal(run_id, "events", {"no_more": True})
    engine.result(run_id, timeout=10)
    kit.wait_finished(engine, [child.id for child in kit.children(engine, run_id)])
    return {"2 instances of B, 1 added while they run, then no more": run_id}


if __name__ == "__main__":
    kit.main(demo)
