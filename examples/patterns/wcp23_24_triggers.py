"""WCP-23 Transient Trigger and WCP-24 Persistent Trigger.

A persistent trigger is kept until a task takes it; a transient one is lost unless a task
is waiting for it at that moment. Treadle's signals are persistent: a signal sent before
the run reaches its ``ctx.wait_for`` is stored and delivered when it does (WCP-24 as is).

For a transient trigger the workflow throws away what arrived before it got there: on
reaching B it takes every signal S already stored, with ``ctx.wait_for("S", timeout=0)``
(which returns a stored signal at once and otherwise times out), and only then waits for a
fresh one. A signal that arrives between the clearing and the wait counts as fresh.

Run it with ``python examples/patterns/wcp23_24_triggers.py``.
"""

from __future__ import annotations

import pattern_kit as kit
from pattern_kit import A, B

import treadle as tr


@tr.workflow(name="wcp24.persistent")
async def persistent(ctx: tr.Context) -> str:
    await ctx.step(A, 2)
    trigger = await ctx.wait_for("S")  # the signal sent while A ran is waiting here
    return await ctx.step(B, 0, trigger)


@tr.workflow(name="wcp23.transient")
async def transient(ctx: tr.Context) -> dict[str, object]:
    await ctx.step(A, 2)
    discarded = []
    while True:  # B is reached: signals that came before are lost
        try:
            discarded.append(await ctx.wait_for("S", timeout=0))
        except tr.WaitTimeoutError:
            break
    trigger = await ctx.wait_for("S")
    return {"B": await ctx.step(B, 0, trigger), "discarded": discarded}


def waiting_at_b(engine: tr.Engine, run_id: str) -> bool:
    cleared = any(e.kind is tr.EventKind.WAIT_TIMED_OUT for e in engine.history(run_id))
    return cleared and engine.get(run_id).status is tr.RunStatus.WAITING


def demo(engine: tr.Engine) -> dict[str, str]:
    kept = engine.start(persistent)
    engine.signal(kept, "S", "early")
    lost = engine.start(transient)
    engine.signal(lost, "S", "early")
    kit.wait_until(lambda: waiting_at_b(engine, lost))
    print("transient: B is still waiting although S was sent; sending S again")
    engine.signal(lost, "S", "fresh")
    for run_id in (kept, lost):
        engine.result(run_id, timeout=10)
    return {"WCP-24 persistent, S sent before B": kept, "WCP-23 transient, likewise": lost}


if __name__ == "__main__":
    kit.main(demo)
