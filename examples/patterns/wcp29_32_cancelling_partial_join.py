"""WCP-29 Cancelling Discriminator and WCP-32 Cancelling Partial Join.

After N of the M branches have arrived (N = 1 for the discriminator) the join fires and the
branches still running are withdrawn. Each branch is a detached child run that signals
"arrived" when its task is done (``pattern_kit.branch``); after N signals the workflow
cancels the others with the ``pattern_kit.cancel_runs`` step, which calls
``engine.cancel`` through the client, and runs D. A cancelled branch's task may be running:
it is not interrupted, but its result is dropped, so it never completes.

Run it with ``python examples/patterns/wcp29_32_cancelling_partial_join.py``.
"""

from __future__ import annotations

from typing import Any

import pattern_kit as kit
from pattern_kit import D

import treadle as tr


@tr.workflow(name="wcp29.cancelling_join")
async def cancelling_join(
    ctx: tr.Context, database: str, branches: dict[str, float], n: int
) -> dict[str, Any]:
    ids = {
        task: await kit.start_branch(ctx, database, task, units) for task, units in branches.items()
    }
    arrived = [(await ctx.wait_for("arrived"))["arrived"] for _ in range(n)]
    rest = [run_id for task, run_id in ids.items() if task not in arrived]
    cancelled = await ctx.step(kit.cancel_runs, database, rest)
    fired = await ctx.step(D, 0, "+".join(arrived))
    return {"fired": fired, "cancelled": len(cancelled)}


def demo(engine: tr.Engine) -> dict[str, str]:
    runs = {
        "WCP-29 discriminator, B (1) and C (5)": engine.start(
            cancelling_join, engine.database, {"B": 1, "C": 5}, 1
        ),
        "WCP-32 2-out-of-3 join, B (1), C (2), E (9)": engine.start(
            cancelling_join, engine.database, {"B": 1, "C": 2, "E": 9}, 2
        ),
    }
    for run_id in runs.values():
        engine.result(run_id, timeout=10)
        kit.wait_finished(engine, [c.id for c in kit.children(engine, run_id)])
    return runs


if __name__ == "__main__":
    kit.main(demo)
