"""WCP-39 Critical Section: two regions of one case may never run at the same time.

Region R1 = {B, C} and region R2 = {D} sit on parallel branches, next to task E that is free
to overlap with either. Inside one run, an ``asyncio.Lock`` in the workflow code is the
critical section. The step calls are made before the branches start, which fixes their
positions in the history whatever order the lock hands them out in; a replay then finds
each result where it was recorded. Keep waits (``ctx.sleep``, ``ctx.wait_for``, children)
out of a region: a run suspends only once every branch of a ``ctx.gather`` has stopped, so
a branch waiting for the lock would never let it.

There is no critical section across runs (a durable lock or semaphore) yet.

Run it with ``python examples/patterns/wcp39_critical_section.py``.
"""

from __future__ import annotations

import asyncio

import pattern_kit as kit
from pattern_kit import B, C, D, E

import treadle as tr


@tr.workflow(name="wcp39.critical_section")
async def critical_section(ctx: tr.Context) -> list[object]:
    section = asyncio.Lock()
    b, c, d, e = ctx.step(B, 2), ctx.step(C, 2), ctx.step(D, 2), ctx.step(E, 3)

    async def region_1() -> list[str]:
        async with section:
            return [await b, await c]

    async def region_2() -> str:
        async with section:
            return await d

    return await ctx.gather(region_1(), region_2(), e)


def demo(engine: tr.Engine) -> dict[str, str]:
    run_id = engine.start(critical_section)
    engine.result(run_id, timeout=10)
    return {"R1 = {B, C} and R2 = {D} in parallel, E free": run_id}


if __name__ == "__main__":
    kit.main(demo)
