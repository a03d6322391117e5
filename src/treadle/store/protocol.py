"""What the runtime asks of a database backend.

A backend runs named queries (see ``sql/<dialect>.sql``) inside transactions and translates
its driver's errors into ``StoreError``s. It holds no business logic: the runtime composes
queries into operations.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

Row = dict[str, Any]
Params = Mapping[str, Any] | Sequence[Any]
Statement = tuple[str, Params]
"""A named query and its parameters."""


class Reader(Protocol):
    """What can run a reading query: a transaction, or a store running it on its own."""

    def fetch_one(self, query: str, params: Params = ()) -> Row | None: ...


class Transaction(Protocol):
    def execute(self, query: str, params: Params = ()) -> int:
        """Run the named query; return how many rows it changed."""
        ...

    def fetch_one(self, query: str, params: Params = ()) -> Row | None: ...

    def fetch_all(self, query: str, params: Params = ()) -> list[Row]: ...

    def execute_many(self, query: str, rows: Sequence[Params]) -> None: ...

    def execute_each(self, statements: Sequence[Statement]) -> list[int]:
        """Run statements that do not depend on each other's outcome, in order, and return
        how many rows each changed (PostgreSQL sends them in one round trip)."""
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

    def transaction(
        self, *, notify: bool = False, durable: bool = True
    ) -> contextlib.AbstractContextManager[Transaction]:
        """A read-write transaction, committed when the block ends without an error.

        ``notify`` tells listening processes, as ``notify()`` does, once it has committed
        (on PostgreSQL in the same round trip as the commit). ``durable=False`` lets the
        commit return before the database has flushed it to disk, as journal appends do (see
        ``append``): for a change that a crash of the database server may undo without harm,
        because nobody outside has been told of it and the next durable commit flushes it.
        """
        ...

    def fetch_one(self, query: str, params: Params = ()) -> Row | None:
        """Run one reading query on its own (it sees one consistent state) and return its
        first row."""
        ...

    def write(
        self, statements: Sequence[Statement], *, notify: bool = False, durable: bool = True
    ) -> list[int]:
        """Run statements that do not depend on each other's outcome in one transaction,
        commit it, and return how many rows each changed (PostgreSQL: one round trip).

        ``notify`` and ``durable`` as in ``transaction``. Journal writes (rows a replay
        would write again if they were lost) pass ``durable=False``: a crash of the database
        server (never of a Treadle process) can then lose the last ones, and a later durable
        commit makes them durable too.
        """
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

    def notify(self) -> None:
        """Tell listening processes that tasks or runs changed (best effort)."""
        ...

    def checkpoint(self) -> None:
        """Housekeeping that is best done off the hot path (SQLite: a WAL checkpoint)."""
        ...

    def listener(self) -> Listener:
        """Start receiving notifications sent by ``notify`` from any process."""
        ...

    def close(self) -> None: ...


class Listener(Protocol):
    def fileno(self) -> int:
        """For ``select`` and event loops: readable when a notification arrived."""
        ...

    def wait(self, timeout: float) -> bool:
        """Block until a notification arrives or ``timeout`` seconds pass."""
        ...

    def drain(self) -> None:
        """Forget notifications received so far."""
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
