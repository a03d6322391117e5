"""WCP-21 Structured Loop: a part of the process repeats, with one way in and one way out.

Python's ``while`` (test before each pass) and a ``while True`` with a test at the end
(repeat ... until) are the loops; each pass records its steps at new positions, so a replay
walks the same passes. As a ``tr.Flow``, ``flow.loop(body, repeat_while=...)`` runs a flow
once and again while the condition holds on the last pass's result (a repeat-until).

Run it with ``python examples/patterns/wcp21_structured_loop.py``.
"""

from __future__ import annotations

import pattern_kit as kit
from pattern_kit import B

import treadle as tr


@tr.workflow(name="wcp21.while_loop")
async def while_loop(ctx: tr.Context, times: int) -> int:
    i = 0
    while i < times:  # while i < 3: B
        await ctx.step(B, 0, i)
        i += 1
    return i


@tr.workflow(name="wcp21.repeat_until")
async def repeat_until(ctx: tr.Context) -> int:
    passes = 0
    while True:  # repeat B until true
        await ctx.step(B, 0, passes)
        passes += 1
        if True:
            return passes


@tr.step(name="B")
def b_counts(i: int) -> int:
    return i + 1


body = tr.Flow("wcp21_body")
body.task(b_counts)
flow = tr.Flow("wcp21_loop_flow")
flow.loop(body, repeat_while=lambda i: i < 3)
loop_flow = tr.workflow(flow)


def demo(engine: tr.Engine) -> dict[str, str]:
    runs = {
        "while i < 3: B": engine.start(while_loop, 3),
        "repeat B until true": engine.start(repeat_until),
        "as a flow, B repeated while i < 3": engine.start(loop_flow, 0),
    }
    for run_id in runs.values():
        engine.result(run_id, timeout=10)
    return runs


if __name__ == "__main__":
    kit.main(demo)
