"""WCP-38 General Synchronizing Merge: an OR-join that also works with loops.

The OR-join fires only when no further token can reach it. Here an OR-split starts B, or a
loop that runs C until x reaches a bound, or both; each pass of the loop may come round
again, so the join must wait while the loop can still deliver. On a graph this needs a
look-ahead over the reachable states.

In a durable function the loop is a thread of its own (a child run), and "no more tokens
can come" is "that thread has ended": the workflow waits for the threads it started. The
look-ahead is done by the workflow's author, who wrote the loop; the engine does no
analysis.

Run it with ``python examples/patterns/wcp38_general_synchronizing_merge.py``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import pattern_kit as kit
from pattern_kit import B, C, D

import treadle as tr


@tr.workflow(name="wcp38.loop")
async def loop(ctx: tr.Context, bound: int) -> int:
    x = 0
    while True:
        await ctx.step(C, 1, x)
        x += 1
        if x >= bound:  # no pass comes round again
            return x


@tr.workflow(name="wcp38.or_join")
async def or_join(ctx: tr.Context, take_b: bool, loop_bound: int | None) -> str:
    live: list[Awaitable[Any]] = []
    if take_b:
        live.append(ctx.step(B, 1))
    if loop_bound is not None:
        live.append(ctx.child(loop, loop_bound))
    await ctx.gather(*live)  # fires once nothing can arrive any more
    return await ctx.step(D)


def demo(engine: tr.Engine) -> dict[str, str]:
    runs = {
        "B and the loop (3 passes)": engine.start(or_join, True, 3),
        "B only": engine.start(or_join, True, None),
        "the loop only (2 passes)": engine.start(or_join, False, 2),
    }
    for run_id in runs.values():
        engine.result(run_id, timeout=10)
    return runs


if __name__ == "__main__":
    kit.main(demo)
