"""WCP-36 Dynamic Partial Join for Multiple Instances.

Instances of B can be added while the task runs, and a completion condition, not the
number of instances, says when the task is done: here, three completed instances. C starts
then; instances still running are left to finish and ignored.

Each instance is a detached child run (``pattern_kit.run_task``). The workflow waits for
whichever comes first, a request to add an instance or the end of one that is running:
``ctx.first(ctx.wait_for("add"), *joins, cancel_children=False)``, where each join is
``ctx.child(kit.run_task, id=child_id)``. It checks the condition after each, and the
instances still running when it holds keep running.

Run it with ``python examples/patterns/wcp36_dynamic_partial_join_mi.py``.
"""

from __future__ import annotations

from typing import Any

import pattern_kit as kit
from pattern_kit import C

import treadle as tr


@tr.workflow(name="wcp36.dynamic_join")
async def dynamic_join(ctx: tr.Context, initial: list[float], enough: int) -> dict[str, Any]:
    ids = [
        await ctx.child(kit.run_task, "B", units, number, wait=False)
        for number, units in enumerate(initial)
    ]
    done: dict[str, str] = {}  # child id: result
    while len(done) < enough:  # the completion condition
        running = [child_id for child_id in ids if child_id not in done]
        [(index, value)] = await ctx.first(
            ctx.wait_for("add"),
            *(ctx.child(kit.run_task, id=child_id) for child_id in running),
            cancel_children=False,
        )
        if index == 0:
            ids.append(await ctx.child(kit.run_task, "B", value, len(ids), wait=False))
        else:
            done[running[index - 1]] = value
    return {"C": await ctx.step(C), "after": list(done.values()), "started": len(ids)}


def demo(engine: tr.Engine) -> dict[str, str]:
    run_id = engine.start(dynamic_join, [4, 8], 3)
    kit.wait_until(lambda: len(kit.children(engine, run_id)) == 2)
    engine.signal(run_id, "add", 1)
    engine.signal(run_id, "add", 2)
    engine.result(run_id, timeout=10)
    kit.wait_finished(engine, [c.id for c in kit.children(engine, run_id)])
    return {"2 B, 2 more added, done when 3 have completed": run_id}


if __name__ == "__main__":
    kit.main(demo)
