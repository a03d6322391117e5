"""WCP-36 Dynamic Partial Join for Multiple Instances.

Instances of B can be added while the task runs, and a completion condition, not the
number of instances, says when the task is done: here, three completed instances. C starts
then; instances still running are left to finish and ignored.

As in WCP-15, one signal name ("events") carries the requests to add an instance and the
instances' own reports (``pattern_kit.branch``), and the workflow checks the condition
after each event.

Run it with ``python examples/patterns/wcp36_dynamic_partial_join_mi.py``.
"""

from __future__ import annotations

from typing import Any

import pattern_kit as kit
from pattern_kit import C

import treadle as tr


@tr.workflow(name="wcp36.dynamic_join")
async def dynamic_join(
    ctx: tr.Context, database: str, initial: list[float], enough: int
) -> dict[str, Any]:
    started = 0
    for units in initial:
        await kit.start_branch(ctx, database, "B", units, started, signal="events")
        started += 1
    done: list[str] = []
    while len(done) < enough:  # the completion condition
        event = await ctx.wait_for("events")
        if "add" in event:
            await kit.start_branch(ctx, database, "B", event["add"], started, signal="events")
            started += 1
        else:
            done.append(event["arrived"])
    return {"C": await ctx.step(C), "after": done, "started": started}


def demo(engine: tr.Engine) -> dict[str, str]:
    run_id = engine.start(dynamic_join, engine.database, [4, 8], 3)
    kit.wait_until(lambda: len(kit.children(engine, run_id)) == 2)
    engine.signal(run_id, "events", {"add": 1})
    engine.signal(run_id, "events", {"add": 2})
    engine.result(run_id, timeout=10)
    kit.wait_finished(engine, [c.id for c in kit.children(engine, run_id)])
    return {"2 B, 2 more added, done when 3 have completed": run_id}


if __name__ == "__main__":
    kit.main(demo)
