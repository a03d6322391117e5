"""WCP-26 Cancel Multiple Instance Activity and WCP-27 Complete Multiple Instance Activity.

The instances of B run as child runs of one activity run, itself a child of the case.

WCP-26: ``engine.cancel(activity_id)`` withdraws the activity and, with it, every instance;
the case catches ``tr.RunCancelledError`` and goes on to C without waiting for any B.

WCP-27: to force the activity to complete, the instances still running are cancelled one by
one (``force_complete`` below); the activity takes a cancelled instance as withdrawn rather
than failed, completes with the results it has, and C starts. There is no single call for
"complete now": the activity's code decides what a withdrawn instance means.

Run it with ``python examples/patterns/wcp26_27_cancel_complete_mi.py``.
"""

from __future__ import annotations

from typing import Any

import pattern_kit as kit
from pattern_kit import B, C

import treadle as tr


@tr.workflow(name="wcp26.instance")
async def instance(ctx: tr.Context, number: int, units: float) -> str:
    return await ctx.step(B, units, number)


@tr.workflow(name="wcp26.activity")
async def activity(ctx: tr.Context, durations: list[float]) -> list[Any]:
    async def one(number: int, units: float) -> Any:
        try:
            return await ctx.child(instance, number, units)
        except tr.RunCancelledError:
            return None  # withdrawn

    return await ctx.gather(*(one(n, units) for n, units in enumerate(durations)))


@tr.workflow(name="wcp26.case")
async def case(ctx: tr.Context, durations: list[float]) -> dict[str, Any]:
    try:
        done = await ctx.child(activity, durations)
    except tr.RunCancelledError:
        done = "cancelled"
    return {"B": done, "C": await ctx.step(C)}


def activity_of(engine: tr.Engine, run_id: str) -> str:
    kit.wait_until(lambda: kit.children(engine, run_id))
    return kit.children(engine, run_id)[0].id


def force_complete(engine: tr.Engine, activity_id: str) -> None:
    """Withdraw the instances that are still going; the activity then completes."""
    for child in kit.children(engine, activity_id):
        if not child.status.finished:
            engine.cancel(child.id)


def demo(engine: tr.Engine) -> dict[str, str]:
    cancelled = engine.start(case, [5] * 5)
    activity_id = activity_of(engine, cancelled)
    kit.wait_until(
        lambda: sum((c.id, "B") in kit.STARTED for c in kit.children(engine, activity_id)) == 5
    )
    engine.cancel(activity_id)  # WCP-26: cancel B, all 5 instances

    completed = engine.start(case, [1, 1, 8, 8, 8])
    activity_id = activity_of(engine, completed)
    kit.wait_until(lambda: sum(c.status.finished for c in kit.children(engine, activity_id)) == 2)
    force_complete(engine, activity_id)  # WCP-27: 2 done, the other 3 withdrawn
    for run_id in (cancelled, completed):
        engine.result(run_id, timeout=10)
    return {"WCP-26, 5 B cancelled": cancelled, "WCP-27, 5 B, forced after 2": completed}


if __name__ == "__main__":
    kit.main(demo)
