"""Running an operation in one transaction, and again when the database rolled it back for
a conflict with another transaction.

PostgreSQL's deadlock detector may pick any of two transactions that lock rows in opposite
orders (a client cancelling a run while a worker claims it, say) and roll it back; the other
goes on, and the loser succeeds when run again. SQLite, one writer at a time, never needs it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Collection, Sequence
from typing import TypeVar

from treadle import errors
from treadle.store.protocol import Row, Statement, Store, Topic, Transaction

T = TypeVar("T")
ATTEMPTS = 5
log = logging.getLogger("treadle.store")


def run(
    store: Store,
    operation: Callable[[Transaction], T],
    *,
    notify: Collection[Topic] = (),
    durable: bool = True,
) -> T:
    """``operation(tx)`` in a transaction, committed; run again after a conflict, so it must
    act only through ``tx`` (a rolled-back attempt then leaves no trace). ``notify`` and
    ``durable`` as in ``Store.transaction``."""

    def in_transaction() -> T:
        with store.transaction(notify=notify, durable=durable) as tx:
            return operation(tx)

    return _again_after_conflicts(in_transaction)


def write(
    store: Store,
    statements: Sequence[Statement],
    *,
    notify: Collection[Topic] = (),
    durable: bool = True,
) -> list[int]:
    """``store.write(...)``, run again after a conflict (which wrote nothing)."""
    return _again_after_conflicts(lambda: store.write(statements, notify=notify, durable=durable))


def append(store: Store, statements: Sequence[Statement]) -> list[int]:
    """Journal writes (see ``Store.write``): committed without waiting for the disk."""
    return write(store, statements, durable=False)


def write_rows(
    store: Store,
    statements: Sequence[Statement],
    *,
    notify: Collection[Topic] = (),
    durable: bool = True,
) -> list[list[Row]]:
    """``store.write_rows(...)``, run again after a conflict (which wrote nothing)."""
    return _again_after_conflicts(
        lambda: store.write_rows(statements, notify=notify, durable=durable)
    )


def _again_after_conflicts(attempt_once: Callable[[], T]) -> T:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return attempt_once()
        except errors.TransactionConflictError as exc:
            if attempt == ATTEMPTS:
                raise
            log.info("transaction rolled back by a conflict (%s); trying again", exc)
            # A short random pause, so that the two do not collide again in step.
            time.sleep(random.random() * 0.002 * attempt)
    raise AssertionError("unreachable: the last attempt returns or raises")
