"""Workflows the benchmarks run: no-op steps, so that only the engine's cost is measured."""

from __future__ import annotations

import treadle as tr


@tr.step
async def noop(i: int) -> int:
    return i


@tr.step
def noop_sync(i: int) -> int:
    return i


@tr.workflow
async def sequential(ctx: tr.Context, steps: int) -> int:
    for i in range(steps):
        await ctx.step(noop, i)
    return steps


@tr.workflow
def sequential_sync(ctx: tr.SyncContext, steps: int) -> int:
    for i in range(steps):
        ctx.step(noop_sync, i)
    return steps


@tr.workflow
async def fan_out(ctx: tr.Context, width: int) -> int:
    results = await ctx.gather(*(ctx.step(noop, i) for i in range(width)))
    return len(results)
