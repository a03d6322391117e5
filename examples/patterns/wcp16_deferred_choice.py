"""WCP-16 Deferred Choice: the environment chooses the branch, by what happens first.

Event E1 leads to B, event E2 to C; whichever arrives first wins and the other option is
withdrawn. ``ctx.wait_for_any(["E1", "E2"])`` takes exactly one of the two signals, the one
that arrived first, and says which; a later one stays unused in the history (or is refused
once the run has ended). With a timeout the deadline is a third option: the wait raises
``tr.WaitTimeoutError`` when the timer comes first.

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
        event, _ = await ctx.wait_for_any(["E1", "E2"], timeout=DEADLINE)
    except tr.WaitTimeoutError:
        return await ctx.step(D)  # nobody acted in time: the third option
    if event == "E1":
        return await ctx.step(B)
    return await ctx.step(C)


def demo(engine: tr.Engine) -> dict[str, str]:
    chosen = engine.start(deferred_choice)
    engine.signal(chosen, "E2")
    try:
        engine.signal(chosen, "E1")  # too late: E2 came first
    except tr.RunFinishedError:
        pass  # the run has already taken E2 and finished: E1 is refused
    silent = engine.start(deferred_choice)
    for run_id in (chosen, silent):
        engine.result(run_id, timeout=10)
    return {"E2, then E1": chosen, "no event before the deadline": silent}


if __name__ == "__main__":
    kit.main(demo)
