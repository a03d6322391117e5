"""WCP-2 Parallel Split: after A the thread divides into B and C, which run at the same time.

``ctx.gather`` starts every call it is given at once. To show that B and C really overlap,
each waits at a latch (a two-party barrier) until the other has started too: run one after
the other, they would never get past it.

Run it with ``python examples/patterns/wcp02_parallel_split.py``.
"""

from __future__ import annotations

import threading

import pattern_kit as kit
from pattern_kit import A

import treadle as tr

LATCH = threading.Barrier(2, timeout=10)


@tr.step(name="B")
def b_at_latch() -> str:
    LATCH.wait()  # returns once C has started as well
    return "B"


@tr.step(name="C")
def c_at_latch() -> str:
    LATCH.wait()
    return "C"


@tr.workflow(name="wcp02.parallel_split")
async def parallel_split(ctx: tr.Context) -> list[str]:
    await ctx.step(A)
    return await ctx.gather(ctx.step(b_at_latch), ctx.step(c_at_latch))


def demo(engine: tr.Engine) -> dict[str, str]:
    run_id = engine.start(parallel_split)
    engine.result(run_id, timeout=10)
    return {"A, then B and C together": run_id}


if __name__ == "__main__":
    kit.main(demo)
