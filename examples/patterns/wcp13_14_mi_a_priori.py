"""WCP-13 and WCP-14: multiple instances whose number is known before they start.

WCP-13 fixes the number in the model, WCP-14 learns it at run time (here from the run's
input); either way all instances run at once and C follows when all are done. In a durable
function both are ``ctx.gather`` over a comprehension; with n = 0 it waits for nothing. As
a ``tr.Flow``, ``flow.map`` calls its step once per item of a collection, all at once.

Run it with ``python examples/patterns/wcp13_14_mi_a_priori.py``.
"""

from __future__ import annotations

import pattern_kit as kit
from pattern_kit import B, C

import treadle as tr

INSTANCES = 3  # known when the workflow is written


@tr.workflow(name="wcp13.design_time")
async def design_time(ctx: tr.Context) -> str:
    await ctx.gather(*(ctx.step(B, 1, i) for i in range(INSTANCES)))
    return await ctx.step(C)


@tr.workflow(name="wcp14.run_time")
async def run_time(ctx: tr.Context, n: int) -> str:
    await ctx.gather(*(ctx.step(B, 1, i) for i in range(n)))
    return await ctx.step(C)


@tr.step(name="B")
def b_instance(number: int) -> str:
    return f"B#{number}"


flow = tr.Flow("wcp14_run_time_flow")
instances = flow.map(b_instance, over=lambda n: list(range(n)))
flow.task(kit.flow_task("C"), after=instances)
run_time_flow = tr.workflow(flow)


def demo(engine: tr.Engine) -> dict[str, str]:
    runs = {
        "WCP-13, 3 instances in the model": engine.start(design_time),
        "WCP-14, n=4": engine.start(run_time, 4),
        "WCP-14, n=0": engine.start(run_time, 0),
        "WCP-14 as a flow, n=4": engine.start(run_time_flow, 4),
        "WCP-14 as a flow, n=0": engine.start(run_time_flow, 0),
    }
    for run_id in runs.values():
        engine.result(run_id, timeout=10)
    return runs


if __name__ == "__main__":
    kit.main(demo)
