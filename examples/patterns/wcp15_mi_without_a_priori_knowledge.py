"""WCP-15 Multiple Instances without a priori Run-Time Knowledge.

Instances of B can be added while others are running, until someone says there will be no
more; C follows when every instance started has completed.

Each instance is a detached child run (``pattern_kit.run_task``). The workflow waits with
``ctx.wait_for_any(["add", "no_more"])`` for the next request from outside, which tells
which of the two signals came, and starts an instance for each "add". After "no_more" it
joins every instance by its id (``ctx.child(kit.run_task, id=child_id)``), whether it is
still running or has finished, and then runs C.

Run it with ``python examples/patterns/wcp15_mi_without_a_priori_knowledge.py``.
"""

from __future__ import annotations

import pattern_kit as kit
from pattern_kit import C

import treadle as tr


@tr.workflow(name="wcp15.open_instances")
async def open_instances(ctx: tr.Context, initial: list[float]) -> list[str]:
    ids = [
        await ctx.child(kit.run_task, "B", units, number, wait=False)
        for number, units in enumerate(initial)
    ]
    while True:
        request, units = await ctx.wait_for_any(["add", "no_more"])
        if request == "no_more":
            break
        ids.append(await ctx.child(kit.run_task, "B", units, len(ids), wait=False))
    done = [await ctx.child(kit.run_task, id=child_id) for child_id in ids]
    await ctx.step(C)
    return done


def running_instances(engine: tr.Engine, run_id: str) -> list[str]:
    return [c.id for c in kit.children(engine, run_id) if (c.id, "B") in kit.STARTED]


def demo(engine: tr.Engine) -> dict[str, str]:
    run_id = engine.start(open_instances, [3, 3])
    kit.wait_until(lambda: len(running_instances(engine, run_id)) == 2)
    engine.signal(run_id, "add", 1)  # while the first two are running
    engine.signal(run_id, "no_more")
    engine.result(run_id, timeout=10)
    return {"2 instances of B, 1 added while they run, then no more": run_id}


if __name__ == "__main__":
    kit.main(demo)
