"""WCP-19 Cancel Task: a task that is waiting (or running) is withdrawn; the case goes on.

Task B waits for a person's answer. It is a child run, so it can be withdrawn on its own:
``engine.cancel(child_id)`` (or ``treadle cancel``) cancels it, and the parent's
``ctx.child`` raises ``tr.RunCancelledError``, which the parent catches to carry on to C.

Run it with ``python examples/patterns/wcp19_cancel_task.py``.
"""

from __future__ import annotations

import pattern_kit as kit
from pattern_kit import A, B, C

import treadle as tr


@tr.workflow(name="wcp19.task_b")
async def task_b(ctx: tr.Context) -> str:
    answer = await ctx.wait_for("answer")  # a person decides
    return await ctx.step(B, 0, answer)


@tr.workflow(name="wcp19.case")
async def case(ctx: tr.Context) -> str:
    await ctx.step(A)
    try:
        await ctx.child(task_b)
    except tr.RunCancelledError:
        pass  # B was withdrawn: the case goes on without it
    return await ctx.step(C)


def demo(engine: tr.Engine) -> dict[str, str]:
    run_id = engine.start(case)
    kit.wait_until(lambda: kit.children(engine, run_id))
    b_id = kit.children(engine, run_id)[0].id
    kit.wait_until(lambda: engine.get(b_id).status is tr.RunStatus.WAITING)
    engine.cancel(b_id)  # cancel(B)
    engine.result(run_id, timeout=10)
    return {"B cancelled while it waits": run_id}


if __name__ == "__main__":
    kit.main(demo)
