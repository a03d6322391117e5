"""Workers: lease takeover, fencing of a lost lease, graceful stop, several workers at once."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import pytest
from side_effects import CALLS, count

import treadle as tr
from treadle.core.history import EventKind
from treadle.runtime import ops
from treadle.store import urls

GATES: dict[str, threading.Event] = {}


@tr.step
def workers_gated(key: str) -> str:
    count(key)
    GATES[key].wait(20)
    return "through"


@tr.workflow
async def workers_gated_wf(ctx: tr.Context, key: str) -> str:
    return await ctx.step(workers_gated, key)


@tr.step(retry=tr.Retry(attempts=1))
async def workers_long_once(key: str) -> str:
    if count(key) == 1:
        await asyncio.sleep(60)
    return "finished"


@tr.workflow
async def workers_long_wf(ctx: tr.Context, key: str) -> str:
    return await ctx.step(workers_long_once, key)


@tr.step
def workers_record(key: str, part: int) -> int:
    count(f"{key}:{part}")
    return part


@tr.workflow
async def workers_many_wf(ctx: tr.Context, key: str) -> int:
    a = await ctx.step(workers_record, key, 1)
    b = await ctx.step(workers_record, key, 2)
    return a + b


@tr.workflow
async def workers_quick_wf(ctx: tr.Context) -> str:
    return "quick"


@tr.workflow
async def workers_waiting_wf(ctx: tr.Context) -> str:
    while True:
        await ctx.wait_for("poke")


def ghost_claim(db_url: str, lease_seconds: float, owner: str = "ghost") -> ops.Lease:
    """Claim the ready run like a worker that then vanishes without a trace."""
    store = urls.open_store(db_url)
    try:
        with store.transaction() as tx:
            claimed = ops.claim(tx, owner, ["default"], 10, time.time(), lease_seconds)
    finally:
        store.close()
    assert len(claimed) == 1
    return claimed[0].lease


def fenced_insert(db_url: str, lease: ops.Lease) -> int:
    store = urls.open_store(db_url)
    try:
        with store.transaction() as tx:
            row = ops.event_row(lease.run_id, EventKind.STEP_COMPLETED, time.time(), position=99)
            return tx.execute(
                "insert_event_fenced", row | {"epoch": lease.epoch, "owner": lease.owner}
            )
    finally:
        store.close()


def holds(db_url: str, lease: ops.Lease) -> bool:
    store = urls.open_store(db_url)
    try:
        with store.transaction() as tx:
            return ops.holds(tx, lease)
    finally:
        store.close()


def task_owner(db_path: str, run_id: str) -> tuple[bool, str | None]:
    """Whether the run has a task, and who owns it."""
    connection = sqlite3.connect(db_path)
    try:
        row = connection.execute("SELECT owner FROM tasks WHERE run_id = ?", (run_id,)).fetchone()
    finally:
        connection.close()
    return (row is not None, row[0] if row else None)


def test_a_vanished_workers_run_is_taken_over_after_its_lease(
    engine: tr.Engine, db_url: str, start_worker, eventually
) -> None:
    key = uuid.uuid4().hex
    GATES[key] = threading.Event()
    run_id = engine.start(workers_gated_wf, key)
    ghost = ghost_claim(db_url, lease_seconds=0.5)
    assert engine.get(run_id).status is tr.RunStatus.RUNNING
    assert holds(db_url, ghost)

    claimed_at = time.monotonic()
    start_worker()
    eventually(lambda: CALLS[key] == 1, what="the new worker to run the step")
    assert time.monotonic() - claimed_at >= 0.3  # not before the ghost's lease expired
    starts = [e for e in engine.history(run_id) if e.kind is tr.EventKind.RUN_STARTED]
    assert starts[0].data["worker"] == "ghost"
    new_lease = ops.Lease(run_id, starts[-1].data["epoch"], starts[-1].data["worker"])
    assert new_lease.owner != "ghost" and new_lease.epoch > ghost.epoch

    # Fencing: the ghost's writes are refused, the new owner's are not.
    assert not holds(db_url, ghost)
    assert holds(db_url, new_lease)
    assert fenced_insert(db_url, ghost) == 0
    assert all(e.position != 99 for e in engine.history(run_id))

    GATES[key].set()
    assert engine.result(run_id, timeout=10) == "through"
    assert CALLS[key] == 1
    assert not holds(db_url, ghost)


def test_an_expired_lease_is_fenced_by_the_next_claim(engine: tr.Engine, db_url: str) -> None:
    run_id = engine.start(workers_quick_wf)
    first = ghost_claim(db_url, lease_seconds=0.05, owner="first")
    time.sleep(0.1)
    second = ghost_claim(db_url, lease_seconds=30, owner="second")
    assert second.run_id == first.run_id == run_id
    assert second.epoch == first.epoch + 1
    assert not holds(db_url, first)
    assert holds(db_url, second)
    assert fenced_insert(db_url, first) == 0
    assert fenced_insert(db_url, second) == 1
    # Same owner name, old epoch: still refused.
    stale = ops.Lease(run_id, first.epoch, "second")
    assert not holds(db_url, stale)
    assert fenced_insert(db_url, stale) == 0


def test_a_runs_end_under_a_lost_lease_changes_nothing(engine: tr.Engine, db_url: str) -> None:
    run_id = engine.start(workers_quick_wf)
    first = ghost_claim(db_url, lease_seconds=0.05, owner="first")
    time.sleep(0.1)
    second = ghost_claim(db_url, lease_seconds=30, owner="second")
    store = urls.open_store(db_url)
    try:
        for lease, rows in ((first, 0), (second, 1), (second, 0)):  # the last: ended already
            ending = ops.ending(lease, tr.RunStatus.SUCCEEDED, time.time(), result='"done"')
            (returned,) = store.write_rows([ending])
            assert len(returned) == rows
            if rows:
                assert returned[0]["status"] == "succeeded" and returned[0]["parent_id"] is None
            if lease is first:
                assert engine.get(run_id).status is tr.RunStatus.RUNNING
                assert holds(db_url, second)
    finally:
        store.close()
    assert engine.result(run_id, timeout=5) == "done"
    ends = [e for e in engine.history(run_id) if e.kind is tr.EventKind.RUN_SUCCEEDED]
    assert [e.data for e in ends] == [{"result": "done"}]
    assert not holds(db_url, second)  # its task went with it


def test_a_live_lease_is_not_taken(engine: tr.Engine, db_url: str) -> None:
    engine.start(workers_quick_wf)
    ghost_claim(db_url, lease_seconds=30)
    store = urls.open_store(db_url)
    try:
        with store.transaction() as tx:
            assert ops.claim(tx, "other", ["default"], 10, time.time(), 30) == []
    finally:
        store.close()


def test_graceful_stop_hands_a_long_step_back(
    engine: tr.Engine, db_path: str, start_worker, eventually
) -> None:
    key = uuid.uuid4().hex
    worker = start_worker(lease_seconds=30, grace_seconds=0.2)
    run_id = engine.start(workers_long_wf, key)
    eventually(lambda: CALLS[key] == 1, what="the long step to start")
    stopped_at = time.monotonic()
    worker.stop(timeout=10)
    assert time.monotonic() - stopped_at < 5
    has_task, owner = task_owner(db_path, run_id)
    assert has_task and owner is None  # handed back, not left under a 30 s lease
    assert not engine.get(run_id).status.finished

    started = time.monotonic()
    start_worker()
    assert engine.result(run_id, timeout=10) == "finished"
    assert time.monotonic() - started < 5  # no wait for the old lease to expire
    assert CALLS[key] == 2


@tr.step(retry=tr.Retry(attempts=2, initial=0.01))
def workers_fails(key: str) -> str:
    raise ValueError(key)


@tr.workflow
async def workers_retrying_wf(ctx: tr.Context, key: str) -> str:
    try:
        await ctx.step(workers_fails, key)
    except ValueError:
        return "handled"
    return "not handled"


def test_stop_returns_after_runs_finished(tmp_path: Path) -> None:
    # A worker asked to stop stops, whatever its event loop was doing at that moment.
    for attempt in range(60):
        with tr.Engine(f"sqlite:///{tmp_path}/stop-{attempt}.db") as engine:
            worker = engine.worker(lease_seconds=2, poll_interval=0.05, grace_seconds=1).start()
            run_id = engine.start(workers_retrying_wf, str(attempt))
            assert engine.result(run_id, timeout=10) == "handled"
            engine.history(run_id)
            worker.stop(timeout=5)
            assert not worker._thread.is_alive(), f"the worker did not stop (attempt {attempt})"


def test_two_workers_run_100_runs_with_no_step_recorded_twice(
    engine: tr.Engine, db_url: str, start_worker
) -> None:
    key = uuid.uuid4().hex
    with tr.Engine(db_url) as second:
        start_worker(concurrency=20)
        start_worker(second, concurrency=20)
        ids = [engine.start(workers_many_wf, f"{key}:{n}") for n in range(100)]
        for run_id in ids:
            assert engine.result(run_id, timeout=60) == 3
    workers_seen = set()
    for run_id in ids:
        history = engine.history(run_id)
        completed = [e for e in history if e.kind is tr.EventKind.STEP_COMPLETED]
        assert sorted(e.position for e in completed) == [0, 1]
        workers_seen.update(e.data["worker"] for e in history if e.kind is tr.EventKind.RUN_STARTED)
    for n in range(100):
        assert CALLS[f"{key}:{n}:1"] == 1 and CALLS[f"{key}:{n}:2"] == 1
    assert len(workers_seen) == 2  # both workers took part
    assert engine.counts() == {"succeeded": 100}


def test_workers_serve_only_their_queues(engine: tr.Engine, start_worker, wait_status) -> None:
    run_id = engine.start(workers_quick_wf, queue="reports")
    start_worker()
    time.sleep(0.3)
    assert engine.get(run_id).status is tr.RunStatus.PENDING
    start_worker(queues="reports")
    assert engine.result(run_id, timeout=10) == "quick"


@pytest.fixture(autouse=True)
def _open_gates():
    yield
    for gate in GATES.values():
        gate.set()
