"""WCP-43 Explicit Termination: the case ends when it reaches its end node; work still
going is withdrawn.

B (long) and C run in parallel; C leads to the end. A run ends when its function returns,
but a return does not withdraw work: a step the function awaits must finish first, and a
detached child goes on. So B is a detached child run, and the end node is
``ctx.cancel(b_id)`` followed by the return: the child is cancelled (with any children of
its own) and the case completes.

Run it with ``python examples/patterns/wcp43_explicit_termination.py``.
"""

from __future__ import annotations

import pattern_kit as kit
from pattern_kit import B, C

import treadle as tr


@tr.workflow(name="wcp43.task_b")
async def task_b(ctx: tr.Context) -> str:
    return await ctx.step(B, 8)


@tr.workflow(name="wcp43.case")
async def case(ctx: tr.Context) -> str:
    b_id = await ctx.child(task_b, wait=False)
    await ctx.step(C, 1)
    await ctx.cancel(b_id)  # the end node: withdraw what is still running
    return "ended at C"


def demo(engine: tr.Engine) -> dict[str, str]:
    run_id = engine.start(case)
    engine.result(run_id, timeout=10)
    return {"B (8) and C (1); C ends the case": run_id}


if __name__ == "__main__":
    kit.main(demo)
