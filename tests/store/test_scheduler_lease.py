"""The scheduler lease: one holder at a time, a new epoch per holder, and a check of the term
that holds the lease until the leader's transaction commits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from treadle.runtime import leader
from treadle.store import urls
from treadle.store.protocol import Store

NAME = leader.SCHEDULER
SECONDS = 3.0


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = urls.open_store(db_url)
    store.migrate()
    yield store
    store.close()


def bid(store: Store, holder: str, now: float) -> leader.Term | None:
    with store.transaction() as tx:
        return leader.acquire(tx, NAME, holder, now, SECONDS)


def renew(store: Store, term: leader.Term, now: float) -> bool:
    with store.transaction() as tx:
        return leader.renew(tx, term, now, SECONDS)


def holds(store: Store, term: leader.Term, now: float) -> bool:
    with store.transaction() as tx:
        return leader.holds(tx, term, now)


def lease(store: Store) -> tuple[str | None, int, float | None]:
    with store.snapshot() as tx:
        row = leader.current(tx)
    assert row is not None
    return row["holder"], row["epoch"], row["expires_at"]


def test_nobody_holds_the_lease_of_a_new_database(store: Store) -> None:
    with store.snapshot() as tx:
        assert leader.current(tx) is None


def test_the_first_bid_takes_the_lease_and_others_are_refused_while_it_lives(
    store: Store,
) -> None:
    term = bid(store, "a", 100.0)
    assert term == leader.Term(NAME, "a", 1)
    assert lease(store) == ("a", 1, 100.0 + SECONDS)
    assert bid(store, "b", 101.0) is None
    assert bid(store, "b", 100.0 + SECONDS) is None  # expires_at itself is still live
    assert holds(store, term, 102.0)
    assert lease(store) == ("a", 1, 100.0 + SECONDS)


def test_renewing_extends_the_lease(store: Store) -> None:
    term = bid(store, "a", 100.0)
    assert term is not None
    assert renew(store, term, 102.0)
    assert lease(store) == ("a", 1, 102.0 + SECONDS)
    assert bid(store, "b", 104.0) is None
    assert holds(store, term, 104.0)


def test_an_expired_lease_goes_to_the_next_bidder_with_a_new_epoch(store: Store) -> None:
    old = bid(store, "a", 100.0)
    assert old is not None
    new = bid(store, "b", 100.0 + SECONDS + 0.1)
    assert new == leader.Term(NAME, "b", 2)
    assert lease(store)[:2] == ("b", 2)
    # The old holder's term is over: it can neither act nor renew its way back.
    assert not holds(store, old, 100.0 + SECONDS + 0.2)
    assert not renew(store, old, 100.0 + SECONDS + 0.2)
    assert holds(store, new, 100.0 + SECONDS + 0.2)
    assert lease(store)[:2] == ("b", 2)


def test_a_holder_past_its_lease_cannot_act_until_it_renews(store: Store) -> None:
    term = bid(store, "a", 100.0)
    assert term is not None
    late = 100.0 + SECONDS + 1.0
    assert not holds(store, term, late)
    # Nobody took the lease meanwhile, so nobody acted: renewing it is safe, and works.
    assert renew(store, term, late)
    assert holds(store, term, late)


def test_the_term_names_the_holder_and_the_epoch(store: Store) -> None:
    term = bid(store, "a", 100.0)
    assert term is not None
    assert not holds(store, leader.Term(NAME, "b", term.epoch), 101.0)
    assert not holds(store, leader.Term(NAME, "a", term.epoch + 1), 101.0)
    assert not holds(store, leader.Term("another lease", "a", term.epoch), 101.0)


def test_a_released_lease_is_taken_at_once_with_a_new_epoch(store: Store) -> None:
    term = bid(store, "a", 100.0)
    assert term is not None
    with store.transaction() as tx:
        assert leader.release(tx, term)
    assert lease(store) == (None, 1, None)
    assert not holds(store, term, 100.5)
    with store.transaction() as tx:
        assert not leader.release(tx, term)  # already handed back
    assert bid(store, "b", 100.5) == leader.Term(NAME, "b", 2)
    # The old holder's stale release changes nothing.
    with store.transaction() as tx:
        assert not leader.release(tx, term)
    assert lease(store)[:2] == ("b", 2)
    assert bid(store, "a", 101.0) is None


def test_a_check_of_the_old_term_holds_up_no_bid(store: Store, db_url: str, backend: str) -> None:
    """A leader paused after ``holds``, its transaction open, must not keep the lease: the
    check locks nothing (what a leader does after it is safe to do twice at once)."""
    term = bid(store, "a", 100.0)
    assert term is not None
    other = urls.open_store(db_url)
    order: list[str] = []
    taken: list[leader.Term | None] = []

    def take_over() -> None:
        taken.append(bid(other, "b", 100.0 + SECONDS + 1.0))
        order.append("bid committed")

    try:
        with store.transaction() as tx:
            assert leader.holds(tx, term, 100.0 + SECONDS - 0.5)
            thread = threading.Thread(target=take_over)
            thread.start()
            time.sleep(0.3)  # the bid is done, or waiting for this transaction, by now
            order.append("leader committed")
        thread.join(10)
        if backend == "postgres":
            assert order == ["bid committed", "leader committed"]
        else:
            # SQLite's bid waited for the writer to commit.
            assert order == ["leader committed", "bid committed"]
        assert taken[0] is not None and taken[0].epoch == term.epoch + 1
    finally:
        other.close()


def test_a_process_stopped_inside_a_transaction_holds_up_no_bid_and_no_leader(
    postgres_url: str,
) -> None:
    """PostgreSQL: a transaction left open (its process paused, say) makes the others'
    calls answer at once, never wait: a check holds nothing, a bid's lock is skipped."""
    first, second = urls.open_store(postgres_url), urls.open_store(postgres_url)
    try:
        old = bid(first, "a", 100.0)
        assert old is not None
        # A leader inside its transaction of timers: a bid on its expired lease takes it.
        with first.transaction() as tx:
            assert leader.holds(tx, old, 101.0)
            began = time.monotonic()
            assert bid(second, "b", 100.0 + SECONDS + 1.0) is not None
            assert time.monotonic() - began < 1.0
        assert lease(first)[:2] == ("b", 2)
        # A bidder inside the transaction that takes the expired lease: the old leader's
        # check sees the lease as committed, and its renewal and other bids say no, at once.
        with second.transaction() as tx:
            new = leader.acquire(tx, NAME, "c", 100.0 + 2 * SECONDS + 2.0, SECONDS)
            assert new is not None
            began = time.monotonic()
            assert holds(first, leader.Term(NAME, "b", 2), 100.0 + SECONDS + 1.5)
            assert not renew(first, leader.Term(NAME, "b", 2), 100.0 + SECONDS + 1.5)
            assert bid(first, "d", 100.0 + 2 * SECONDS + 2.0) is None
            assert time.monotonic() - began < 1.0
        assert lease(first)[:2] == ("c", 3)
    finally:
        first.close()
        second.close()
