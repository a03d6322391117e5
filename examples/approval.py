"""Human approval: a workflow waits for a signal, with a deadline, and acts on the decision.

Two expense claims are filed. Each run records the claim, then waits in
``ctx.wait_for("decision", timeout=...)``: the run is suspended, holding no worker, until the
signal arrives. The main thread plays the manager and approves the first claim with
``engine.signal``; nobody answers the second, so its wait times out with
``tr.WaitTimeoutError`` and the workflow escalates it.

Run it with ``python examples/approval.py``.
"""

from __future__ import annotations

import os
import time
from typing import Any

import treadle as tr

DATABASE = "approval.db"
DEADLINE_SECONDS = 1.5


@tr.step
def record_claim(employee: str, amount: int) -> str:
    print(f"  [step] recorded a claim of {amount} EUR by {employee}")
    return f"claim-{employee}-{amount}"


@tr.step
def pay(claim: str, approver: str) -> str:
    print(f"  [step] paid {claim}, approved by {approver}")
    return "paid"


@tr.step
def escalate(claim: str) -> str:
    print(f"  [step] nobody decided on {claim} in time: escalated to finance")
    return "escalated"


@tr.workflow
async def expense_claim(ctx: tr.Context, employee: str, amount: int) -> str:
    claim = await ctx.step(record_claim, employee, amount)
    try:
        decision: dict[str, Any] = await ctx.wait_for("decision", timeout=DEADLINE_SECONDS)
    except tr.WaitTimeoutError:
        return await ctx.step(escalate, claim)
    if not decision["approved"]:
        return f"rejected by {decision['by']}"
    return await ctx.step(pay, claim, decision["by"])


def wait_until_waiting(engine: tr.Engine, run_id: str) -> None:
    while engine.get(run_id).status is not tr.RunStatus.WAITING:
        time.sleep(0.05)


def main() -> None:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(DATABASE + suffix):
            os.remove(DATABASE + suffix)
    with tr.Engine(f"sqlite:///{DATABASE}") as engine, engine.worker():
        approved = engine.start(expense_claim, "ada", 120)
        forgotten = engine.start(expense_claim, "bob", 4500)
        wait_until_waiting(engine, approved)
        print(f"claim by ada is {engine.get(approved).status}; the manager approves it")
        engine.signal(approved, "decision", {"approved": True, "by": "grace"})
        print("ada's claim:", engine.result(approved, timeout=30))
        print("bob's claim:", engine.result(forgotten, timeout=30))
        waits = [e.kind for e in engine.history(approved) if "signal" in e.kind]
        print("ada's history of the wait:", ", ".join(waits))


if __name__ == "__main__":
    main()
