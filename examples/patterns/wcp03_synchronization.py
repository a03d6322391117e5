"""WCP-3 Synchronization: parallel branches join, and the thread goes on once all are done.

``ctx.gather`` returns when every call it was given has completed, so the step after it is
the join: D starts after the slower branch C (5 units), not after B (1 unit).

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


def demo(engine: tr.Engine) -> dict[str, str]:
    run_id = engine.start(synchronization)
    engine.result(run_id, timeout=10)
    return {"B (1) and C (5), then D": run_id}


if __name__ == "__main__":
    kit.main(demo)
