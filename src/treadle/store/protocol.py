"""What the runtime asks of a database backend.

A backend runs named queries (see ``sql/<dialect>.sql``) inside transactions and translates
its driver's errors into ``StoreError``s. It holds no business logic: the runtime composes
queries into operations.
"""

from __future__ import annotations

import contextlib
import enum
import select
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any, Protocol

Row = dict[str, Any]
Params = Mapping[str, Any] | Sequence[Any]
Statement = tuple[str, Params]
"""A named query and its parameters."""


class Topic(enum.StrEnum):
    """What a notification is about: a listener hears only the topics it asked for."""

    TASKS = "tasks"  # a task became ready or came back: workers claim
    TIMERS = "timers"  # a timer, a run's deadline or a schedule changed: the scheduler looks
    RUNS = "runs"  # a run reached a final status: clients waiting for a result look


ALL_TOPICS = frozenset(Topic)


def payload_of(topics: Collection[Topic]) -> str:
    """The text a notification of ``topics`` carries: their names, sorted, comma-separated
    (sorted, so that PostgreSQL folds equal notifications of one transaction into one)."""
    return ",".join(sorted(topics))


def topics_of(payload: str) -> frozenset[Topic]:
    """The topics a notification's text names. Text naming no topic, or one this version
    does not know (sent by an older or a newer Treadle, or by hand), stands for all of
    them: a needless wake-up costs a look, a lost one a poll interval."""
    try:
        return frozenset(Topic(name) for name in payload.split(","))
    except ValueError:
        return ALL_TOPICS


class Reader(Protocol):
    """What can run a reading query: a transaction, or a store running it on its own."""

    def fetch_one(self, query: str, params: Params = ()) -> Row | None: ...


class Transaction(Protocol):
    def execute(self, query: str, params: Params = ()) -> int:
        """Run the named query; return how many rows it changed."""
        ...

    def fetch_one(self, query: str, params: Params = ()) -> Row | None: ...

    def fetch_all(self, query: str, params: Params = ()) -> list[Row]: ...

    def execute_each(self, statements: Sequence[Statement]) -> list[int]:
        """Run statements that do not depend on each other's outcome, in order, and return
        how many rows each changed (PostgreSQL sends them in one round trip)."""
        ...

    def fetch_each(self, statements: Sequence[Statement]) -> list[list[Row]]:
        """Run statements in order and return the rows each returned (PostgreSQL sends them
        in one round trip)."""
        ...

    def defer(self, statements: Sequence[Statement]) -> None:
        """Run statements whose outcome nobody needs, in order, before the next statement of
        this transaction or its commit, whichever comes first.

        PostgreSQL sends them along with that next statement or with the COMMIT, in the same
        round trip. A failure among them fails the statement or the commit they went with,
        and the transaction with it.
        """
        ...


class Store(Protocol):
    url: str
    """The database URL, with any password removed."""
    dialect: str

    @property
    def outages(self) -> int:
        """How many times this store has found the database server gone (its connection
        closed under it). Writes that did not wait for the disk (journal appends, claims) and
        were acknowledged before an outage may be missing after it: a worker stops the runs
        it was executing across one and lets them be replayed from what the database holds.
        """
        ...

    def transaction(
        self, *, notify: Collection[Topic] = (), durable: bool = True
    ) -> contextlib.AbstractContextManager[Transaction]:
        """A read-write transaction, committed when the block ends without an error.

        ``notify`` names the topics to tell listening processes about, as ``notify`` does,
        once it has committed (on PostgreSQL in the same round trip as the commit); none by
        default. ``durable=False`` lets the commit return before the database has flushed
        it to disk, as journal appends do (see ``write``): for a change that a crash of the
        database server may undo without harm, because nobody outside has been told of it
        and the next durable commit flushes it.
        """
        ...

    def fetch_one(self, query: str, params: Params = ()) -> Row | None:
        """Run one reading query on its own (it sees one consistent state) and return its
        first row."""
        ...

    def fetch_all(self, query: str, params: Params = ()) -> list[Row]:
        """``fetch_one``, returning every row."""
        ...

    def write(
        self,
        statements: Sequence[Statement],
        *,
        notify: Collection[Topic] = (),
        durable: bool = True,
    ) -> list[int]:
        """Run statements that do not depend on each other's outcome in one transaction,
        commit it, and return how many rows each changed (PostgreSQL: one round trip).

        ``notify`` and ``durable`` as in ``transaction``. Journal writes (rows a replay
        would write again if they were lost) pass ``durable=False``: a crash of the database
        server (never of a Treadle process) can then lose the last ones, and a later durable
        commit makes them durable too.
        """
        ...

    def write_rows(
        self,
        statements: Sequence[Statement],
        *,
        notify: Collection[Topic] = (),
        durable: bool = True,
    ) -> list[list[Row]]:
        """``write`` for statements that return rows (``RETURNING``, or reads that go with
        the writes): run them in one transaction, commit it, and return the rows of each
        (PostgreSQL: one round trip). Safe to repeat, as ``write``'s."""
        ...

    def write_in_turn(
        self, transactions: Sequence[Sequence[Statement]], *, durable: bool = True
    ) -> list[list[Row]]:
        """Run each sequence of statements as a transaction of its own, committing one
        before the next begins, and return the rows of every statement, in order
        (PostgreSQL: all in one round trip). When one fails, those before it stay committed
        and those after it are not run. The statements of a later transaction find what an
        earlier one did by what it wrote, not by what it returned."""
        ...

    def snapshot(self) -> contextlib.AbstractContextManager[Transaction]:
        """A transaction for reading: a consistent view of the database."""
        ...

    def migrate(self) -> tuple[int, int]:
        """Create or upgrade the schema; return the versions before and after."""
        ...

    def schema_version(self) -> int | None:
        """The schema version in the database, or None when it holds no Treadle schema."""
        ...

    def check_schema(self) -> None:
        """Raise a ``SchemaError`` unless the schema is exactly the one this code expects."""
        ...

    def notify(self, topics: Collection[Topic]) -> None:
        """Tell the processes listening for any of ``topics`` (best effort); with no topics,
        send nothing."""
        ...

    def checkpoint(self) -> None:
        """Housekeeping that is best done off the hot path (SQLite: a WAL checkpoint)."""
        ...

    def listener(self, topics: Collection[Topic]) -> Listener:
        """Start receiving the notifications of ``topics`` sent by any process."""
        ...

    def close(self) -> None: ...


class Listener(Protocol):
    def fileno(self) -> int:
        """For ``select`` and event loops: readable when a notification arrived (rarely, one
        that ``drain`` then finds to be of no topic asked for)."""
        ...

    def wait(self, timeout: float) -> bool:
        """Block until a notification of one of the listener's topics arrives or ``timeout``
        seconds pass; say whether one arrived. It is drained."""
        ...

    def drain(self) -> set[Topic]:
        """The listener's topics notified since the last ``drain``; forget them."""
        ...

    def close(self) -> None: ...


def iter_blocks(text: str) -> Iterator[tuple[str, str]]:
    """Split a dialect file into ``(name, sql)`` pairs at ``-- name: <query>`` lines."""
    name: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("-- name:"):
            if name is not None:
                yield name, "\n".join(lines).strip()
            name, lines = line.removeprefix("-- name:").strip(), []
        elif name is not None:
            lines.append(line)
    if name is not None:
        yield name, "\n".join(lines).strip()


def wait_for_topics(listener: Listener, timeout: float) -> bool:
    """Block until ``listener`` hears one of its topics (``True``) or ``timeout`` seconds
    pass (``False``); wake-ups for other topics are drained on the way."""
    give_up = time.monotonic() + timeout
    while True:
        readable, _, _ = select.select(
            [listener.fileno()], [], [], max(0.0, give_up - time.monotonic())
        )
        if not readable:
            return False
        if listener.drain():
            return True
