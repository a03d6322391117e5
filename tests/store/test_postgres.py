"""The PostgreSQL backend on a real server: claims, wake-ups, reconnects and schema checks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

import treadle as tr
from treadle import errors
from treadle.core import codec
from treadle.core.history import EventKind
from treadle.runtime import ops
from treadle.store import migrations, transact, urls
from treadle.store.protocol import Store, Topic, Transaction


@pytest.fixture
def store(postgres_url: str) -> Iterator[Store]:
    opened = urls.open_store(postgres_url)
    yield opened
    opened.close()


@tr.step
async def pg_noop(i: int) -> int:
    return i


@tr.workflow
async def pg_single(ctx: tr.Context, i: int) -> int:
    return await ctx.step(pg_noop, i)


def _start_runs(url: str, count: int) -> list[str]:
    with tr.Engine(url) as engine:
        return [engine.start(pg_single, i) for i in range(count)]


def test_concurrent_claims_never_take_the_same_run(postgres_url: str) -> None:
    started = set(_start_runs(postgres_url, 200))
    claimed: dict[str, list[str]] = {"a": [], "b": []}

    def claimer(owner: str) -> None:
        store = urls.open_store(postgres_url)
        try:
            while True:
                with store.transaction() as tx:
                    got = ops.claim(tx, owner, ["default"], 7, time.time(), 30.0)
                if not got:
                    return
                claimed[owner].extend(item.lease.run_id for item in got)
        finally:
            store.close()

    threads = [threading.Thread(target=claimer, args=(owner,)) for owner in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not set(claimed["a"]) & set(claimed["b"])
    assert set(claimed["a"]) | set(claimed["b"]) == started
    assert claimed["a"] and claimed["b"]  # both got work: SKIP LOCKED, not a queue behind a lock


def test_a_notification_wakes_an_idle_worker_long_before_its_poll(postgres_url: str) -> None:
    with tr.Engine(postgres_url) as engine, engine.worker(poll_interval=30.0):
        engine.result(engine.start(pg_single, 0), timeout=10)  # warm up
        began = time.monotonic()
        assert engine.result(engine.start(pg_single, 1), timeout=10) == 1
        assert time.monotonic() - began < 1.0


def test_the_store_reconnects_after_its_connection_is_killed(store: Store, postgres_url: str):
    with store.transaction() as tx:
        tx.fetch_one("get_meta", {"key": "schema_version"})
    database = postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        )
    began = time.monotonic()
    # Best effort: finds the connection dead, and neither waits nor raises.
    store.notify((Topic.TASKS,))
    store.notify((Topic.TASKS,))
    assert time.monotonic() - began < 1.0
    # The next transaction finds the connection dead at BEGIN and opens another.
    with store.transaction() as tx:
        row = tx.fetch_one("get_meta", {"key": "schema_version"})
    assert row is not None


def test_a_run_survives_its_workers_connection_being_killed(postgres_url: str) -> None:
    with tr.Engine(postgres_url) as engine, engine.worker(lease_seconds=2.0, poll_interval=0.1):
        assert engine.result(engine.start(pg_single, 1), timeout=10) == 1
        database = postgres_url.rsplit("/", 1)[1]
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )
        assert engine.result(engine.start(pg_single, 2), timeout=20) == 2


def test_another_applications_database_is_refused_untouched(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        # Every table the migrations made, whichever they are by now.
        treadle_tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
        connection.execute("DROP TABLE " + ", ".join(name for (name,) in treadle_tables))
        connection.execute("CREATE TABLE invoices (id int)")
    with pytest.raises(tr.StoreError, match="another application"):
        tr.Engine(postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    assert tables == [("invoices",)]


def test_a_newer_schema_is_refused(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("UPDATE treadle_meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(tr.StoreError, match="newer Treadle"):
        tr.Engine(postgres_url)


def test_an_unreachable_server_is_a_clear_error() -> None:
    began = time.monotonic()
    with pytest.raises(tr.StoreError, match="cannot reach PostgreSQL"):
        tr.Engine("postgresql://nobody:secret@127.0.0.1:1/none")
    assert time.monotonic() - began < 10


@pytest.mark.parametrize(
    "secret",
    [
        "postgresql://root:hunter2@127.0.0.1:1/x",
        "postgresql://root@127.0.0.1:1/x?password=hunter2&sslmode=disable",
    ],
)
def test_the_password_never_shows(secret: str) -> None:
    with pytest.raises(tr.StoreError) as error:
        urls.open_store(secret)
    assert "hunter2" not in str(error.value)
    assert "***" in str(error.value)


def test_migrating_twice_at_once_applies_the_schema_once(postgres_template: str) -> None:
    admin_url = __import__("conftest").POSTGRES_ADMIN
    name = f"treadle_migrate_{int(time.time() * 1000)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    try:
        results: list[tuple[int, int]] = []

        def migrate() -> None:
            store = urls.open_store(url)
            try:
                results.append(store.migrate())
            finally:
                store.close()

        threads = [threading.Thread(target=migrate) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        latest = migrations.latest("postgres")
        assert sorted(results) == [(0, latest), (latest, latest), (latest, latest)]
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_query_parameters_are_json_arrays_like_sqlite(store: Store) -> None:
    with store.transaction() as tx:
        rows = tx.fetch_all("get_runs", {"ids": codec.encode(["a", "b"], "ids")})
    assert rows == []


def test_threads_waiting_on_one_engine_all_wake_at_once(postgres_url: str) -> None:
    with tr.Engine(postgres_url) as engine, engine.worker(poll_interval=30.0):
        engine.result(engine.start(pg_single, 0), timeout=10)  # warm up
        run_ids = [engine.start(pg_single, i) for i in range(1, 9)]
        took: dict[str, float] = {}

        def wait(run_id: str) -> None:
            began = time.monotonic()
            engine.result(run_id, timeout=10)
            took[run_id] = time.monotonic() - began

        threads = [threading.Thread(target=wait, args=(run_id,)) for run_id in run_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(15)
        assert len(took) == len(run_ids)
        # Each waiter hears every wake-up: none sits out a one-second re-check.
        assert max(took.values()) < 0.8, took


def _step_result(lease: ops.Lease) -> dict[str, object]:
    row = ops.event_row(lease.run_id, EventKind.STEP_COMPLETED, time.time(), position=0, name="s")
    return row | lease.params() | {"data": '{"result": 1}'}


def test_a_claim_waits_for_a_result_being_recorded_under_the_old_lease(
    postgres_url: str,
) -> None:
    _start_runs(postgres_url, 1)
    old, new = urls.open_store(postgres_url), urls.open_store(postgres_url)
    try:
        with old.transaction() as tx:
            (first,) = ops.claim(tx, "old", ["default"], 1, time.time(), 0.01)
        later = time.time() + 60  # the old lease has long expired
        with old.transaction() as tx:
            assert tx.execute("insert_event_fenced", _step_result(first.lease)) == 1
            with new.transaction() as other:
                # Skipped while the result is uncommitted, so no replay can miss it.
                assert ops.claim(other, "new", ["default"], 1, later, 30.0) == []
        with new.transaction() as tx:
            (second,) = ops.claim(tx, "new", ["default"], 1, later, 30.0)
        assert second.lease.epoch == first.lease.epoch + 1
        assert EventKind.STEP_COMPLETED in [event.kind for event in second.events]
    finally:
        old.close()
        new.close()


def test_a_result_recorded_under_a_lease_being_taken_over_is_refused(postgres_url: str) -> None:
    (run_id,) = _start_runs(postgres_url, 1)
    old, new = urls.open_store(postgres_url), urls.open_store(postgres_url)
    try:
        with old.transaction() as tx:
            (first,) = ops.claim(tx, "old", ["default"], 1, time.time(), 0.01)
        inserted: list[int] = []
        with new.transaction() as tx:
            assert ops.claim(tx, "new", ["default"], 1, time.time() + 60, 30.0)
            writer = threading.Thread(
                target=lambda: inserted.append(_insert(old, _step_result(first.lease)))
            )
            writer.start()
            writer.join(0.5)
            assert writer.is_alive()  # waiting for the claim to commit or roll back
        writer.join(10)
        assert inserted == [0]
        with new.snapshot() as tx:
            kinds = [row["kind"] for row in tx.fetch_all("history", {"run_id": run_id})]
        assert "step_completed" not in kinds
    finally:
        old.close()
        new.close()


def _insert(store: Store, row: dict[str, object]) -> int:
    with store.transaction() as tx:
        return tx.execute("insert_event_fenced", row)


def test_a_wake_up_racing_a_cancel_leaves_no_task_behind(postgres_url: str) -> None:
    (run_id,) = _start_runs(postgres_url, 1)
    waker, canceller = urls.open_store(postgres_url), urls.open_store(postgres_url)
    try:
        with waker.transaction() as tx:  # the run waits, with no task: as a suspended run
            tx.execute("delete_task", {"run_id": run_id})
            tx.execute("set_status", {"id": run_id, "status": "waiting", "now": time.time()})
        with waker.transaction() as tx:
            tx.execute("wake_run", {"run_id": run_id, "now": time.time()})  # a child ended
            cancel = threading.Thread(
                target=lambda: _in_transaction(
                    canceller, lambda other: ops.cancel(other, run_id, time.time())
                )
            )
            cancel.start()
            cancel.join(0.5)
        cancel.join(10)
        with waker.snapshot() as tx:
            assert tx.fetch_one("get_run", {"id": run_id})["status"] == "cancelled"
            due = tx.fetch_one("next_task_at", {"queues": '["default"]'})
        assert due is not None and due["at"] is None  # no task left to resurrect the run
    finally:
        waker.close()
        canceller.close()


def _in_transaction(store: Store, operation: Callable[[Transaction], object]) -> None:
    with store.transaction() as tx:
        operation(tx)


def _deadlock(url: str, retrying: bool) -> tuple[list[int], list[BaseException]]:
    """Two transactions update two runs in opposite orders; return the attempts each made
    and the errors they ended with."""
    run_ids = _start_runs(url, 2)
    stores = [urls.open_store(url), urls.open_store(url)]
    both_hold_one = threading.Barrier(2, timeout=5)
    attempts, failures = [0, 0], []

    def update_both(me: int) -> None:
        order = run_ids if me == 0 else run_ids[::-1]

        def operation(tx: Transaction) -> None:
            attempts[me] += 1
            tx.execute("set_status", {"id": order[0], "status": "waiting", "now": 1.0})
            if attempts[me] == 1:
                both_hold_one.wait()  # each holds one run and reaches for the other's
            tx.execute("set_status", {"id": order[1], "status": "waiting", "now": 1.0})

        try:
            if retrying:
                transact.run(stores[me], operation)
            else:
                _in_transaction(stores[me], operation)
        except tr.StoreError as exc:
            failures.append(exc)

    try:
        threads = [threading.Thread(target=update_both, args=(me,)) for me in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
    finally:
        for store in stores:
            store.close()
    return attempts, failures


def test_a_deadlock_is_a_conflict_to_try_again(postgres_url: str) -> None:
    attempts, failures = _deadlock(postgres_url, retrying=False)
    assert attempts == [1, 1]
    assert len(failures) == 1
    assert isinstance(failures[0], errors.TransactionConflictError)
    assert "try again" in str(failures[0])


def test_transact_runs_a_deadlocks_victim_again(postgres_url: str) -> None:
    attempts, failures = _deadlock(postgres_url, retrying=True)
    assert failures == []
    assert sorted(attempts) == [1, 2]


_COMMIT_PROBE = """
CREATE TABLE commit_probe (setting text);
CREATE FUNCTION commit_probe_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO commit_probe VALUES (current_setting('synchronous_commit'));
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER commit_probe_at_commit AFTER INSERT OR UPDATE ON treadle_meta
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION commit_probe_record();
"""


def commit_waits_for(store: Store, how: str) -> str:
    """What a commit waits for, read at the commit itself (a deferred trigger runs there):
    ``append``'s single statements and batches, a transaction, a non-durable one."""
    store._alone(lambda c: c.execute(_COMMIT_PROBE.encode()))  # type: ignore[attr-defined]
    meta = ("set_meta", {"key": "probe", "value": how})
    if how == "append":
        store.write([meta], durable=False)
    elif how == "append batch":
        store.write([meta, meta], durable=False)
    elif how == "write":
        store.write([meta, meta])
    else:
        with store.transaction(durable=how == "transaction") as tx:
            tx.execute(*meta)
    rows = store._alone(  # type: ignore[attr-defined]
        lambda c: c.execute(b"SELECT setting FROM commit_probe").fetchall()
    )
    store._alone(  # type: ignore[attr-defined]
        lambda c: c.execute(b"DROP TABLE commit_probe; DROP FUNCTION commit_probe_record CASCADE")
    )
    assert len({row["setting"] for row in rows}) == 1, rows
    return str(rows[0]["setting"])


def test_journal_appends_do_not_wait_for_the_log_flush_and_transactions_do(
    store: Store,
) -> None:
    assert commit_waits_for(store, "append") == "off"
    assert commit_waits_for(store, "append batch") == "off"
    assert commit_waits_for(store, "not durable") == "off"
    assert commit_waits_for(store, "transaction") == "on"
    assert commit_waits_for(store, "write") == "on"


def test_synchronous_full_makes_every_commit_wait(postgres_url: str) -> None:
    store = urls.open_store(postgres_url + "?synchronous=full")
    try:
        for how in ("append", "append batch", "not durable", "transaction", "write"):
            assert commit_waits_for(store, how) == "on"
        assert store.url == postgres_url  # the option is Treadle's, not the driver's
    finally:
        store.close()


def test_an_unknown_durability_mode_is_refused(postgres_url: str) -> None:
    with pytest.raises(errors.UsageError, match="normal, full"):
        urls.open_store(postgres_url + "?synchronous=sometimes")


def test_other_url_options_still_reach_the_driver(postgres_url: str) -> None:
    store = urls.open_store(postgres_url + "?synchronous=normal&application_name=treadle-test")
    try:
        with store.transaction() as tx:
            row = tx._connection.execute("SHOW application_name").fetchone()  # type: ignore[attr-defined]
        assert row["application_name"] == "treadle-test"
    finally:
        store.close()


def test_a_durable_write_waits_for_the_log_and_a_journal_append_does_not(
    store: Store, postgres_url: str
) -> None:
    # The session commits without waiting; a durable write's own statement sets the wait
    # for its transaction only (the store sends no BEGIN or COMMIT around a single write).
    # Right after a commit that waited, the log is on disk up to where it was written.
    def on_disk_after(write: Callable[[int], object]) -> int:
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            flushed = 0
            for i in range(30):
                write(i)
                row = connection.execute(
                    "SELECT pg_current_wal_flush_lsn() >= pg_current_wal_insert_lsn()"
                ).fetchone()
                flushed += bool(row[0])
            return flushed

    assert on_disk_after(lambda i: store.write([("set_meta", {"key": f"d{i}", "value": "x"})])) > 25
    assert (
        on_disk_after(
            lambda i: store.write_in_turn([[("set_meta", {"key": f"t{i}", "value": "x"})]] * 2)
        )
        > 25
    )
    appended = on_disk_after(
        lambda i: store.write([("set_meta", {"key": f"a{i}", "value": "x"})], durable=False)
    )
    assert appended < 15  # the server's own writer flushes it a little later
    with store.snapshot() as tx:
        assert tx.fetch_one("get_meta", {"key": "t29"}) == {"value": "x"}


def _table_stat(url: str, table: str, column: str) -> Any:
    """A column of ``pg_stat_user_tables`` for ``table``."""
    with psycopg.connect(url, autocommit=True) as connection:
        return connection.execute(
            f"SELECT {column} FROM pg_stat_user_tables WHERE relname = %s", (table,)
        ).fetchone()[0]


def _until_counted(url: str, table: str, column: str, rows: int) -> None:
    # Statistics reach the shared view up to a second after the transaction.
    give_up = time.monotonic() + 10
    while time.monotonic() < give_up and _table_stat(url, table, column) < rows:
        time.sleep(0.1)


def test_housekeeping_vacuums_the_queue_once_dead_rows_pile_up(
    store: Store, postgres_url: str
) -> None:
    store.checkpoint()
    assert _table_stat(postgres_url, "tasks", "last_vacuum") is None  # nothing to clean yet
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO tasks (run_id, queue, available_at) "
            "SELECT 'r' || i, 'default', 0 FROM generate_series(1, 3000) AS i"
        )
        connection.execute("DELETE FROM tasks")
    _until_counted(postgres_url, "tasks", "n_dead_tup", 3000)
    store.checkpoint()
    assert _table_stat(postgres_url, "tasks", "last_vacuum") is not None


def test_housekeeping_analyzes_a_table_that_grew_past_what_the_planner_counted(
    store: Store, postgres_url: str
) -> None:
    # A prepared statement keeps the plan made when history was a page or two (a scan of
    # the whole table); an analyze makes every connection plan it again.
    store.checkpoint()
    assert _table_stat(postgres_url, "history", "last_analyze") is None  # empty: nothing to plan
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO history (run_id, kind, at) "
            "SELECT 'r' || (i / 10), 'step_completed', 0 FROM generate_series(1, 3000) AS i"
        )
    _until_counted(postgres_url, "history", "n_live_tup", 3000)
    store.checkpoint()
    first = _table_stat(postgres_url, "history", "last_analyze")
    assert first is not None
    store.checkpoint()
    # The planner's count is up to date: no second analyze.
    assert _table_stat(postgres_url, "history", "last_analyze") == first


def test_threads_use_connections_of_their_own(store: Store) -> None:
    # One thread sits in a transaction; another still commits at once, on another connection.
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.transaction() as tx:
            tx.execute("set_meta", {"key": "held", "value": "1"})
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert inside.wait(10)
        began = time.monotonic()
        with store.transaction() as tx:
            tx.execute("set_meta", {"key": "other", "value": "2"})
        assert time.monotonic() - began < 1.0
        assert store.fetch_one("get_meta", {"key": "held"}) is None  # not committed yet
    finally:
        release.set()
        holder.join(10)
    assert store.fetch_one("get_meta", {"key": "held"}) == {"value": "1"}


def test_a_pool_size_below_one_is_refused(postgres_url: str) -> None:
    from treadle.store.postgres import PostgresStore

    with pytest.raises(errors.UsageError, match="pool_size"):
        PostgresStore(postgres_url, pool_size=0)
