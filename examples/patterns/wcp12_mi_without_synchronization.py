"""WCP-12 Multiple Instances without Synchronization.

Several instances of a task are started and run on their own; nothing waits for them.
Each instance is a child run started with ``wait=False``: ``ctx.child`` returns its id at
once, the parent goes on to C, and the parent may finish while the instances still run.

Run it with ``python examples/patterns/wcp12_mi_without_synchronization.py``.
"""

from __future__ import annotations

import pattern_kit as kit
from pattern_kit import B, C

import treadle as tr


@tr.workflow(name="wcp12.instance")
async def instance(ctx: tr.Context, number: int) -> str:
    return await ctx.step(B, 3, number)


@tr.workflow(name="wcp12.spawn")
async def spawn(ctx: tr.Context, count: int) -> list[str]:
    ids = [await ctx.child(instance, number, wait=False) for number in range(count)]
    await ctx.step(C)  # not blocked by the instances
    return ids


def demo(engine: tr.Engine) -> dict[str, str]:
    run_id = engine.start(spawn, 3)
    instances = engine.result(run_id, timeout=10)
    print(f"the parent finished while its instances were {engine.get(instances[0]).status}")
    kit.wait_finished(engine, instances)
    return {"3 detached instances of B, and C": run_id}


if __name__ == "__main__":
    kit.main(demo)
