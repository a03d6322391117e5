"""Transactions: committed whole or not at all, shared safely by several processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from treadle.store import urls
from treadle.store.protocol import Store


def new_run(id: str, now: float = 1.0) -> dict[str, object]:
    return {
        "id": id,
        "workflow": "wf",
        "version": "1",
        "queue": "default",
        "priority": 0,
        "parent_id": None,
        "parent_position": None,
        "input": '{"args":[],"kwargs":{}}',
        "now": now,
        "deadline": None,
        "data": None,
    }


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = urls.open_store(db_url)
    store.migrate()
    yield store
    store.close()


def test_commit_keeps_the_writes(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.execute("create_run", new_run("a")) == 1
    with store.transaction() as tx:
        row = tx.fetch_one("get_run", {"id": "a"})
    assert row is not None and row["status"] == "pending"


def test_an_error_rolls_the_transaction_back(store: Store) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.transaction() as tx:
        tx.execute("create_run", new_run("b"))
        tx.execute(
            "insert_event",
            {
                "run_id": "b",
                "kind": "run_created",
                "at": 1.0,
                "position": None,
                "name": None,
                "attempt": None,
                "data": None,
            },
        )
        raise Boom()
    with store.transaction() as tx:
        assert tx.fetch_one("get_run", {"id": "b"}) is None
        assert tx.fetch_all("history", {"run_id": "b"}) == []
    # The store is still usable after the rollback.
    with store.transaction() as tx:
        assert tx.execute("create_run", new_run("b")) == 1


def test_a_base_exception_rolls_back_too(store: Store) -> None:
    with pytest.raises(KeyboardInterrupt), store.transaction() as tx:
        tx.execute("create_run", new_run("c"))
        raise KeyboardInterrupt()
    with store.transaction() as tx:
        assert tx.fetch_one("get_run", {"id": "c"}) is None


def test_snapshot_sees_committed_rows(store: Store) -> None:
    with store.transaction() as tx:
        tx.execute("create_run", new_run("d"))
    with store.snapshot() as tx:
        assert [row["id"] for row in tx.fetch_all("get_runs", {"ids": '["d","zz"]'})] == ["d"]


WRITER = textwrap.dedent(
    """
    import sys
    from treadle.store import urls

    url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = urls.open_store(url)
    for i in range(count):
        run_id = f"{name}-{i}"
        with store.transaction() as tx:
            tx.execute("create_run", {
                "id": run_id, "workflow": "wf", "version": "1", "queue": "default",
                "priority": 0, "parent_id": None, "parent_position": None,
                "input": "{}", "now": float(i), "deadline": None, "data": None,
            })
    store.close()
    """
)


def test_several_processes_write_to_one_database(store: Store, db_url: str) -> None:
    processes, per_process = 4, 100
    children = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, db_url, f"p{n}", str(per_process)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=os.environ | {"PYTHONWARNINGS": "error"},
        )
        for n in range(processes)
    ]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err.decode()
    with store.snapshot() as tx:
        counts = {row["status"]: row["n"] for row in tx.fetch_all("count_runs_by_status")}
        ids = [f"p{n}-{i}" for n in range(processes) for i in range(per_process)]
        events = tx.fetch_all("histories", {"ids": json.dumps(ids)})
    assert counts == {"pending": processes * per_process}
    assert len(events) == processes * per_process


def test_appends_commit_and_report_the_rows_each_changed(store: Store) -> None:
    with store.transaction() as tx:
        tx.execute("create_run", new_run("journal"))
    assert store.write([("create_run", new_run("journal"))]) == [0]  # the id exists
    assert store.write(
        [
            ("create_run", new_run("j1")),
            ("create_run", new_run("journal")),
            ("create_run", new_run("j2")),
            ("set_meta", {"key": "note", "value": "appended"}),
            ("create_run", new_run("j1")),
        ]
    ) == [1, 0, 1, 1, 0]
    with store.snapshot() as tx:
        assert tx.fetch_one("get_run", {"id": "j2"}) is not None
