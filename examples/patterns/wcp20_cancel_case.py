"""WCP-20 Cancel Case: the whole case is withdrawn, running work and pending work alike.

``engine.cancel(run_id)`` (or ``treadle cancel RUN``) finishes the run as ``cancelled`` in
one transaction, with its children and timers. Steps that are executing are not interrupted:
they run to their end and the worker, no longer holding the run, drops their results, so
neither B nor C is recorded as completed and D never starts.

Run it with ``python examples/patterns/wcp20_cancel_case.py``.
"""

from __future__ import annotations

import time

import pattern_kit as kit
from pattern_kit import B, C, D

import treadle as tr


@tr.workflow(name="wcp20.case")
async def case(ctx: tr.Context) -> str:
    await ctx.gather(ctx.step(B, 3), ctx.step(C, 3))
    return await ctx.step(D)


def demo(engine: tr.Engine) -> dict[str, str]:
    run_id = engine.start(case)
    kit.wait_until(lambda: {(run_id, "B"), (run_id, "C")} <= kit.STARTED)
    engine.cancel(run_id)  # while B and C are running
    time.sleep(5 * kit.UNIT)  # long enough for B and C to have ended, had they gone on
    return {"B and C running, then the case is cancelled": run_id}


if __name__ == "__main__":
    kit.main(demo)
