"""WCP-6 Multi-Choice and WCP-7 Structured Synchronizing Merge.

Multi-choice: at the split, each branch whose condition holds is taken: one, several or
all. Structured synchronizing merge: the branches of that split come together again, and
the thread waits for exactly the branches that were taken. In a durable function the split
builds the list of chosen calls and ``ctx.gather`` waits for that list, nothing more: with
only B chosen, D follows B without waiting for C, which never started.

Run it with ``python examples/patterns/wcp06_07_multi_choice.py``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import pattern_kit as kit
from pattern_kit import B, C, D

import treadle as tr


@tr.workflow(name="wcp06.multi_choice")
async def multi_choice(ctx: tr.Context, c1: bool, c2: bool) -> str:
    chosen: list[Awaitable[Any]] = []
    if c1:
        chosen.append(ctx.step(B, 1))
    if c2:
        chosen.append(ctx.step(C, 5))
    await ctx.gather(*chosen)  # the synchronizing merge: waits for the chosen ones only
    return await ctx.step(D)


def demo(engine: tr.Engine) -> dict[str, str]:
    runs = {
        f"c1={c1}, c2={c2}": engine.start(multi_choice, c1, c2)
        for c1, c2 in ((True, True), (True, False), (False, True))
    }
    for run_id in runs.values():
        engine.result(run_id, timeout=10)
    return runs


if __name__ == "__main__":
    kit.main(demo)
