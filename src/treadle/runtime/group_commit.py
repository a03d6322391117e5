"""Group commit: the writes that a worker's runs make in one turn of the event loop share
one transaction, so a hundred steps finishing together cost one commit, not a hundred."""

from __future__ import annotations

import asyncio
import collections
import functools
from collections.abc import Callable, Collection, Generator, Mapping, Sequence
from typing import Any, Generic, TypeVar

from treadle.core import codec
from treadle.store import transact
from treadle.store.protocol import Row, Statement, Store, Topic, Transaction

T = TypeVar("T")
W = TypeVar("W")
Operation = Callable[[Transaction], Any]
JournalRow = Mapping[str, Any]
"""A history row and the lease it is written under (``ops.event_row`` with epoch and owner)."""


def append_journal(store: Store, rows: Sequence[JournalRow]) -> list[int]:
    """Insert history rows, each only while its run's lease holds, committed without waiting
    for the disk (see ``Store.write``); return how many each inserted (0: the lease is gone,
    or the step's result is there already).

    Many rows go in one statement rather than one statement each: on PostgreSQL each
    statement costs the client and the server far more than a row does.
    """
    if len(rows) == 1:
        return transact.append(store, [("insert_event_fenced", rows[0])])
    events = codec.encode(rows, "journal rows")
    (returned,) = transact.write_rows(
        store, [("insert_events_fenced", {"events": events})], durable=False
    )
    inserted = collections.Counter(
        (row["run_id"], row["kind"], row["position"]) for row in returned
    )
    counts = []
    for row in rows:
        key = (row["run_id"], row["kind"], row["position"])
        counts.append(1 if inserted[key] > 0 else 0)
        inserted[key] -= 1
    return counts


class Committed(Generic[T]):
    """What ``submit`` returns: await it for the operation's return value.

    Awaiting yields to the event loop once, with a bare ``yield``, which puts the waiting task
    behind the already scheduled flush: the write and the wake-up share one loop iteration,
    where a ``Future`` would need two. The flush is synchronous, so one yield always suffices.
    """

    __slots__ = ("_done", "_error", "_value")

    def __init__(self) -> None:
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None

    def _resolve(self, value: Any, error: BaseException | None) -> None:
        self._done, self._value, self._error = True, value, error

    def __await__(self) -> Generator[None, None, T]:
        while not self._done:
            yield
        if self._error is not None:
            raise self._error
        value: T = self._value
        return value


class GroupCommit:
    """Batches the writes submitted in one turn of the event loop.

    Journal writes (``append``) are committed first, together, as ``append_journal`` commits
    them: without waiting for the disk. The other operations follow in one transaction that
    does wait, in the order they were submitted; then the single statements queued with
    ``write_rows`` (runs that end), in one more that waits, sent whole in one round trip.
    Committing the journal first is safe because a run awaits each operation it submits
    before it appends again: within one run nothing is reordered, and writes of different
    runs touch different rows. Keeping the journal apart means a step result never waits
    for the disk because another run's end happened to share its turn.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._operations: list[tuple[Operation, Committed[Any]]] = []
        self._appends: list[tuple[JournalRow, Committed[int]]] = []
        self._statements: list[tuple[Statement, Callable[[], object], Committed[list[Row]]]] = []
        self._statements_notify: set[Topic] = set()
        self._scheduled = False
        self._notify_after: set[Topic] = set()
        self._durable = False

    def submit(
        self,
        operation: Callable[[Transaction], T],
        *,
        notify: Collection[Topic] = (),
        durable: bool = True,
    ) -> Committed[T]:
        """Queue ``operation`` for the next commit; await the result for its return value.

        ``notify``: the topics to tell other processes about (workers, the scheduler,
        waiting clients) when the batch commits; the batch notifies those of all its
        operations, and waits for the disk (``Store.transaction``'s ``durable``) if any of
        them asks to.
        """
        committed: Committed[T] = Committed()
        self._operations.append((operation, committed))
        self._notify_after.update(notify)
        self._durable = self._durable or durable
        self._schedule()
        return committed

    def append(self, row: JournalRow) -> Committed[int]:
        """Queue a journal row (see ``append_journal``); await it for the rows inserted."""
        committed: Committed[int] = Committed()
        self._appends.append((row, committed))
        self._schedule()
        return committed

    def write_rows(
        self,
        statement: Statement,
        *,
        notify: Collection[Topic] = (),
        guard: Callable[[], object] = lambda: None,
    ) -> Committed[list[Row]]:
        """Queue one statement that returns rows, to be committed (waiting for the disk)
        with the others of this turn; await it for its rows. ``guard`` is called as the
        batch goes out: an error it raises is this statement's outcome, and the statement
        stays out of the batch."""
        committed: Committed[list[Row]] = Committed()
        self._statements.append((statement, guard, committed))
        self._statements_notify.update(notify)
        self._schedule()
        return committed

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        operations, self._operations = self._operations, []
        appends, self._appends = self._appends, []
        notify, self._notify_after = self._notify_after, set()
        durable, self._durable = self._durable, False
        statements, self._statements = self._statements, []
        topics, self._statements_notify = self._statements_notify, set()
        self._scheduled = False
        store = self._store
        if appends:
            self._commit(
                appends,
                lambda: append_journal(store, [row for row, _ in appends]),
                lambda row: append_journal(store, [row])[0],
            )
        if operations:
            self._commit(
                operations,
                lambda: transact.run(
                    store,
                    lambda tx: [op(tx) for op, _ in operations],
                    notify=notify,
                    durable=durable,
                ),
                lambda operation: transact.run(store, operation, notify=notify, durable=durable),
            )
        ready: list[tuple[Statement, Committed[list[Row]]]] = []
        for statement, guard, committed in statements:
            try:
                guard()
            except Exception as exc:
                committed._resolve(None, exc)
            else:
                ready.append((statement, committed))
        if ready:
            self._commit(
                ready,
                lambda: transact.write_rows(store, [item for item, _ in ready], notify=topics),
                lambda item: transact.write_rows(store, [item], notify=topics)[0],
            )

    @staticmethod
    def _commit(
        batch: list[tuple[W, Committed[Any]]],
        write_all: Callable[[], list[Any]],
        write_one: Callable[[W], Any],
    ) -> None:
        """Resolve every ``Committed`` of ``batch`` with the value ``write_all`` returned for
        it. When the batch fails as a whole, each write is tried alone with ``write_one``, so
        that a failure reaches only its own caller."""
        try:
            values = write_all()
        except Exception as exc:
            if len(batch) == 1:
                batch[0][1]._resolve(None, exc)
                return
            for item, committed in batch:
                _settle(committed, functools.partial(write_one, item))
        else:
            for (_, committed), value in zip(batch, values, strict=True):
                committed._resolve(value, None)


def _settle(committed: Committed[Any], write: Callable[[], Any]) -> None:
    """Resolve ``committed`` with what ``write()`` returns, or with its error."""
    try:
        value = write()
    except Exception as exc:
        committed._resolve(None, exc)
    else:
        committed._resolve(value, None)
