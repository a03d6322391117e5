"""WCP-25 Cancel Region: a set of tasks is withdrawn together; the rest of the case goes on.

A region is a child run: here the region runs B and C side by side, while D runs outside
it, in the parent. ``engine.cancel(region_id)`` withdraws the region with everything in it
(its own children too); the parent sees ``tr.RunCancelledError`` from that branch only, and
D completes.

Run it with ``python examples/patterns/wcp25_cancel_region.py``.
"""

from __future__ import annotations

import pattern_kit as kit
from pattern_kit import B, C, D

import treadle as tr


@tr.workflow(name="wcp25.region")
async def region(ctx: tr.Context) -> list[str]:
    return await ctx.gather(ctx.step(B, 5), ctx.step(C, 5))


@tr.workflow(name="wcp25.case")
async def case(ctx: tr.Context) -> dict[str, object]:
    async def region_or_cancelled() -> object:
        try:
            return await ctx.child(region)
        except tr.RunCancelledError:
            return "cancelled"

    inside, outside = await ctx.gather(region_or_cancelled(), ctx.step(D, 3))
    return {"region": inside, "D": outside}


def demo(engine: tr.Engine) -> dict[str, str]:
    run_id = engine.start(case)
    kit.wait_until(lambda: kit.children(engine, run_id))
    region_id = kit.children(engine, run_id)[0].id
    kit.wait_until(lambda: {(region_id, "B"), (region_id, "C")} <= kit.STARTED)
    engine.cancel(region_id)  # cancel the region {B, C}
    engine.result(run_id, timeout=10)
    return {"region {B, C} cancelled, D outside it": run_id}


if __name__ == "__main__":
    kit.main(demo)
