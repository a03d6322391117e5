"""WCP-37 Local Synchronizing Merge: an OR-join in an acyclic graph that is not block-shaped.

An OR-split starts branch 1 (B) or branch 2 (C) or both; branch 1 does not end in a block of
its own but crosses into branch 2 and runs E on the way, as branch 2 does; the OR-join before
D must wait for exactly the branches that are live, however they wind.

A durable function has no graph and so no OR-join over one: the workflow names each path
through the graph as a thread (here a child run: B then E, or C then E) and waits for the
threads it started, which it always knows. That is the structured form the graph unfolds
to; the workflow's author does the unfolding.

Run it with ``python examples/patterns/wcp37_local_synchronizing_merge.py``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import pattern_kit as kit
from pattern_kit import TASKS, D, E

import treadle as tr


@tr.workflow(name="wcp37.path")
async def path(ctx: tr.Context, first: str, units: float) -> str:
    await ctx.step(TASKS[first], units)
    return await ctx.step(E, 1, first)  # the crossing: both paths go through E


@tr.workflow(name="wcp37.or_join")
async def or_join(ctx: tr.Context, c1: bool, c2: bool) -> str:
    live: list[Awaitable[Any]] = []
    if c1:
        live.append(ctx.child(path, "B", 1))
    if c2:
        live.append(ctx.child(path, "C", 4))
    await ctx.gather(*live)  # the OR-join: exactly the live paths
    return await ctx.step(D)


def demo(engine: tr.Engine) -> dict[str, str]:
    runs = {
        f"c1={c1}, c2={c2}": engine.start(or_join, c1, c2)
        for c1, c2 in ((True, True), (True, False), (False, True))
    }
    for run_id in runs.values():
        engine.result(run_id, timeout=10)
    return runs


if __name__ == "__main__":
    kit.main(demo)
