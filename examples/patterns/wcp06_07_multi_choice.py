"""WCP-6 Multi-Choice and WCP-7 Structured Synchronizing Merge.

Multi-choice: at the split, each branch whose condition holds is taken: one, several or
all. Structured synchronizing merge: the branches of that split come together again, and
the thread waits for exactly the branches that were taken. In a durable function the split
builds the list of chosen calls and ``ctx.gather`` waits for that list, nothing more: with
only B chosen, D follows B without waiting for C, which never started. As a ``tr.Flow``:
``flow.multi_choice`` and ``join="or"``, which waits for exactly the branches taken.

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


@tr.step(name="A")
def a_decides(conditions: list[bool]) -> list[bool]:
    return conditions


flow = tr.Flow("wcp06_multi_choice_flow")
pick = flow.multi_choice(after=flow.task(a_decides))
b = flow.task(kit.flow_task("B", 1), after=pick.when(lambda c: c[0], name="c1"))
c = flow.task(kit.flow_task("C", 5), after=pick.when(lambda c: c[1], name="c2"))
flow.task(kit.flow_task("D"), after=[b, c], join="or")
multi_choice_flow = tr.workflow(flow)

CASES = ((True, True), (True, False), (False, True))


def demo(engine: tr.Engine) -> dict[str, str]:
    runs = {f"c1={c1}, c2={c2}": engine.start(multi_choice, c1, c2) for c1, c2 in CASES}
    for c1, c2 in CASES:
        runs[f"as a flow, c1={c1}, c2={c2}"] = engine.start(multi_choice_flow, [c1, c2])
    for run_id in runs.values():
        engine.result(run_id, timeout=10)
    return runs


if __name__ == "__main__":
    kit.main(demo)
