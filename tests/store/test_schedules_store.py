"""The schedules table and its named queries, on both backends: what is due, what is next,
how a fire moves a schedule on, and (PostgreSQL) a tick that passes over a schedule a client
is changing instead of waiting for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from treadle.store import urls
from treadle.store.protocol import Store

T0 = 1_767_225_600.0


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = urls.open_store(db_url)
    store.migrate()
    yield store
    store.close()


def save(store: Store, schedule_id: str, next_fire_at: float, **changes: Any) -> None:
    params = {
        "id": schedule_id,
        "workflow": "beat",
        "version": "1",
        "queue": "default",
        "input": '{"args": [], "kwargs": {}}',
        "timeout": None,
        "cron": "* * * * *",
        "timezone": "UTC",
        "catch_up": "latest",
        "next_fire_at": next_fire_at,
        "now": T0,
    } | changes
    with store.transaction() as tx:
        tx.execute("save_schedule", params)


def due(store: Store, now: float) -> list[str]:
    with store.transaction() as tx:
        return [row["id"] for row in tx.fetch_all("due_schedules", {"now": now, "limit": 10})]


def next_at(store: Store) -> float | None:
    with store.snapshot() as tx:
        row = tx.fetch_one("next_schedule_at", {})
    return None if row is None else row["at"]


def test_due_and_next_leave_paused_schedules_out(store: Store) -> None:
    save(store, "b", T0 + 120)
    save(store, "a", T0 + 60)
    assert next_at(store) == T0 + 60
    assert due(store, T0 + 59) == []
    assert due(store, T0 + 120) == ["a", "b"]  # the earliest first
    with store.transaction() as tx:
        tx.execute("set_schedule_paused", {"id": "a", "paused": 1, "next_fire_at": None, "now": T0})
    assert due(store, T0 + 120) == ["b"] and next_at(store) == T0 + 120


def test_saving_again_keeps_created_at_paused_and_the_last_fire(store: Store) -> None:
    save(store, "a", T0 + 60)
    with store.transaction() as tx:
        tx.execute(
            "advance_schedule",
            {"id": "a", "next_fire_at": T0 + 120, "last_fire_at": T0 + 60, "last_run_id": "r1"},
        )
        # A move that started no run keeps the record of the last one that did.
        tx.execute(
            "advance_schedule",
            {"id": "a", "next_fire_at": T0 + 180, "last_fire_at": None, "last_run_id": None},
        )
        tx.execute(
            "set_schedule_paused", {"id": "a", "paused": 1, "next_fire_at": T0 + 180, "now": T0}
        )
    save(store, "a", T0 + 240, cron="*/2 * * * *", now=T0 + 5)
    with store.snapshot() as tx:
        row = tx.fetch_one("get_schedule", {"id": "a"})
    assert row is not None
    assert (row["cron"], row["next_fire_at"], row["paused"]) == ("*/2 * * * *", T0 + 240, 1)
    assert (row["last_fire_at"], row["last_run_id"]) == (T0 + 60, "r1")
    assert (row["created_at"], row["updated_at"]) == (T0, T0 + 5)


def test_a_tick_passes_over_a_schedule_a_client_holds(store: Store, backend: str) -> None:
    save(store, "held", T0 + 60)
    save(store, "free", T0 + 60)
    if backend == "sqlite":
        # One writer at a time: the tick runs before or after the client, never beside it.
        assert sorted(due(store, T0 + 60)) == ["free", "held"]
        return
    client = urls.open_store(store.url)
    try:
        with client.transaction() as tx:
            assert tx.fetch_one("get_schedule_for_update", {"id": "held"}) is not None
            assert due(store, T0 + 60) == ["free"]  # at once, without waiting for "held"
        assert sorted(due(store, T0 + 60)) == ["free", "held"]
    finally:
        client.close()
