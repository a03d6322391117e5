"""Durable timers and deterministic helpers: ``ctx.sleep``, ``ctx.now``, ``ctx.uuid``.

A trial subscription sends a welcome mail, sleeps until the trial ends, then sends a reminder.
``ctx.sleep`` is durable: the run is suspended, no worker holds it, and a timer row in the
database wakes it up, even if every worker was restarted meanwhile.

After the sleep the workflow function runs again from the top (that is how replay works):
recorded steps return their results without running again, and ``ctx.now()`` and
``ctx.uuid()`` return the same values as the first time, so the code takes the same path.
This script counts the executions of the function and of each step to show it.

Run it with ``python examples/timers.py``.
"""

from __future__ import annotations

import collections
import os
import time

import treadle as tr

DATABASE = "timers.db"
TRIAL_SECONDS = 1.0

executions: collections.Counter[str] = collections.Counter()
seen: list[tuple[str, float]] = []


@tr.step
def send_mail(to: str, subject: str) -> str:
    executions[subject] += 1
    print(f"  [step] mail to {to}: {subject}")
    return f"sent {subject}"


@tr.workflow
async def trial(ctx: tr.Context, email: str) -> dict[str, object]:
    executions["workflow function"] += 1
    subscription_id = ctx.uuid()  # the same on every replay of this run
    started = ctx.now()  # the run's logical time, not the wall clock
    seen.append((subscription_id, started))
    await ctx.step(send_mail, email, "welcome")
    await ctx.sleep(TRIAL_SECONDS)
    await ctx.step(send_mail, email, "your trial has ended")
    return {"subscription": subscription_id, "slept": round(ctx.now() - started, 1)}


def main() -> None:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(DATABASE + suffix):
            os.remove(DATABASE + suffix)
    with tr.Engine(f"sqlite:///{DATABASE}") as engine, engine.worker():
        began = time.monotonic()
        run_id = engine.start(trial, "ada@example.com")
        time.sleep(TRIAL_SECONDS / 2)
        print(f"during the trial the run is {engine.get(run_id).status}")
        result = engine.result(run_id, timeout=30)
        print(f"result after {time.monotonic() - began:.1f} s: {result}")
    print("executions:", dict(executions))
    assert len({subscription for subscription, _ in seen}) == 1
    assert len({started for _, started in seen}) == 1
    print(f"ctx.uuid() and ctx.now() were the same in all {len(seen)} executions")


if __name__ == "__main__":
    main()
