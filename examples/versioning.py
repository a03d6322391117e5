"""Changing a workflow's code under running runs, with ``ctx.patched``.

Version 1 of ``onboarding`` sends a welcome mail and waits for the account to be activated.
Then the team adds a CRM sync before the wait and deploys. Runs that are already waiting
replay the new code from the top; had the new step simply been inserted, their replay would
meet a call the history does not hold. Guarding the change with ``ctx.patched("crm-sync")``
keeps them on the old path (False: they had passed that point), while new runs take the new
path (True, and recorded, so it stays True on every replay).

The two deployments are simulated with two registries, one per code version, on one database.
Run it with ``python examples/versioning.py``.
"""

from __future__ import annotations

import os
import time

import treadle as tr

DATABASE = "versioning.db"

before_deploy = tr.Registry()
after_deploy = tr.Registry()


@tr.step
def send_welcome(user: str) -> str:
    print(f"  [step] welcome mail to {user}")
    return "welcomed"


@tr.step
def sync_crm(user: str) -> str:
    print(f"  [step] {user} added to the CRM")
    return "synced"


@tr.workflow(name="onboarding", registry=before_deploy)
async def onboarding_v1(ctx: tr.Context, user: str) -> list[str]:
    done = [await ctx.step(send_welcome, user)]
    await ctx.wait_for("activated")
    return [*done, "activated"]


@tr.workflow(name="onboarding", registry=after_deploy)
async def onboarding_v2(ctx: tr.Context, user: str) -> list[str]:
    done = [await ctx.step(send_welcome, user)]
    if ctx.patched("crm-sync"):
        done.append(await ctx.step(sync_crm, user))
    await ctx.wait_for("activated")
    return [*done, "activated"]


def wait_until_waiting(engine: tr.Engine, run_id: str) -> None:
    while engine.get(run_id).status is not tr.RunStatus.WAITING:
        time.sleep(0.05)


def main() -> None:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(DATABASE + suffix):
            os.remove(DATABASE + suffix)
    url = f"sqlite:///{DATABASE}"

    print("before the deploy:")
    with tr.Engine(url, registry_=before_deploy) as engine, engine.worker():
        old_run = engine.start("onboarding", "ada")
        wait_until_waiting(engine, old_run)

    print("after the deploy:")
    with tr.Engine(url, registry_=after_deploy) as engine, engine.worker():
        new_run = engine.start("onboarding", "bob")
        wait_until_waiting(engine, new_run)
        for run_id in (old_run, new_run):
            engine.signal(run_id, "activated")
        old, new = engine.result(old_run, timeout=30), engine.result(new_run, timeout=30)
        print("run started before the deploy:", old)
        print("run started after the deploy: ", new)
    assert old == ["welcomed", "activated"], f"the old run took the new code path: {old}"
    assert new == ["welcomed", "synced", "activated"], new


if __name__ == "__main__":
    main()
