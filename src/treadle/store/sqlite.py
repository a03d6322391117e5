"""The embedded backend: one SQLite file in WAL mode, shared by any number of processes."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from treadle import errors
from treadle.store import migrations, queries, wakeup
from treadle.store.protocol import Params, Row, Statement, Topic

DIALECT = "sqlite"
SYNCHRONOUS_MODES = ("normal", "full")
# Checkpoints fsync; left to SQLite's default (every 1000 pages) they land inside a commit and
# double its average cost. Workers checkpoint from a background thread instead (see
# ``checkpoint``); this bound only keeps the log small where no worker runs.
AUTOCHECKPOINT_PAGES = 10000
PAGE_SIZE = 2048


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Row:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


def _translate(exc: sqlite3.Error, path: str) -> errors.StoreError:
    text = str(exc)
    if "file is not a database" in text:
        return errors.NotATreadleDatabaseError(
            f"{path} is not a SQLite database, so it cannot be a Treadle database: "
            "point --database (or TREADLE_DATABASE) at a Treadle database file, or at a new "
            "file name to create one."
        )
    if "unable to open database file" in text or "readonly" in text:
        return errors.DatabaseUnavailableError(
            f"cannot open {path} for writing ({text}): check that its folder exists and "
            "that this user may write there."
        )
    if "locked" in text or "busy" in text:
        return errors.DatabaseUnavailableError(
            f"{path} stayed locked by another process for too long ({text}); "
            "try again, or look for a process holding a long transaction."
        )
    return errors.StoreError(f"SQLite error on {path}: {text}")


def _statements(script: str) -> list[str]:
    """Split a migration script into the statements it holds, in order."""
    found, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            found.append(pending.strip())
            pending = ""
    if pending.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in pending.splitlines()
    ):
        raise errors.SchemaError(f"a migration ends in an unfinished statement: {pending!r}")
    return found


def _scripts(sql: dict[str, str]) -> dict[str, list[str]]:
    """The named queries that hold several statements (where PostgreSQL has one with a
    writable WITH), split into them."""
    return {name: parts for name, text in sql.items() if len(parts := _statements(text + ";")) > 1}


class _Transaction:
    __slots__ = ("_connection", "_scripts", "_sql")

    def __init__(
        self, connection: sqlite3.Connection, sql: dict[str, str], scripts: dict[str, list[str]]
    ) -> None:
        self._connection = connection
        self._sql = sql
        self._scripts = scripts

    def execute(self, query: str, params: Params = ()) -> int:
        script = self._scripts.get(query)
        if script is None:
            return self._connection.execute(self._sql[query], params).rowcount
        # In order, with the same parameters; the last statement's count is the query's.
        for statement in script[:-1]:
            self._connection.execute(statement, params)
        return self._connection.execute(script[-1], params).rowcount

    def fetch_one(self, query: str, params: Params = ()) -> Row | None:
        if query in self._scripts:
            rows = self.fetch_all(query, params)
            return rows[0] if rows else None
        row: Row | None = self._connection.execute(self._sql[query], params).fetchone()
        return row

    def fetch_all(self, query: str, params: Params = ()) -> list[Row]:
        script = self._scripts.get(query)
        if script is None:
            rows: list[Row] = self._connection.execute(self._sql[query], params).fetchall()
            return rows
        # The first statement's rows; the others follow it, with the same parameters.
        rows = self._connection.execute(script[0], params).fetchall()
        for statement in script[1:]:
            self._connection.execute(statement, params)
        return rows

    def execute_each(self, statements: Sequence[Statement]) -> list[int]:
        return [self.execute(query, params) for query, params in statements]

    def fetch_each(self, statements: Sequence[Statement]) -> list[list[Row]]:
        return [self.fetch_all(query, params) for query, params in statements]

    def defer(self, statements: Sequence[Statement]) -> None:
        # In-process: nothing to save by waiting.
        self.execute_each(statements)


class SQLiteStore:
    """A Treadle database in one SQLite file.

    ``synchronous="normal"`` (the default) keeps every committed transaction through a crash
    of any process; ``"full"`` also keeps the last ones through a power loss, at about ten
    times the cost of a commit. See docs/durability.md.
    """

    dialect = DIALECT
    # Nothing stands between this process and the file: a commit it saw is there.
    outages = 0

    def __init__(self, path: str, *, synchronous: str = "normal", busy_timeout: float = 30.0):
        if synchronous not in SYNCHRONOUS_MODES:
            raise errors.UsageError(
                f"synchronous={synchronous!r} is not a SQLite durability mode Treadle uses: "
                f"choose one of {', '.join(SYNCHRONOUS_MODES)}"
            )
        self.path = path
        self.url = f"sqlite:///{path}"
        self.synchronous = synchronous
        self._busy_timeout = busy_timeout
        self._sql = queries.load(DIALECT)
        self._scripts = _scripts(self._sql)
        self._lock = threading.RLock()
        self._notifier: wakeup.Notifier | None = None
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise errors.DatabaseUnavailableError(
                f"cannot create the database {path}: the folder {folder} does not exist"
            )
        try:
            # No busy timeout on the connection: SQLite's own handler sleeps whole
            # milliseconds (1, 2, 5, 10...) while another process commits in microseconds;
            # ``_begin`` waits its turn in much finer steps.
            self._connection = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=0
            )
            self._connection.row_factory = _dict_row
        except sqlite3.Error as exc:
            raise _translate(exc, path) from exc
        try:
            # Refuse another application's file before changing anything in it: the journal
            # mode below is written into the file's header.
            if self.schema_version() is None:
                # A new file: every commit writes whole pages to the log, and a history row
                # with its two indexes touches about three; 2 KiB pages halve what each step
                # writes and what each checkpoint copies, against 4 KiB ones.
                self._connection.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            mode = self._connection.execute("PRAGMA journal_mode = WAL").fetchone()
            self._connection.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            self._connection.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
        except sqlite3.Error as exc:
            self._connection.close()
            raise _translate(exc, path) from exc
        except errors.TreadleError:
            self._connection.close()
            raise
        if mode and str(next(iter(mode.values()))).lower() != "wal":
            raise errors.DatabaseUnavailableError(
                f"{path} cannot use SQLite's WAL mode, which several processes need to share "
                "it: put the database on a local file system."
            )

    @contextlib.contextmanager
    def transaction(
        self, *, notify: Collection[Topic] = (), durable: bool = True
    ) -> Iterator[_Transaction]:
        # ``durable`` changes nothing here: with synchronous=NORMAL no commit waits for the
        # disk, and with FULL every one should.
        with self._lock:
            connection = self._connection
            self._begin(connection)
            try:
                yield _Transaction(connection, self._sql, self._scripts)
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):  # a statement failed: say so in our terms
                    raise _translate(exc, self.path) from exc
                raise
            try:
                connection.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
                raise _translate(exc, self.path) from exc
        if notify:
            self.notify(notify)

    def fetch_one(self, query: str, params: Params = ()) -> Row | None:
        with self.snapshot() as tx:
            return tx.fetch_one(query, params)

    def fetch_all(self, query: str, params: Params = ()) -> list[Row]:
        with self.snapshot() as tx:
            return tx.fetch_all(query, params)

    def write(
        self,
        statements: Sequence[Statement],
        *,
        notify: Collection[Topic] = (),
        durable: bool = True,
    ) -> list[int]:
        with self.transaction(notify=notify, durable=durable) as tx:
            return tx.execute_each(statements)

    def write_rows(
        self,
        statements: Sequence[Statement],
        *,
        notify: Collection[Topic] = (),
        durable: bool = True,
    ) -> list[list[Row]]:
        with self.transaction(notify=notify, durable=durable) as tx:
            return tx.fetch_each(statements)

    def write_in_turn(
        self, transactions: Sequence[Sequence[Statement]], *, durable: bool = True
    ) -> list[list[Row]]:
        results: list[list[Row]] = []
        for statements in transactions:
            results += self.write_rows(statements, durable=durable)
        return results

    def _begin(self, connection: sqlite3.Connection) -> None:
        # IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading
        # read locks; the loser polls for the lock, backing off from 50 us to 2 ms.
        pause, give_up = 0.00005, 0.0
        while True:
            try:
                connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise _translate(exc, self.path) from exc
                now = time.monotonic()
                give_up = give_up or now + self._busy_timeout
                if now >= give_up:
                    raise _translate(exc, self.path) from exc
            except sqlite3.Error as exc:
                raise _translate(exc, self.path) from exc
            time.sleep(pause)
            pause = min(pause * 2, 0.002)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[_Transaction]:
        """A read-only transaction: a consistent view that takes no write lock."""
        with self._lock:
            connection = self._connection
            try:
                connection.execute("BEGIN")
                yield _Transaction(connection, self._sql, self._scripts)
            except sqlite3.Error as exc:
                raise _translate(exc, self.path) from exc
            finally:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("COMMIT")

    def schema_version(self) -> int | None:
        with self._lock:
            try:
                tables = {
                    row["name"]
                    for row in self._connection.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table'"
                    )
                }
                if "treadle_meta" not in tables:
                    if tables:
                        raise errors.NotATreadleDatabaseError(
                            f"{self.path} holds tables of another application "
                            f"({', '.join(sorted(tables)[:5])}): give Treadle a database "
                            "file of its own."
                        )
                    return None
                row = self._connection.execute(
                    "SELECT value FROM treadle_meta WHERE key = 'schema_version'"
                ).fetchone()
            except sqlite3.Error as exc:
                raise _translate(exc, self.path) from exc
        return int(row["value"]) if row else None

    def check_schema(self) -> None:
        found, expected = self.schema_version(), migrations.latest(DIALECT)
        if found is None:
            raise errors.SchemaOutdatedError(
                f"{self.path} has no Treadle schema yet: run `treadle migrate`"
            )
        if found > expected:
            raise errors.SchemaTooNewError(
                f"{self.path} has schema version {found}, written by a newer Treadle; this "
                f"Treadle knows versions up to {expected}: upgrade Treadle to use this database."
            )
        if found < expected:
            raise errors.SchemaOutdatedError(
                f"{self.path} has schema version {found} and this Treadle needs {expected}: "
                "run `treadle migrate`."
            )

    def migrate(self) -> tuple[int, int]:
        latest = migrations.latest(DIALECT)
        with self.transaction() as tx:
            # Read the version under the write lock: two processes migrating at once apply
            # each script once, and a crash leaves the old version whole.
            before = self.schema_version() or 0
            if before > latest:
                self.check_schema()
            for version, script in migrations.scripts(DIALECT):
                if version > before:
                    for statement in _statements(script):
                        self._connection.execute(statement)
                    tx.execute("set_meta", {"key": "schema_version", "value": str(version)})
        return before, latest

    def notify(self, topics: Collection[Topic]) -> None:
        if self._notifier is None:
            self._notifier = wakeup.Notifier(wakeup.folder_for(self.path))
        self._notifier.notify(topics)

    def listener(self, topics: Collection[Topic]) -> wakeup.SocketListener:
        return wakeup.SocketListener(wakeup.folder_for(self.path), topics)

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database file without blocking writers.

        Meant for a background thread: it opens a connection of its own, so the fsyncs it
        does never hold up a transaction on this store's connection.
        """
        try:
            connection = sqlite3.connect(self.path, isolation_level=None, timeout=1.0)
            try:
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                connection.close()
        except sqlite3.Error as exc:
            raise _translate(exc, self.path) from exc

    def close(self) -> None:
        with self._lock:
            self._connection.close()
            if self._notifier is not None:
                self._notifier.close()
