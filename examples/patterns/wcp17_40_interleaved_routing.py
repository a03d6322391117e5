"""WCP-17 Interleaved Parallel Routing and WCP-40 Interleaved Routing.

A set of tasks each runs once, in any order, but never two at the same time; WCP-17 may
also impose a partial order (here: B before D). The workflow picks the next task among those
whose predecessors are done and runs it to completion before picking again. The pick uses
``ctx.random()``, which draws the same numbers on every replay of a run, so different runs
take different orders and each run keeps its own.

Run it with ``python examples/patterns/wcp17_40_interleaved_routing.py``.
"""

from __future__ import annotations

import pattern_kit as kit
from pattern_kit import TASKS

import treadle as tr


@tr.workflow(name="wcp17.interleaved")
async def interleaved(ctx: tr.Context, tasks: list[str], before: dict[str, list[str]]) -> str:
    done: list[str] = []
    while len(done) < len(tasks):
        ready = [t for t in tasks if t not in done and all(p in done for p in before.get(t, []))]
        pick = ready[int(ctx.random() * len(ready))]
        await ctx.step(TASKS[pick], 1)  # one at a time: the next starts after this one
        done.append(pick)
    return ",".join(done)


def demo(engine: tr.Engine) -> dict[str, str]:
    runs = {}
    for number in range(3):
        runs[f"WCP-40 B, C, D, run {number + 1}"] = engine.start(interleaved, ["B", "C", "D"], {})
    for number in range(3):
        runs[f"WCP-17 B, C, D with B before D, run {number + 1}"] = engine.start(
            interleaved, ["B", "C", "D"], {"D": ["B"]}
        )
    for run_id in runs.values():
        engine.result(run_id, timeout=10)
    return runs


if __name__ == "__main__":
    kit.main(demo)
