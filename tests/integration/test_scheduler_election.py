"""The elected scheduler: of all the workers on a database exactly one fires timers and
deadlines; when it stops, is killed or is paused past its lease, another takes over within
seconds, and a leader whose term is over fires nothing.

Runs on SQLite and PostgreSQL. The worker processes of the kill and pause tests load this
file as their ``--app``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import treadle as tr
from treadle.runtime import leader, ops, scheduler
from treadle.store import urls
from treadle.store.protocol import Store

# A killed leader's lease expires at most LEASE_SECONDS after its last renewal, and a
# survivor bids every CAMPAIGN_INTERVAL; the rest is slack for a loaded machine.
TAKEOVER_BOUND = leader.LEASE_SECONDS + leader.CAMPAIGN_INTERVAL + 2.0


@tr.workflow
async def election_nap(ctx: tr.Context, seconds: float) -> str:
    await ctx.sleep(seconds)
    return "rested"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path / 'election.db'}"


@pytest.fixture
def store(engine: tr.Engine) -> Iterator[Store]:
    """A connection of the test's own, to look at the lease and act as a would-be leader."""
    store = urls.open_store(engine.database)
    yield store
    store.close()


def lease_of(store: Store) -> dict[str, Any] | None:
    with store.snapshot() as tx:
        return leader.current(tx)


def holder_of(store: Store) -> str | None:
    row = lease_of(store)
    return None if row is None else row["holder"]


def until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    give_up = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > give_up:
            pytest.fail(f"gave up after {timeout} s waiting for {what}")
        time.sleep(0.02)
    return value


def fired(engine: tr.Engine, run_id: str) -> int:
    return sum(e.kind is tr.EventKind.TIMER_FIRED for e in engine.history(run_id))


# -- embedded workers ----------------------------------------------------------------------


def test_of_two_workers_exactly_one_leads_and_keeps_the_lease(
    engine: tr.Engine, store: Store, start_worker: Any
) -> None:
    workers = {start_worker().worker.id, start_worker().worker.id}
    holder = until(lambda: holder_of(store), 5, "a worker to lead")
    assert holder in workers
    first = lease_of(store)
    assert first is not None
    time.sleep(leader.RENEW_INTERVAL * 2.5)
    later = lease_of(store)
    assert later is not None
    # The same term, renewed: no flapping between the two.
    assert (later["holder"], later["epoch"]) == (first["holder"], first["epoch"])
    assert later["expires_at"] > first["expires_at"]
    assert engine.result(engine.start(election_nap, 0.1), timeout=10) == "rested"


def test_a_stopping_leader_hands_over_at_once(
    engine: tr.Engine, store: Store, start_worker: Any
) -> None:
    workers = [start_worker(), start_worker()]
    holder = until(lambda: holder_of(store), 5, "a worker to lead")
    leading = next(w for w in workers if w.worker.id == holder)
    other = next(w for w in workers if w is not leading)
    epoch = lease_of(store)["epoch"]  # type: ignore[index]
    leading.stop(timeout=5)
    stopped = time.monotonic()
    # Handed back, not left to expire.
    assert holder_of(store) != holder
    run_id = engine.start(election_nap, 0.2)
    assert engine.result(run_id, timeout=10) == "rested"
    until(lambda: holder_of(store) == other.worker.id, 5, "the other worker to lead")
    # The other took it within a bid or two, well before the lease would have expired.
    assert time.monotonic() - stopped < 3 * leader.CAMPAIGN_INTERVAL
    assert lease_of(store)["epoch"] == epoch + 1  # type: ignore[index]
    assert fired(engine, run_id) == 1


def test_a_leader_whose_term_is_over_fires_nothing(engine: tr.Engine, store: Store) -> None:
    """The epoch check: a leader that lost its lease, or let it expire, cannot fire."""
    run_id = engine.start(election_nap, 0.3)
    with engine.worker(lease_seconds=2.0, poll_interval=0.05):
        until(lambda: engine.get(run_id).status is tr.RunStatus.WAITING, 10, "the run to sleep")
    # No worker runs now (the last one handed the lease back): two would-be leaders act on
    # the database directly, with a lease of a tenth of a second.
    successor = urls.open_store(engine.database)
    try:
        with store.transaction() as tx:
            old = leader.acquire(tx, leader.SCHEDULER, "old", time.time(), 0.1)
        assert old is not None
        time.sleep(0.4)  # the timer is due, and the old term expired
        with store.transaction() as tx:
            assert scheduler.fenced_tick(tx, old, time.time()) is None
        assert fired(engine, run_id) == 0
        with successor.transaction() as tx:
            new = leader.acquire(tx, leader.SCHEDULER, "new", time.time(), 5.0)
        assert new is not None and new.epoch == old.epoch + 1
        with store.transaction() as tx:
            # Renewing is no way back once another holder took the lease.
            assert not leader.renew(tx, old, time.time(), 5.0)
            assert scheduler.fenced_tick(tx, old, time.time()) is None
        assert fired(engine, run_id) == 0
        with successor.transaction() as tx:
            outcome = scheduler.fenced_tick(tx, new, time.time())
        assert outcome is not None and outcome[0] == 1
        assert fired(engine, run_id) == 1
        with successor.transaction() as tx:
            assert leader.release(tx, new)
    finally:
        successor.close()
    with engine.worker(lease_seconds=2.0, poll_interval=0.05):
        assert engine.result(run_id, timeout=10) == "rested"
    assert fired(engine, run_id) == 1


def test_two_leaders_ticking_at_once_fire_each_timer_once_and_never_wait(
    postgres_url: str,
) -> None:
    """PostgreSQL: a leader paused in the middle of a tick holds the timers it took; the
    leader that took its lease over skips them rather than wait, and nothing fires twice.
    (SQLite has one writer: two ticks never overlap there.)"""
    with tr.Engine(postgres_url) as engine:
        run_ids = [engine.start(election_nap, 0.2) for _ in range(3)]
        with engine.worker(lease_seconds=2.0, poll_interval=0.05):
            for run_id in run_ids:
                until(lambda r=run_id: engine.get(r).status is tr.RunStatus.WAITING, 10, "naps")
        time.sleep(0.3)  # every timer is due; no worker runs, so none has fired
        first_leader, successor = urls.open_store(postgres_url), urls.open_store(postgres_url)
        try:
            with first_leader.transaction() as paused:
                # The first leader takes one timer and stops there, its transaction open.
                (taken,) = paused.fetch_all("due_timers", {"now": time.time(), "limit": 1})
                assert ops.fire_timer(paused, taken["run_id"], taken["position"], time.time())
                began = time.monotonic()
                with successor.transaction() as tx:
                    changed, _ = scheduler.tick(tx, time.time())
                assert time.monotonic() - began < 1.0
                assert changed == 2  # the two timers the paused tick had not taken
            assert sorted(fired(engine, run_id) for run_id in run_ids) == [1, 1, 1]
        finally:
            first_leader.close()
            successor.close()
        with engine.worker(lease_seconds=2.0, poll_interval=0.05):
            assert [engine.result(run_id, timeout=10) for run_id in run_ids] == ["rested"] * 3
        assert [fired(engine, run_id) for run_id in run_ids] == [1, 1, 1]


# -- worker processes ----------------------------------------------------------------------


class Processes:
    """``treadle worker`` processes serving this file's workflows."""

    def __init__(self, folder: Path, database_url: str) -> None:
        self._folder = folder
        self._url = database_url
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = self._folder / f"worker-{len(self.processes)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "treadle",
                    "worker",
                    "--app",
                    __file__,
                    "--database",
                    self._url,
                    "--lease-seconds",
                    "2",
                    "--poll-interval",
                    "0.1",
                    "--grace-seconds",
                    "1",
                ],
                cwd=self._folder,
                stdout=out,
                stderr=out,
            )
        self.processes.append(process)
        return process

    def output(self, process: subprocess.Popen[bytes]) -> str:
        index = self.processes.index(process)
        return (self._folder / f"worker-{index}.log").read_text(errors="replace")

    def by_holder(self, holder: str) -> subprocess.Popen[bytes]:
        pid = int(holder.split(":")[1])  # worker ids are host:pid:random
        return next(p for p in self.processes if p.pid == pid)

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)  # a paused one cannot die otherwise
                process.kill()
            process.wait(10)


@pytest.fixture
def processes(tmp_path: Path, engine: tr.Engine) -> Iterator[Processes]:
    processes = Processes(tmp_path, engine.database)
    try:
        yield processes
    finally:
        processes.close()


def two_workers_and_their_leader(
    processes: Processes, store: Store
) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]:
    workers = [processes.start(), processes.start()]
    for process in workers:
        until(lambda p=process: " started: " in processes.output(p), 30, "a worker to start")
    leading = processes.by_holder(until(lambda: holder_of(store), 10, "a worker to lead"))
    return leading, next(p for p in workers if p is not leading)


def test_a_killed_leader_is_replaced_within_seconds(
    engine: tr.Engine, store: Store, processes: Processes
) -> None:
    leading, other = two_workers_and_their_leader(processes, store)
    leading.send_signal(signal.SIGKILL)
    leading.wait(10)
    killed = time.monotonic()
    run_id = engine.start(election_nap, 0.1)
    assert engine.result(run_id, timeout=TAKEOVER_BOUND + 5) == "rested"
    done = time.monotonic() - killed
    successor = processes.by_holder(until(lambda: holder_of(store), 1, "a leader"))
    assert successor is other
    assert done < TAKEOVER_BOUND, f"the timer fired {done:.1f} s after the leader was killed"
    assert fired(engine, run_id) == 1
    assert "leads the scheduler" in processes.output(other)
    print(f"election: a killed leader was replaced and its timer fired after {done:.1f} s")


def test_a_paused_leader_is_replaced_and_steps_down_when_it_resumes(
    engine: tr.Engine, store: Store, processes: Processes
) -> None:
    leading, other = two_workers_and_their_leader(processes, store)
    leading.send_signal(signal.SIGSTOP)
    try:
        run_id = engine.start(election_nap, 0.1)
        assert engine.result(run_id, timeout=TAKEOVER_BOUND + 5) == "rested"
        assert processes.by_holder(holder_of(store) or "?:0") is other
    finally:
        leading.send_signal(signal.SIGCONT)
    until(
        lambda: "no longer leads the scheduler" in processes.output(leading),
        5,
        "the resumed ex-leader to step down",
    )
    # It stays a candidate: the lease is the other's, and a new timer fires once.
    second = engine.start(election_nap, 0.1)
    assert engine.result(second, timeout=10) == "rested"
    assert processes.by_holder(holder_of(store) or "?:0") is other
    assert fired(engine, run_id) == 1 and fired(engine, second) == 1
    for process in (leading, other):
        assert "Traceback" not in processes.output(process), processes.output(process)
