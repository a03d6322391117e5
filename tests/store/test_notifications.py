"""Wake-ups: ``notify`` in one process reaches every listener of its topics, in any process,
and no other."""

from __future__ import annotations

import os
import select
import socket
import time
from collections.abc import Iterator

import pytest

from conftest import run_sql
from treadle.store import urls, wakeup
from treadle.store.protocol import ALL_TOPICS, Listener, Store, Topic

TASKS, TIMERS, RUNS = (Topic.TASKS,), (Topic.TIMERS,), (Topic.RUNS,)


@pytest.fixture
def stores(db_url: str) -> Iterator[tuple[Store, Store]]:
    first, second = urls.open_store(db_url), urls.open_store(db_url)
    first.migrate()
    yield first, second
    first.close()
    second.close()


def _quiet(listener: Listener) -> Listener:
    # A new PostgreSQL listener may hear the hub's hello (every topic): let it pass.
    time.sleep(0.2)
    listener.drain()
    return listener


def test_every_listener_hears_a_notification(stores: tuple[Store, Store]) -> None:
    sender, receiver = stores
    listeners = [receiver.listener(TASKS), receiver.listener(TASKS)]
    try:
        for listener in listeners:
            listener.drain()
        began = time.monotonic()
        sender.notify(TASKS)
        assert all(listener.wait(5.0) for listener in listeners)
        assert time.monotonic() - began < 1.0
    finally:
        for listener in listeners:
            listener.close()


def test_a_listener_hears_its_topics_and_no_other(stores: tuple[Store, Store]) -> None:
    sender, receiver = stores
    tasks, runs = _quiet(receiver.listener(TASKS)), _quiet(receiver.listener(RUNS))
    try:
        sender.notify(TASKS)
        assert tasks.wait(5.0)
        assert not runs.wait(0.3)
        sender.notify(RUNS)
        assert runs.wait(5.0)
        assert not tasks.wait(0.3)
    finally:
        tasks.close()
        runs.close()


def test_drain_says_which_of_its_topics_arrived(stores: tuple[Store, Store]) -> None:
    sender, receiver = stores
    listener = _quiet(receiver.listener((Topic.TASKS, Topic.TIMERS)))
    try:
        sender.notify(TIMERS)
        readable, _, _ = select.select([listener.fileno()], [], [], 5.0)
        assert readable
        time.sleep(0.1)
        assert listener.drain() == {Topic.TIMERS}
        sender.notify((Topic.RUNS, Topic.TASKS))
        select.select([listener.fileno()], [], [], 5.0)
        time.sleep(0.1)
        assert listener.drain() == {Topic.TASKS}  # runs: not asked for
        assert listener.drain() == set()
    finally:
        listener.close()


def test_no_topics_send_nothing(stores: tuple[Store, Store]) -> None:
    sender, receiver = stores
    listener = _quiet(receiver.listener(ALL_TOPICS))
    try:
        sender.notify(())
        with sender.transaction(notify=()) as tx:
            tx.execute("set_meta", {"key": "note", "value": "quiet"})
        with sender.transaction() as tx:
            tx.execute("set_meta", {"key": "note", "value": "quiet too"})
        assert not listener.wait(0.3)
    finally:
        listener.close()


def test_a_notification_without_topics_wakes_every_listener(
    stores: tuple[Store, Store], db_url: str
) -> None:
    """An older Treadle, or a person, sends one without a payload: nobody may miss it."""
    _, receiver = stores
    listeners = [_quiet(receiver.listener((topic,))) for topic in Topic]
    try:
        _notify_as_an_older_treadle(db_url, receiver)
        assert all(listener.wait(5.0) for listener in listeners)
        _notify_as_an_older_treadle(db_url, receiver, payload="tasks,news")
        assert all(listener.wait(5.0) for listener in listeners)  # a topic unknown here
    finally:
        for listener in listeners:
            listener.close()


def _notify_as_an_older_treadle(url: str, store: Store, payload: str = "") -> None:
    if url.startswith("postgresql"):
        run_sql(url, f"NOTIFY treadle, '{payload}'" if payload else "NOTIFY treadle")
        return
    folder = wakeup.folder_for(url.removeprefix("sqlite:///"))
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        for name in os.listdir(folder):
            sender.sendto(payload.encode() or b"!", os.path.join(folder, name))


def test_a_drained_listener_is_quiet_until_the_next_notification(
    stores: tuple[Store, Store],
) -> None:
    sender, receiver = stores
    listener = receiver.listener(RUNS)
    try:
        sender.notify(RUNS)
        assert listener.wait(5.0)
        time.sleep(0.1)
        listener.drain()
        assert not listener.wait(0.05)
        sender.notify(RUNS)
        readable, _, _ = select.select([listener.fileno()], [], [], 5.0)
        assert readable
    finally:
        listener.close()


def test_a_closed_listener_does_not_break_the_others(stores: tuple[Store, Store]) -> None:
    sender, receiver = stores
    closed, open_ = receiver.listener(TASKS), receiver.listener(TASKS)
    closed.close()
    try:
        sender.notify(TASKS)
        assert open_.wait(5.0)
    finally:
        open_.close()


def test_a_transaction_notifies_when_it_commits_and_not_when_it_rolls_back(
    stores: tuple[Store, Store],
) -> None:
    sender, receiver = stores
    listener = _quiet(receiver.listener(TASKS))
    runs = _quiet(receiver.listener(RUNS))
    try:
        with pytest.raises(RuntimeError), sender.transaction(notify=TASKS) as tx:
            tx.execute("set_meta", {"key": "note", "value": "rolled back"})
            raise RuntimeError("roll back")
        assert not listener.wait(0.3)
        with sender.transaction(notify=TASKS) as tx:
            tx.execute("set_meta", {"key": "note", "value": "kept"})
        assert listener.wait(5.0)
        # The notification comes after the commit: what woke the listener is there to see.
        assert receiver.fetch_one("get_meta", {"key": "note"}) == {"value": "kept"}
        assert not runs.wait(0.3)
    finally:
        listener.close()
        runs.close()


def test_a_transaction_notifies_several_topics_at_once(stores: tuple[Store, Store]) -> None:
    sender, receiver = stores
    listeners = [_quiet(receiver.listener((topic,))) for topic in Topic]
    try:
        with sender.transaction(notify=(Topic.RUNS, Topic.TASKS)) as tx:
            tx.execute("set_meta", {"key": "note", "value": "two"})
        tasks, timers, runs = listeners
        assert tasks.wait(5.0) and runs.wait(5.0)
        assert not timers.wait(0.3)
    finally:
        for listener in listeners:
            listener.close()
