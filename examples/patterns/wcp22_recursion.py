"""WCP-22 Recursion: a task runs the very process it belongs to.

A workflow may start itself as a child run: ``fact(n)`` asks a child ``fact(n - 1)`` and
multiplies. Each invocation is a run of its own, with its own history, nested under the
one that called it.

Run it with ``python examples/patterns/wcp22_recursion.py``.
"""

from __future__ import annotations

import pattern_kit as kit

import treadle as tr


@tr.step(name="multiply")
def multiply(a: int, b: int) -> int:
    return a * b


@tr.workflow(name="wcp22.fact")
async def fact(ctx: tr.Context, n: int) -> int:
    if n <= 1:
        return 1
    below: int = await ctx.child(fact, n - 1)
    return await ctx.step(multiply, n, below)


def demo(engine: tr.Engine) -> dict[str, str]:
    run_id = engine.start(fact, 4)
    engine.result(run_id, timeout=10)
    print(f"fact(4) ran as {len(kit.family(engine, run_id))} nested runs")
    return {"fact(4)": run_id}


if __name__ == "__main__":
    kit.main(demo)
