"""Cron schedules: saved and checked by the engine, fired by the elected scheduler once per
fire, on time, across a killed leader, with each catch-up mode after a scheduler absence.

Runs on SQLite and PostgreSQL. Catch-up is tested by calling the scheduler's tick with a
later clock, so no test waits for minutes to pass. The worker processes of the kill test
load this file as their ``--app``.
"""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import treadle as tr
from treadle.runtime import leader, scheduler, schedules
from treadle.store import urls
from treadle.store.protocol import Store

# A killed leader is replaced after at most its lease plus a bid; the rest is slack.
TAKEOVER_BOUND = leader.LEASE_SECONDS + leader.CAMPAIGN_INTERVAL + 2.0
ON_TIME = 1.0  # how late a fire's run may be created on a loaded 2-core machine
T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC, a fixed "now" for catch-up tests


@tr.workflow
async def beat(ctx: tr.Context, label: str, times: int = 1) -> str:
    return label * times


@tr.workflow(timeout=60)
def bounded_beat(ctx: tr.SyncContext) -> str:
    return "ok"


@pytest.fixture
def store(engine: tr.Engine) -> Iterator[Store]:
    store = urls.open_store(engine.database)
    yield store
    store.close()


def runs_of(engine: tr.Engine, workflow: str = "beat") -> list[tr.RunInfo]:
    return engine.list(workflow=workflow, limit=1000).runs


def tick(store: Store, now: float) -> int:
    """One scheduler tick at ``now``, as the leader makes it (the lease is checked apart)."""
    with store.transaction() as tx:
        changed, _ = scheduler.tick(tx, now)
    return changed


def fires_between(first: float, last: float) -> list[float]:
    return [float(second) for second in range(math.ceil(first), math.floor(last) + 1)]


def until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    give_up = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > give_up:
            pytest.fail(f"gave up after {timeout} s waiting for {what}")
        time.sleep(0.02)
    return value


# -- saving and checking -------------------------------------------------------------------


def test_a_saved_schedule_reads_back_with_its_next_fire(engine: tr.Engine) -> None:
    before = time.time()
    saved = engine.schedule(
        "hourly", beat, "0 * * * *", args=["a"], kwargs={"times": 2}, queue="reports"
    )
    assert saved == engine.get_schedule("hourly") == engine.list_schedules()[0]
    assert (saved.workflow, saved.version, saved.queue) == ("beat", "1", "reports")
    assert (saved.args, saved.kwargs) == (["a"], {"times": 2})
    assert saved.timezone == "UTC" and saved.catch_up is schedules.CatchUp.LATEST
    assert saved.next_fire_at is not None and saved.next_fire_at % 3600 == 0
    assert before < saved.next_fire_at <= before + 3600
    assert (saved.last_fire_at, saved.last_run_id, saved.paused) == (None, None, False)


def test_a_time_zone_moves_the_fire_times(engine: tr.Engine) -> None:
    paris = engine.schedule("paris", beat, "0 9 * * *", args=["x"], timezone="Europe/Paris")
    utc = engine.schedule("utc", beat, "0 9 * * *", args=["x"])
    assert paris.next_fire_at is not None and utc.next_fire_at is not None
    # 9:00 in Paris is 7:00 or 8:00 UTC, depending on daylight saving time.
    assert (utc.next_fire_at - paris.next_fire_at) % 86400 in (3600.0, 7200.0)


def test_saving_again_updates_and_keeps_the_next_fire_unless_the_timing_changed(
    engine: tr.Engine,
) -> None:
    first = engine.schedule("s", beat, "0 3 * * *", args=["a"])
    second = engine.schedule("s", beat, "0 3 * * *", args=["b"], catch_up="all")
    assert second.args == ["b"] and second.catch_up is schedules.CatchUp.ALL
    assert second.next_fire_at == first.next_fire_at and second.created_at == first.created_at
    third = engine.schedule("s", beat, "30 * * * *", args=["b"])
    assert third.next_fire_at is not None and third.next_fire_at % 3600 == 1800
    assert len(engine.list_schedules()) == 1


BAD_CALLS: list[tuple[Callable[[tr.Engine], Any], str]] = [
    (lambda e: e.schedule("x", beat, "* * *", args=["a"]), "has 3 fields"),
    (lambda e: e.schedule("x", beat, "* * * * * * *", args=["a"]), "has 7 fields"),
    (lambda e: e.schedule("x", beat, "61 * * * *", args=["a"]), "not a valid cron"),
    (lambda e: e.schedule("x", beat, "0 0 31 2 *", args=["a"]), "never fires"),
    (lambda e: e.schedule("x", beat, "", args=["a"]), "cron expression is needed"),
    (lambda e: e.schedule("x", "nope", "* * * * *"), "no workflow is registered as 'nope'"),
    (lambda e: e.schedule("x", print, "* * * * *"), "is not a workflow"),
    (lambda e: e.schedule("x", beat, "* * * * *"), "missing a required argument: 'label'"),
    (lambda e: e.schedule("x", beat, "* * * * *", args=[1, 2, 3]), "cannot take these"),
    (lambda e: e.schedule("x", beat, "* * * * *", args="ab"), "args must be a list"),
    (lambda e: e.schedule("x", beat, "* * * * *", args=[{1}]), "not JSON"),
    (
        lambda e: e.schedule("x", beat, "* * * * *", args=["a"], timezone="Mars/Base"),
        "unknown time zone 'Mars/Base'",
    ),
    (
        lambda e: e.schedule("x", beat, "* * * * *", args=["a"], catch_up="some"),
        "catch_up must be one of 'latest', 'all', 'none'",
    ),
    (lambda e: e.schedule("x", beat, "* * * * *", args=["a"], queue=""), "queue must be"),
    (lambda e: e.schedule("a b", beat, "* * * * *", args=["a"]), "no white space"),
    (lambda e: e.schedule("", beat, "* * * * *", args=["a"]), "non-empty string"),
    (lambda e: e.schedule("x" * 101, beat, "* * * * *", args=["a"]), "at most 100"),
    (lambda e: e.get_schedule("missing"), "no schedule has the id 'missing'"),
    (lambda e: e.pause_schedule("missing"), "no schedule has the id 'missing'"),
    (lambda e: e.resume_schedule("missing"), "no schedule has the id 'missing'"),
    (lambda e: e.delete_schedule("missing"), "no schedule has the id 'missing'"),
]


def test_bad_schedules_are_refused_and_nothing_is_stored(engine: tr.Engine) -> None:
    for call, message in BAD_CALLS:
        with pytest.raises(tr.UsageError) as raised:
            call(engine)
        assert message in str(raised.value), (message, str(raised.value))
    assert engine.list_schedules() == []


# -- firing --------------------------------------------------------------------------------


def test_a_schedule_every_second_starts_its_runs_on_time(
    engine: tr.Engine, start_worker: Any
) -> None:
    start_worker()
    created = time.time()
    engine.schedule("every-second", beat, "* * * * * *", args=["tick"])
    until(lambda: len(runs_of(engine)) >= 3, 10, "three fires")
    engine.pause_schedule("every-second")
    runs = sorted(runs_of(engine), key=lambda run: run.created_at)
    fires = fires_between(created, runs[-1].created_at)
    assert [run.id for run in runs] == [schedules.run_id_for("every-second", f) for f in fires]
    for fire_at, run in zip(fires, runs, strict=True):
        assert fire_at <= run.created_at < fire_at + ON_TIME, (fire_at, run.created_at)
        assert engine.result(run.id, timeout=10) == "tick"
    last = engine.get_schedule("every-second")
    assert (last.last_fire_at, last.last_run_id) == (fires[-1], runs[-1].id)


def test_two_workers_start_one_run_per_fire(engine: tr.Engine, start_worker: Any) -> None:
    start_worker()
    start_worker()
    created = time.time()
    engine.schedule("twice", beat, "* * * * * *", args=["x"])
    until(lambda: len(runs_of(engine)) >= 3, 10, "three fires")
    engine.delete_schedule("twice")
    runs = runs_of(engine)
    fires = fires_between(created, max(run.created_at for run in runs))
    assert sorted(run.id for run in runs) == sorted(schedules.run_id_for("twice", f) for f in fires)
    assert {engine.result(run.id, timeout=10) for run in runs} == {"x"}


def test_a_fire_ticked_again_starts_no_second_run(engine: tr.Engine, store: Store) -> None:
    clocked = tr.Engine(engine.database, clock=lambda: T0)
    try:
        clocked.schedule("again", beat, "* * * * *", args=["a"])
    finally:
        clocked.close()
    assert tick(store, T0 + 61) == 1
    assert tick(store, T0 + 61) == 0  # its next fire moved on with the run it started
    # A tick tried again after its schedule's move was lost (or two schedulers racing over
    # the same fire) finds the run the fire started: the id follows from schedule and time.
    with store.transaction() as tx:
        tx.execute(
            "advance_schedule",
            {"id": "again", "next_fire_at": T0 + 60, "last_fire_at": None, "last_run_id": None},
        )
    assert tick(store, T0 + 61) == 0
    assert [run.id for run in runs_of(engine)] == [schedules.run_id_for("again", T0 + 60)]


def test_a_run_started_by_a_schedule_gets_the_workflows_deadline(
    engine: tr.Engine, store: Store
) -> None:
    clocked = tr.Engine(engine.database, clock=lambda: T0)
    try:
        clocked.schedule("bounded", bounded_beat, "* * * * *")
    finally:
        clocked.close()
    assert tick(store, T0 + 65) == 1
    (run,) = runs_of(engine, "bounded_beat")
    assert run.deadline == T0 + 65 + 60


# -- catch-up ------------------------------------------------------------------------------


def missed_an_hour(engine: tr.Engine, store: Store, catch_up: str, late: float) -> None:
    """A schedule every minute, saved at T0, then no scheduler until ``late`` seconds later."""
    clocked = tr.Engine(engine.database, clock=lambda: T0)
    try:
        clocked.schedule("minutely", beat, "* * * * *", args=["m"], catch_up=catch_up)
    finally:
        clocked.close()
    while tick(store, T0 + late):
        pass  # "all" may take several ticks


@pytest.mark.parametrize(
    ("catch_up", "late", "fired"),
    [
        ("latest", 3630, [T0 + 3600]),
        ("all", 3630, [T0 + 60 * minute for minute in range(1, 61)]),
        ("none", 3630, []),
        # A fire a little late (a fail-over) is not a missed one, even with "none".
        ("none", 62, [T0 + 60]),
        ("latest", 62, [T0 + 60]),
    ],
)
def test_catch_up_after_no_scheduler_ran(
    engine: tr.Engine, store: Store, catch_up: str, late: float, fired: list[float]
) -> None:
    missed_an_hour(engine, store, catch_up, late)
    ids = {run.id for run in runs_of(engine)}
    assert ids == {schedules.run_id_for("minutely", f) for f in fired}
    after = engine.get_schedule("minutely")
    # The schedule goes on from the first fire after the scheduler came back.
    assert after.next_fire_at == (math.floor((T0 + late) / 60) + 1) * 60
    assert after.last_fire_at == (fired[-1] if fired else None)


def test_catch_up_all_is_spread_over_ticks_of_a_bounded_size(
    engine: tr.Engine, store: Store
) -> None:
    clocked = tr.Engine(engine.database, clock=lambda: T0)
    try:
        clocked.schedule("busy", beat, "* * * * * *", args=["s"], catch_up="all")
    finally:
        clocked.close()
    late = T0 + scheduler.BATCH + 50
    assert tick(store, late) == scheduler.BATCH
    assert tick(store, late) == 50
    assert tick(store, late) == 0
    assert len(runs_of(engine)) == scheduler.BATCH + 50


# -- pause, resume, delete -----------------------------------------------------------------


def test_pause_resume_and_delete(engine: tr.Engine, store: Store) -> None:
    engine.schedule("p", beat, "* * * * *", args=["p"])
    paused = engine.pause_schedule("p")
    assert paused.paused and paused.next_fire_at is None
    assert engine.pause_schedule("p") == paused  # pausing twice changes nothing
    assert tick(store, time.time() + 600) == 0  # fires nothing while paused
    # Updating a paused schedule keeps it paused.
    assert engine.schedule("p", beat, "* * * * *", args=["q"]).paused
    before = time.time()
    resumed = engine.resume_schedule("p")
    assert not resumed.paused and resumed.args == ["q"]
    # Fires passed while paused are skipped: it goes on from the next one after now.
    assert resumed.next_fire_at is not None and before < resumed.next_fire_at <= before + 60
    assert tick(store, resumed.next_fire_at) == 1
    (run,) = runs_of(engine)
    engine.delete_schedule("p")
    assert engine.list_schedules() == []
    with pytest.raises(tr.UsageError, match="no schedule has the id 'p'"):
        engine.get_schedule("p")
    assert engine.get(run.id).workflow == "beat"  # the runs it started stay
    assert tick(store, time.time() + 3600) == 0


# -- a killed leader -----------------------------------------------------------------------


def worker_process(folder: Path, database_url: str, index: int) -> subprocess.Popen[bytes]:
    with (folder / f"worker-{index}.log").open("wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "treadle",
                "worker",
                "--app",
                __file__,
                "--database",
                database_url,
                "--lease-seconds",
                "2",
                "--poll-interval",
                "0.1",
                "--grace-seconds",
                "1",
            ],
            cwd=folder,
            stdout=out,
            stderr=out,
        )


def test_a_killed_leader_is_replaced_and_the_schedule_goes_on_without_a_double_fire(
    engine: tr.Engine, store: Store, tmp_path: Path
) -> None:
    processes = [worker_process(tmp_path, engine.database, index) for index in range(2)]
    try:
        for index in range(2):
            until(
                lambda i=index: " started: " in (tmp_path / f"worker-{i}.log").read_text(),
                30,
                "a worker to start",
            )
        created = time.time()
        # "all": the fires due while nobody leads get their runs when the other takes over,
        # so every second has exactly one run.
        engine.schedule("survivor", beat, "* * * * * *", args=["k"], catch_up="all")
        until(lambda: len(runs_of(engine)) >= 2, 10, "fires under the first leader")
        with store.snapshot() as tx:
            holder = leader.current(tx)["holder"]  # type: ignore[index]
        leading = next(p for p in processes if p.pid == int(holder.split(":")[1]))
        leading.send_signal(signal.SIGKILL)
        leading.wait(10)
        killed = time.time()
        until(
            lambda: (
                any(run.created_at > killed + 1 for run in runs_of(engine))
                and engine.get_schedule("survivor").last_fire_at
            ),
            TAKEOVER_BOUND + 5,
            "a fire after the takeover",
        )
        took_over = min(run.created_at for run in runs_of(engine) if run.created_at > killed)
        engine.pause_schedule("survivor")
        runs = runs_of(engine)
        last = engine.get_schedule("survivor").last_fire_at
        assert last is not None
        fires = fires_between(created, last)
        assert sorted(run.id for run in runs) == sorted(
            schedules.run_id_for("survivor", f) for f in fires
        )
        assert took_over - killed < TAKEOVER_BOUND
        for run in runs:
            assert engine.result(run.id, timeout=15) == "k"
        print(f"schedules: a killed leader's schedule fired again after {took_over - killed:.1f} s")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait(10)
