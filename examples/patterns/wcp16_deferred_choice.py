"""WCP-16 Deferred Choice: the environment chooses the branch, by what happens first.

Event E1 leads to B, event E2 to C; whichever arrives first wins and the other option is
withdrawn. ``ctx.wait_for`` waits for one signal name, so both events travel under one name,
"event", with the event in the payload: the first signal taken decides, and a later one stays
unused in the history. A choice between an event and a deadline is direct:
``ctx.wait_for(..., timeout=...)`` raises ``tr.WaitTimeoutError`` when the timer comes first.

Run it with ``python examples/patterns/wcp16_deferred_choice.py``.
"""

from __future__ import annotations

import pattern_kit as kit
from pattern_kit import B, C, D

import treadle as tr

DEADLINE = 3 * kit.UNIT


@tr.workflow(name="wcp16.deferred_choice")
async def deferred_choice(ctx: tr.Context) -> str:
    try:
        event = await ctx.wait_for("event", timeout=DEADLINE)
    except tr.WaitTimeoutError:
        return await ctx.step(D)  # nobody acted in time: the third option
    if event == "E1":
        return await ctx.step(B)
    return await ctx.step(C)


def demo(engine: tr.Engine) -> dict[str, str]:
    chosen = engine.start(deferred_choice)
    engine.signal(chosen, "event", "E2")
    try:
        engine.signal(chosen, "event", "E1")  # too late: E2 came first
    except tr.RunFinishedError:
        pass  # the run has already taken E2 and finished: E1 is refused
    silent = engine.start(deferred_choice)
    for run_id in (chosen, silent):
        engine.result(run_id, timeout=10)
    return {"E2, then E1": chosen, "no event before the deadline": silent}


if __name__ == "__main__":
    kit.main(demo)
