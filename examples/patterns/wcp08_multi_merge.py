"""WCP-8 Multi-Merge: every branch that reaches the merge starts what follows it once more.

Each branch is a thread of its own that carries on past the merge: here a child run that
runs its task and then D. Nothing synchronizes them, so D runs twice, each time right after
its own branch: the first D starts while C is still working.

A branch of several calls is a child run rather than a coroutine inside ``ctx.gather``:
a call takes its position when it is made, so calls made after an earlier call of the same
branch returns would get positions in completion order, which a replay cannot repeat.

Run it with ``python examples/patterns/wcp08_multi_merge.py``.
"""

from __future__ import annotations

import pattern_kit as kit
from pattern_kit import TASKS, D

import treadle as tr


@tr.workflow(name="wcp08.thread")
async def thread(ctx: tr.Context, task: str, units: float) -> str:
    await ctx.step(TASKS[task], units)
    return await ctx.step(D, 0, task)  # past the merge: D, once for this branch


@tr.workflow(name="wcp08.multi_merge")
async def multi_merge(ctx: tr.Context) -> list[str]:
    return await ctx.gather(ctx.child(thread, "B", 1), ctx.child(thread, "C", 5))


def demo(engine: tr.Engine) -> dict[str, str]:
    run_id = engine.start(multi_merge)
    engine.result(run_id, timeout=10)
    return {"B and C, each followed by D": run_id}


if __name__ == "__main__":
    kit.main(demo)
