"""Wake-ups: ``notify`` in one process reaches every listener, in any process."""

from __future__ import annotations

import select
import time
from collections.abc import Iterator

import pytest

from treadle.store import urls
from treadle.store.protocol import Store


@pytest.fixture
def stores(db_url: str) -> Iterator[tuple[Store, Store]]:
    first, second = urls.open_store(db_url), urls.open_store(db_url)
    first.migrate()
    yield first, second
    first.close()
    second.close()


def test_every_listener_hears_a_notification(stores: tuple[Store, Store]) -> None:
    sender, receiver = stores
    listeners = [receiver.listener(), receiver.listener()]
    try:
        for listener in listeners:
            listener.drain()
        began = time.monotonic()
        sender.notify()
        assert all(listener.wait(5.0) for listener in listeners)
        assert time.monotonic() - began < 1.0
    finally:
        for listener in listeners:
            listener.close()


def test_a_drained_listener_is_quiet_until_the_next_notification(
    stores: tuple[Store, Store],
) -> None:
    sender, receiver = stores
    listener = receiver.listener()
    try:
        sender.notify()
        assert listener.wait(5.0)
        time.sleep(0.1)
        listener.drain()
        assert not listener.wait(0.05)
        sender.notify()
        readable, _, _ = select.select([listener.fileno()], [], [], 5.0)
        assert readable
    finally:
        listener.close()


def test_a_closed_listener_does_not_break_the_others(stores: tuple[Store, Store]) -> None:
    sender, receiver = stores
    closed, open_ = receiver.listener(), receiver.listener()
    closed.close()
    try:
        sender.notify()
        assert open_.wait(5.0)
    finally:
        open_.close()


def test_a_transaction_notifies_when_it_commits_and_not_when_it_rolls_back(
    stores: tuple[Store, Store],
) -> None:
    sender, receiver = stores
    listener = receiver.listener()
    try:
        time.sleep(0.2)  # a new listener may hear the hub's hello: let it pass
        listener.drain()
        with pytest.raises(RuntimeError), sender.transaction(notify=True) as tx:
            tx.execute("set_meta", {"key": "note", "value": "rolled back"})
            raise RuntimeError("roll back")
        assert not listener.wait(0.3)
        with sender.transaction(notify=True) as tx:
            tx.execute("set_meta", {"key": "note", "value": "kept"})
        assert listener.wait(5.0)
        # The notification comes after the commit: what woke the listener is there to see.
        assert receiver.fetch_one("get_meta", {"key": "note"}) == {"value": "kept"}
    finally:
        listener.close()
