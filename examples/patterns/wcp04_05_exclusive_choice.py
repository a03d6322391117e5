"""WCP-4 Exclusive Choice and WCP-5 Simple Merge.

Exclusive choice: at the split exactly one branch is taken, decided from the data. Simple
merge: the alternative branches come together again without waiting for each other, since
only one of them ever ran. In a durable function the choice is an ``if`` on a step's result
(recorded, so a replay takes the same branch) and the merge is the code after the ``if``.
As a ``tr.Flow``: ``flow.choice`` with ``when``/``otherwise`` branches, and ``join="xor"``.

Run it with ``python examples/patterns/wcp04_05_exclusive_choice.py``.
"""

from __future__ import annotations

import pattern_kit as kit
from pattern_kit import B, C, D

import treadle as tr


@tr.step(name="A")
def a_sets_x(x: int) -> int:
    return x  # the decision data; a real task would compute or look it up


@tr.workflow(name="wcp04.exclusive_choice")
async def exclusive_choice(ctx: tr.Context, x: int) -> str:
    if await ctx.step(a_sets_x, x) > 0:
        await ctx.step(B, 1)
    else:
        await ctx.step(C, 1)
    return await ctx.step(D)  # the simple merge: reached from either branch, once


flow = tr.Flow("wcp04_exclusive_choice_flow")
a = flow.task(a_sets_x)
route = flow.choice(after=a)
b = flow.task(kit.flow_task("B", 1), after=route.when(lambda x: x > 0, name="positive"))
c = flow.task(kit.flow_task("C", 1), after=route.otherwise())
flow.task(kit.flow_task("D"), after=[b, c], join="xor")
exclusive_choice_flow = tr.workflow(flow)


def demo(engine: tr.Engine) -> dict[str, str]:
    runs = {
        "x=1": engine.start(exclusive_choice, 1),
        "x=-1": engine.start(exclusive_choice, -1),
        "as a flow, x=1": engine.start(exclusive_choice_flow, 1),
        "as a flow, x=-1": engine.start(exclusive_choice_flow, -1),
    }
    for run_id in runs.values():
        engine.result(run_id, timeout=10)
    return runs


if __name__ == "__main__":
    kit.main(demo)
