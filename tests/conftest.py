"""Shared fixtures: a SQLite file per test, an engine on it, embedded workers, and waiting."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import treadle as tr

# Short leases and polls keep the suite fast; every test gets these unless it says otherwise.
WORKER_DEFAULTS: dict[str, Any] = {
    "lease_seconds": 2.0,
    "poll_interval": 0.05,
    "grace_seconds": 1.0,
}


@pytest.fixture
def db_path(tmp_path: Any) -> str:
    return str(tmp_path / "t.db")


@pytest.fixture
def db_url(db_path: str) -> str:
    return f"sqlite:///{db_path}"


@pytest.fixture
def engine(db_url: str) -> Iterator[tr.Engine]:
    with tr.Engine(db_url) as engine:
        yield engine


StartWorker = Callable[..., tr.EmbeddedWorker]


@pytest.fixture
def start_worker(engine: tr.Engine) -> Iterator[StartWorker]:
    """``start_worker(**options)`` runs an embedded worker (short leases) until the test ends.

    ``start_worker(other_engine, ...)`` runs it on another engine (another registry).
    """
    workers: list[tr.EmbeddedWorker] = []

    def start(on: tr.Engine | None = None, **options: Any) -> tr.EmbeddedWorker:
        worker = (on or engine).worker(**(WORKER_DEFAULTS | options)).start()
        workers.append(worker)
        return worker

    yield start
    for worker in reversed(workers):
        # A bounded wait: a worker that fails to stop is the subject of its own test
        # (test_runtime_workers.py::test_stop_returns_after_runs_finished).
        worker.stop(timeout=3)


Eventually = Callable[..., Any]


@pytest.fixture
def eventually() -> Eventually:
    """``eventually(predicate, timeout=10)``: the first truthy value of ``predicate()``."""

    def wait(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
        give_up = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > give_up:
                pytest.fail(f"timed out after {timeout} s waiting for {what or predicate}")
            time.sleep(0.02)

    return wait


@pytest.fixture
def wait_status(engine: tr.Engine, eventually: Eventually) -> Callable[..., tr.RunInfo]:
    """``wait_status(run_id, "waiting")``: the run's info once it has one of those statuses."""

    def wait(run_id: str, *statuses: str, timeout: float = 10.0, on: tr.Engine | None = None):
        wanted = {tr.RunStatus(s) for s in statuses}

        def check() -> tr.RunInfo | None:
            try:
                info = (on or engine).get(run_id)
            except tr.RunNotFoundError:
                return None  # not created yet (a child run, say)
            return info if info.status in wanted else None

        return eventually(check, timeout, f"run {run_id} to be {', '.join(statuses)}")

    return wait
