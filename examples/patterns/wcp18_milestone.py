"""WCP-18 Milestone: a task may run only while the case is at a given state.

Requests for B are honoured only between "milestone reached" and the milestone's expiry,
three time units later; before and after, they are refused. The case waits with
``ctx.wait_for_any`` for whichever of its events comes next ("milestone", "request_B",
"close"); the reached milestone is a variable, and its expiry is the wait's timeout (a
durable timer), so the loop is the state machine.

Run it with ``python examples/patterns/wcp18_milestone.py``.
"""

from __future__ import annotations

import pattern_kit as kit
from pattern_kit import B

import treadle as tr

LIFETIME = 3 * kit.UNIT


@tr.step(name="refuse_B")
def refuse_b(why: str) -> str:
    return f"B refused: {why}"


@tr.workflow(name="wcp18.milestone")
async def milestone(ctx: tr.Context) -> list[str]:
    state, outcomes = "before", []
    expires_at = 0.0
    while True:
        try:
            timeout = max(expires_at - ctx.now(), 0) if state == "reached" else None
            event, _ = await ctx.wait_for_any(["milestone", "request_B", "close"], timeout)
        except tr.WaitTimeoutError:
            state = "expired"
            continue
        if event == "close":
            return outcomes
        if event == "milestone" and state == "before":
            state, expires_at = "reached", ctx.now() + LIFETIME
        elif event == "request_B" and state == "reached":
            outcomes.append(await ctx.step(B))
        elif event == "request_B":
            outcomes.append(await ctx.step(refuse_b, f"the milestone is {state}"))


def expired(engine: tr.Engine, run_id: str) -> bool:
    return any(e.kind is tr.EventKind.WAIT_TIMED_OUT for e in engine.history(run_id))


def demo(engine: tr.Engine) -> dict[str, str]:
    run_id = engine.start(milestone)
    engine.signal(run_id, "request_B")  # too early
    engine.signal(run_id, "milestone")
    engine.signal(run_id, "request_B")  # in time
    kit.wait_until(lambda: expired(engine, run_id))
    engine.signal(run_id, "request_B")  # too late
    engine.signal(run_id, "close")
    engine.result(run_id, timeout=10)
    return {"B requested before, during and after the milestone": run_id}


if __name__ == "__main__":
    kit.main(demo)
