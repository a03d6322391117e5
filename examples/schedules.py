"""Cron schedules: a workflow started at every fire time of a cron expression.

A schedule names a workflow, its arguments and a cron expression (5 fields, or 6 with
seconds first) read in a time zone. Every worker runs the scheduler, but only the elected
one fires schedules; each fire starts one run, whose id follows from the schedule and the
fire time, so no fire ever starts two runs. Here a schedule fires every second; the script
pauses it, resumes it, and deletes it. The same from a shell:

    treadle schedule add heartbeat examples/schedules.py:heartbeat '* * * * * *' '["eu"]'
    treadle schedule list

Run it with ``python examples/schedules.py``.
"""

from __future__ import annotations

import os
import time

import treadle as tr

DATABASE = "schedules.db"


@tr.step
def check_region(region: str) -> str:
    return f"{region}: healthy"


@tr.workflow
async def heartbeat(ctx: tr.Context, region: str) -> str:
    return await ctx.step(check_region, region)


def main() -> None:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(DATABASE + suffix):
            os.remove(DATABASE + suffix)
    with tr.Engine(f"sqlite:///{DATABASE}") as engine, engine.worker():
        schedule = engine.schedule("heartbeat", heartbeat, "* * * * * *", args=["eu"])
        print(
            f"schedule {schedule.id}: {schedule.cron} ({schedule.timezone}), "
            f"catch_up={schedule.catch_up}"
        )
        while len(engine.list(workflow="heartbeat").runs) < 3:
            time.sleep(0.1)
        engine.pause_schedule("heartbeat")
        runs = engine.list(workflow="heartbeat").runs
        results = [engine.result(run.id, timeout=10) for run in runs]
        print(f"runs started once a second, each returned {sorted(set(results))}")
        paused_at = len(engine.list(workflow="heartbeat").runs)
        time.sleep(1.5)
        print(f"while paused: {len(engine.list(workflow='heartbeat').runs) - paused_at} new runs")
        resumed = engine.resume_schedule("heartbeat")
        assert resumed.next_fire_at is not None and resumed.next_fire_at <= time.time() + 1
        print("resumed: it fires again from the next second on (no catch-up after a pause)")
        last = engine.get_schedule("heartbeat")
        print(f"last run started: {last.last_run_id}")
        engine.delete_schedule("heartbeat")
        print(f"schedules left after delete: {len(engine.list_schedules())}")


if __name__ == "__main__":
    main()
