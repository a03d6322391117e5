"""Transactions: committed whole or not at all, shared safely by several processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from treadle import errors
from treadle.runtime import group_commit
from treadle.store import urls
from treadle.store.protocol import Store, Topic


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
        events = [tx.fetch_all("history", {"run_id": run_id}) for run_id in ids]
    assert counts == {"pending": processes * per_process}
    assert [len(history) for history in events] == [1] * len(ids)  # run_created each


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


def event(run_id: str, kind: str, position: int | None, epoch: int) -> dict[str, object]:
    return {
        "run_id": run_id,
        "kind": kind,
        "at": 2.5,
        "position": position,
        "name": "s",
        "attempt": 1,
        "data": '{"result": 1}',
        "epoch": epoch,
        "owner": "w1",
    }


def test_many_journal_rows_go_in_one_statement_under_their_leases(store: Store) -> None:
    with store.transaction() as tx:
        tx.execute("create_run", new_run("held"))
        tx.execute("create_run", new_run("lost"))
        claimed = tx.fetch_all(
            "claim_tasks",
            {
                "owner": "w1",
                "claim": 1,
                "queues": '["default"]',
                "now": 5.0,
                "lease_until": 60.0,
                "limit": 9,
            },
        )
    epochs = {row["run_id"]: row["epoch"] for row in claimed}
    rows = [
        event("held", "step_started", 0, epochs["held"]),
        event("lost", "step_completed", 0, epochs["lost"] + 1),  # a stale lease
        event("held", "step_completed", 0, epochs["held"]),
        event("held", "step_completed", 0, epochs["held"]),  # the result is there already
        event("held", "step_completed", 1, epochs["held"]),
    ]
    (inserted,) = store.write_rows(
        [("insert_events_fenced", {"events": json.dumps(rows)})], durable=False
    )
    assert sorted((row["run_id"], row["kind"], row["position"]) for row in inserted) == [
        ("held", "step_completed", 0),
        ("held", "step_completed", 1),
        ("held", "step_started", 0),
    ]
    with store.snapshot() as tx:
        history = tx.fetch_all("history", {"run_id": "held"})
        assert tx.fetch_all("history", {"run_id": "lost"})[1:] == []  # run_created only
    # In the order given, with every field as given.
    assert [(row["kind"], row["position"]) for row in history[1:]] == [
        ("step_started", 0),
        ("step_completed", 0),
        ("step_completed", 1),
    ]
    assert history[1]["at"] == 2.5 and history[1]["data"] == '{"result": 1}'
    assert history[1]["attempt"] == 1 and history[1]["name"] == "s"


def test_a_batch_of_journal_rows_reports_each_rows_fate(store: Store) -> None:
    with store.transaction() as tx:
        tx.execute("create_run", new_run("r"))
        (claimed,) = tx.fetch_all(
            "claim_tasks",
            {
                "owner": "w1",
                "claim": 1,
                "queues": '["default"]',
                "now": 5.0,
                "lease_until": 60.0,
                "limit": 1,
            },
        )
    epoch = claimed["epoch"]
    assert group_commit.append_journal(store, [event("r", "step_completed", 0, epoch)]) == [1]
    assert group_commit.append_journal(
        store,
        [
            event("r", "step_completed", 0, epoch),  # there already
            event("r", "step_completed", 1, epoch),
            event("r", "step_completed", 1, epoch),  # the same result twice in one batch
            event("r", "step_started", 2, epoch),
            event("r", "step_started", 2, epoch),  # any other event may repeat
            event("r", "step_started", 3, epoch - 1),  # under a lease that is gone
        ],
    ) == [0, 1, 0, 1, 1, 0]


def test_transactions_written_in_turn_commit_one_by_one(store: Store) -> None:
    broken = {"run_id": "t", "kind": None, "at": 1.0}  # history.kind may not be NULL
    broken |= {"position": None, "name": None, "attempt": None, "data": None}
    claim = {"owner": "w1", "claim": 7, "queues": '["default"]', "now": 5.0}
    claim |= {"lease_until": 60.0, "limit": 9}
    rows = store.write_in_turn(
        [
            [("create_run", new_run("a")), ("create_run", new_run("b"))],
            [("claim_tasks", claim)],
            # The last transaction sees what the one before it committed.
            [("start_runs", claim), ("histories", claim)],
        ],
        durable=False,
    )
    assert [len(r) for r in rows] == [0, 0, 2, 2, 4]  # run_created and run_started each
    assert sorted(run["id"] for run in rows[3]) == ["a", "b"]
    with pytest.raises(errors.StoreError):
        store.write_in_turn(
            [
                [("create_run", new_run("c"))],
                [("create_run", new_run("d")), ("insert_event", broken)],
                [("create_run", new_run("e"))],
            ]
        )
    with store.snapshot() as tx:
        # The first committed; the second rolled back as a whole; the third never ran.
        found = [tx.fetch_one("get_run", {"id": run_id}) is not None for run_id in "cde"]
    assert found == [True, False, False]


def test_statements_written_together_are_one_transaction(store: Store) -> None:
    broken = {  # history.kind may not be NULL
        "run_id": "w",
        "kind": None,
        "at": 1.0,
        "position": None,
        "name": None,
        "attempt": None,
        "data": None,
    }
    for durable in (True, False):
        with pytest.raises(errors.StoreError):
            store.write([("create_run", new_run("w")), ("insert_event", broken)], durable=durable)
        with pytest.raises(errors.StoreError):
            store.write_rows([("create_run", new_run("w")), ("insert_event", broken)])
        with store.snapshot() as tx:
            assert tx.fetch_one("get_run", {"id": "w"}) is None
    assert store.write([("create_run", new_run("w"))], notify=[Topic.TASKS]) == [1]
