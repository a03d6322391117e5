"""WCP-1 Sequence: a task starts only once the task before it has completed.

In a durable function a sequence is consecutive ``await ctx.step(...)`` calls: each call
returns only when its step's result is recorded, so the next one cannot start earlier. As a
``tr.Flow``, each task names the one before it in ``after=``.

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


flow = tr.Flow("wcp01_sequence_flow")
a = flow.task(kit.flow_task("A", 1))
b = flow.task(kit.flow_task("B", 1), after=a)
flow.task(kit.flow_task("C", 1), after=b)
sequence_flow = tr.workflow(flow)


def demo(engine: tr.Engine) -> dict[str, str]:
    runs = {"A then B then C": engine.start(sequence), "as a flow": engine.start(sequence_flow)}
    for run_id in runs.values():
        engine.result(run_id, timeout=10)
    return runs


if __name__ == "__main__":
    kit.main(demo)
