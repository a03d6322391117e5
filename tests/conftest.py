"""Shared fixtures: a database per test (SQLite, and PostgreSQL for the runtime suite), an
engine on it, embedded workers, and waiting.

The store contract suite (tests/store), the runtime integration tests
(tests/integration/test_runtime_*.py) and the chaos tests run once per backend.
PostgreSQL is the server named by ``TREADLE_TEST_POSTGRES`` (a URL to a database the tests may
use to create others) or the one on 127.0.0.1:5432; when none answers, those tests fail with
a message saying so: they are never skipped.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

import treadle as tr
from treadle.store import urls

POSTGRES_ADMIN = os.environ.get(
    "TREADLE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)

# Short leases and polls keep the suite fast; every test gets these unless it says otherwise.
WORKER_DEFAULTS: dict[str, Any] = {
    "lease_seconds": 2.0,
    "poll_interval": 0.05,
    "grace_seconds": 1.0,
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    backends = ["sqlite"]
    # The store contract suite, the runtime suite and the chaos tests run on both backends;
    # tests that open the SQLite file themselves (db_path) stay on SQLite.
    path = metafunc.definition.path
    contract = path.parent.name in ("store", "chaos") or path.name.startswith("test_runtime_")
    if contract and "db_path" not in metafunc.fixturenames:
        backends.append("postgres")
    metafunc.parametrize("backend", backends)


@pytest.fixture
def db_path(tmp_path: Any) -> str:
    return str(tmp_path / "t.db")


def _database_url(admin: str, name: str) -> str:
    return admin.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A database with the current schema, cloned for each test that runs on PostgreSQL."""
    admin = _admin()
    name = f"treadle_template_{uuid.uuid4().hex[:10]}"
    admin.execute(f"CREATE DATABASE {name}")
    store = urls.open_store(_database_url(POSTGRES_ADMIN, name))
    store.migrate()
    store.close()
    try:
        yield name
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


@pytest.fixture
def postgres_url(postgres_template: str) -> Iterator[str]:
    """A fresh database with the current schema, dropped after the test."""
    name = f"treadle_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {postgres_template}")
    try:
        yield _database_url(POSTGRES_ADMIN, name)
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def empty_db_url(backend: str, tmp_path: Any) -> Iterator[str]:
    """A database with no tables at all, dropped after the test."""
    if backend != "postgres":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"treadle_empty_{uuid.uuid4().hex[:12]}"
    with _admin() as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield _database_url(POSTGRES_ADMIN, name)
    finally:
        with _admin() as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _admin() -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        pytest.fail(
            f"no PostgreSQL server answers at {POSTGRES_ADMIN} ({exc}); start one, or name one "
            "with TREADLE_TEST_POSTGRES=postgresql://user@host:port/database",
            pytrace=False,
        )


def run_sql(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Run one statement on a test database outside Treadle, as another program would."""
    if url.startswith("sqlite:///"):
        connection = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            rows = connection.execute(sql).fetchall()
            connection.commit()
        finally:
            connection.close()
        return rows
    with psycopg.connect(url, autocommit=True) as pg:
        cursor = pg.execute(sql.encode())
        return cursor.fetchall() if cursor.description else []


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def db_url(backend: str, tmp_path: Any, request: pytest.FixtureRequest) -> str:
    if backend == "postgres":
        value: str = request.getfixturevalue("postgres_url")
        return value
    return f"sqlite:///{tmp_path / 't.db'}"


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
