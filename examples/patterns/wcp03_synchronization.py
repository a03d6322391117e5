"""WCP-3 Synchronization: parallel branches join, and the thread goes on once all are done.

``ctx.gather`` returns when every call it was given has completed, so the step after it is
the join: D starts after the slower branch C (5 units), not after B (1 unit). As a
``tr.Flow``, D names both in ``after=`` (an and-join, the default).

Run it with ``python examples/patterns/wcp03_synchronization.py``.
"""

from __future__ import annotations

import pattern_kit as kit
from pattern_kit import B, C, D

import treadle as tr


@tr.workflow(name="wcp03.synchronization")
async def synchronization(ctx: tr.Context) -> str:
    await ctx.gather(ctx.step(B, 1), ctx.step(C, 5))
    return await ctx.step(D)


flow = tr.Flow("wcp03_synchronization_flow")
b = flow.task(kit.flow_task("B", 1))
c = flow.task(kit.flow_task("C", 5))
flow.task(kit.flow_task("D"), after=[b, c])
synchronization_flow = tr.workflow(flow)


def demo(engine: tr.Engine) -> dict[str, str]:
    runs = {
        "B (1) and C (5), then D": engine.start(synchronization),
        "as a flow": engine.start(synchronization_flow),
    }
    for run_id in runs.values():
        engine.result(run_id, timeout=10)
    return runs


if __name__ == "__main__":
    kit.main(demo)
