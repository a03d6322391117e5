"""WCP-42 Thread Split and WCP-41 Thread Merge.

A thread split starts a given number of threads of control on the same branch; a thread
merge coalesces a given number of them back into one. In a durable function the threads of
a branch are concurrent calls: ``ctx.gather`` over three calls of B is the split, and its
return, once all three have arrived, is the merge; D then runs once.

Run it with ``python examples/patterns/wcp41_42_thread_split_merge.py``.
"""

from __future__ import annotations

import pattern_kit as kit
from pattern_kit import A, B, D

import treadle as tr

THREADS = 3


@tr.workflow(name="wcp41.threads")
async def threads(ctx: tr.Context) -> str:
    await ctx.step(A)
    await ctx.gather(*(ctx.step(B, 1 + thread, thread) for thread in range(THREADS)))
    return await ctx.step(D)


def demo(engine: tr.Engine) -> dict[str, str]:
    run_id = engine.start(threads)
    engine.result(run_id, timeout=10)
    return {"A, split into 3 threads of B, merged at 3, then D": run_id}


if __name__ == "__main__":
    kit.main(demo)
