"""WCP-1 Sequence: a task starts only once the task before it has completed.

In a durable function a sequence is consecutive ``await ctx.step(...)`` calls: each call
returns only when its step's result is recorded, so the next one cannot start earlier.

Run it with ``python examples/patterns/wcp01_sequence.py``.
"""

from __future__ import annotations

import pattern_kit as kit
from pattern_kit import A, B, C

import treadle as tr


@tr.workflow(name="wcp01.sequence")
async def sequence(ctx: tr.Context) -> list[str]:
    a = await ctx.step(A, 1)
    b = await ctx.step(B, 1)
    c = await ctx.step(C, 1)
    return [a, b, c]


def demo(engine: tr.Engine) -> dict[str, str]:
    run_id = engine.start(sequence)
    engine.result(run_id, timeout=10)
    return {"A then B then C": run_id}


if __name__ == "__main__":
    kit.main(demo)
