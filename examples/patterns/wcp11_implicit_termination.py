"""WCP-11 Implicit Termination: a case ends when nothing is left to do, with no end node.

A run ends when its function returns, and the function returns only after every call it
awaits. Two parallel leaves B and C with nothing after them: the run succeeds once the
slower one is done. (A child started with ``wait=False`` is detached work and is not waited
for: the run can end before it, see WCP-12.)

Run it with ``python examples/patterns/wcp11_implicit_termination.py``.
"""

from __future__ import annotations

import pattern_kit as kit
from pattern_kit import A, B, C

import treadle as tr


@tr.workflow(name="wcp11.implicit_termination")
async def implicit_termination(ctx: tr.Context) -> None:
    await ctx.step(A)
    await ctx.gather(ctx.step(B, 1), ctx.step(C, 3))  # two leaves; nothing follows them


def demo(engine: tr.Engine) -> dict[str, str]:
    run_id = engine.start(implicit_termination)
    engine.result(run_id, timeout=10)
    return {"A, then leaves B (1) and C (3)": run_id}


if __name__ == "__main__":
    kit.main(demo)
