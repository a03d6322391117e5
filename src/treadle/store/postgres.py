"""The production backend: PostgreSQL, shared by workers on any number of machines.

PostgreSQL is the distributed engine: workers claim tasks with ``FOR UPDATE SKIP LOCKED``,
wake each other with ``LISTEN``/``NOTIFY``, and fence late writes by the same lease epochs as
on SQLite. Treadle runs no consensus protocol of its own.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import select
import socket
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import NamedTuple, TypeVar

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from treadle import errors
from treadle.store import migrations, protocol, queries
from treadle.store.protocol import Params, Row, Statement, Topic

DIALECT = "postgres"
T = TypeVar("T")
# Each topic has a channel of its own, so that a process hears only what it waits for: a
# client is not woken by the runs it starts, nor a worker by the runs it ends. Notifications
# on the bare channel (from a person, say) still reach every listener.
CHANNEL = "treadle"
# Any constant works, as long as every Treadle process uses the same one.
MIGRATION_LOCK = 7_204_115_111
# A statement ready to send (its text and parameters), and several sent together.
_Sql = tuple[bytes | str, Params | None]
_Batch = Sequence[_Sql]
_BEGIN: _Batch = ((b"BEGIN", None),)
_BEGIN_SNAPSHOT: _Batch = ((b"BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", None),)
_COMMIT: _Batch = ((b"COMMIT", None),)
# With synchronous="normal" a session commits without waiting for its log record to reach
# the disk (the server writes it out within a fraction of a second, and any later waiting
# commit flushes it too, the log being written in order): right for journal appends, which
# a replay writes again. Every other transaction waits, as the server is configured to: the
# session's setting before this, which a transaction sets again for itself (``_ending``).
_ASYNC_SESSION = b"SET synchronous_commit TO off"
_SYNCHRONOUS_COMMIT = frozenset({"on", "off", "local", "remote_write", "remote_apply"})
SYNCHRONOUS_MODES = ("normal", "full")
# A churned table is vacuumed when its dead rows pass both (autovacuum's own defaults).
DEAD_ROWS = 1000
DEAD_SHARE = 0.2
# A table is analyzed when it holds more than both: this many rows, and this many times the
# rows the planner last counted.
GROWN_ROWS = 1000
GROWN_FACTOR = 2.0
_IDLE = psycopg.pq.TransactionStatus.IDLE
log = logging.getLogger("treadle.store")


def redact(url: str) -> str:
    """The URL without its password (``user:password@`` or ``?password=``), for messages
    and logs."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is not None:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        parts = parts._replace(netloc=netloc)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    if any(key == "password" for key, _ in query):
        hidden = [(key, "***" if key == "password" else value) for key, value in query]
        parts = parts._replace(query=urllib.parse.urlencode(hidden, safe="*"))
    return urllib.parse.urlunsplit(parts)


# SQLSTATE classes and codes that mean the server, the network or the credentials are the
# problem: the connection (08), the server going away (57P0x), the login (28) or a missing
# database (3D).
_UNAVAILABLE = ("08", "28", "3D", "57P01", "57P02", "57P03")
# Deadlock detected and serialization failure: the transaction can simply be run again.
_CONFLICT = ("40P01", "40001")


def _channel(topic: Topic) -> str:
    return f"{CHANNEL}_{topic.value}"


@functools.cache
def _ending(topics: frozenset[Topic], wait: str | None) -> _Batch:
    """The statement that ends a write: it makes the commit wait for the log as ``wait``
    says (a value of synchronous_commit; None: as the session does) and notifies ``topics``
    when the transaction commits, never before. None when there is nothing to do.

    One statement, sent with the others: it costs no round trip of its own, and a
    pipeline's statements up to its end (the Sync) are one transaction, so the writes of a
    single round trip need no BEGIN and COMMIT either.
    """
    # Both are this module's own names, never user input: safe to spell out.
    calls = [f"set_config('synchronous_commit', '{wait}', true)"] if wait else []
    calls += [f"pg_notify('{_channel(topic)}', '')" for topic in sorted(topics)]
    return ((f"SELECT {', '.join(calls)}".encode(), None),) if calls else ()


def _translate(exc: psycopg.Error, url: str) -> errors.StoreError:
    text = str(exc).strip()
    state = exc.sqlstate or ""
    if state.startswith(_CONFLICT):
        return errors.TransactionConflictError(
            f"PostgreSQL at {url} rolled the transaction back ({text}); nothing was written: "
            "try again"
        )
    if isinstance(exc, psycopg.OperationalError) and (not state or state.startswith(_UNAVAILABLE)):
        return errors.DatabaseUnavailableError(
            f"cannot reach PostgreSQL at {url} ({text}): check that the server runs, that the "
            "host, port, user, password and database in the URL are right, and that this "
            "machine may connect"
        )
    return errors.StoreError(f"PostgreSQL error on {url}: {text}")


def _still_open(connection: psycopg.Connection[Row]) -> bool:
    """Whether an idle connection is still open, as far as can be told without a round trip:
    a server that ends a connection (shutting down, terminating a backend) says so, and its
    words or the end of the stream wait on the socket. One system call when all is well."""
    try:
        readable, _, _ = select.select([connection.fileno()], [], [], 0)
        if not readable:
            return True
        connection.pgconn.consume_input()
    except (OSError, ValueError, psycopg.Error):
        return False
    return connection.pgconn.status == psycopg.pq.ConnStatus.OK


class _Result(NamedTuple):
    """What one statement gave: the rows it changed and the rows it returned."""

    rowcount: int
    rows: list[Row]


class _Transaction:
    """Statements inside one transaction on one connection.

    The BEGIN and the statements whose outcome nobody waits for (``defer``) are held back
    and sent with the next statement or with the COMMIT, all in one round trip (see
    ``_round_trip``).
    """

    __slots__ = ("_begun", "_connection", "_pending", "_sql", "_store")

    def __init__(
        self, store: PostgresStore, connection: psycopg.Connection[Row], begin: _Batch
    ) -> None:
        self._store = store
        self._connection = connection
        self._sql = store._sql
        self._pending: list[_Sql] = list(begin)
        self._begun = False

    def _one(self, query: str, params: Params) -> _Result:
        return self._send([(self._sql[query], params or None)])[0]

    def _send(self, batch: _Batch, *, commit: bool = False) -> list[_Result]:
        """The pending statements and ``batch`` in one round trip; the results of ``batch``."""
        pending, self._pending = self._pending, []
        statements = [*pending, *batch]
        while True:
            try:
                results = _round_trip(self._connection, statements)
                break
            except psycopg.OperationalError as exc:
                # A connection that died while idle shows it only when used. While the
                # transaction has not begun, nothing was done and another connection may
                # take over; never once a COMMIT went out (it may have committed).
                if self._begun or commit or not self._connection.broken:
                    raise
                self._connection = self._store._replace(self._connection, exc)
        self._begun = True
        self._store._outage.over(self._connection)
        return results[len(pending) :]

    def _flush(self) -> None:
        if self._pending:
            self._send([])

    def _commit(self, tail: _Batch) -> None:
        if self._begun or len(self._pending) > 1:  # else nothing was done: nothing to end
            self._send(tail, commit=True)

    def _rollback(self) -> None:
        self._pending = []
        _roll_back(self._connection)

    def sql(self, text: bytes, params: Params = ()) -> psycopg.Cursor[Row]:
        """Raw SQL inside the transaction, for schema work that no named query covers."""
        self._flush()
        return self._connection.execute(text, params or None)

    def execute(self, query: str, params: Params = ()) -> int:
        return self._one(query, params).rowcount

    def fetch_one(self, query: str, params: Params = ()) -> Row | None:
        rows = self._one(query, params).rows
        return rows[0] if rows else None

    def fetch_all(self, query: str, params: Params = ()) -> list[Row]:
        return self._one(query, params).rows

    def execute_each(self, statements: Sequence[Statement]) -> list[int]:
        return [result.rowcount for result in self._each(statements)]

    def fetch_each(self, statements: Sequence[Statement]) -> list[list[Row]]:
        return [result.rows for result in self._each(statements)]

    def _each(self, statements: Sequence[Statement]) -> list[_Result]:
        return self._send(_named(self._sql, statements)) if statements else []

    def defer(self, statements: Sequence[Statement]) -> None:
        self._pending += _named(self._sql, statements)


def _roll_back(connection: psycopg.Connection[Row]) -> None:
    if connection.info.transaction_status != _IDLE:
        with contextlib.suppress(psycopg.Error):
            connection.execute(b"ROLLBACK", prepare=False)


def _named(sql: dict[str, str], statements: Sequence[Statement]) -> list[_Sql]:
    """Named queries as statements ready to send."""
    return [(sql[query], params or None) for query, params in statements]


def _round_trip(connection: psycopg.Connection[Row], statements: Sequence[_Sql]) -> list[_Result]:
    """Send ``statements`` at once and read all their results: one round trip.

    Several go in pipeline mode, each as a prepared statement (psycopg prepares a query once
    it was used a few times on a connection), so that the server neither parses nor plans
    it again. Binding the parameters in the client and sending one text message instead
    costs the client about half as much, but the server, which every client and worker
    shares, plans a claim or a run's end anew each time: more than a round trip here.
    """
    if len(statements) == 1:
        ((text, params),) = statements
        return [_read(connection.execute(text, params))]
    # On leaving the block psycopg sends a Sync and reads every result into its cursor; the
    # first error, if any, is raised there.
    with connection.pipeline():
        cursors = [connection.execute(text, params) for text, params in statements]
    return [_read(cursor) for cursor in cursors]


def _read(cursor: psycopg.Cursor[Row]) -> _Result:
    return _Result(cursor.rowcount, cursor.fetchall() if cursor.description else [])


class PostgresStore:
    """A Treadle database in PostgreSQL.

    Connections come from a pool (psycopg_pool) of up to ``pool_size``, one per thread at a
    time: a worker's event loop, the threads of its sync workflows and the threads of a
    client each get their own, so none waits for another's round trips. A connection found
    dead (the server restarted, the network dropped) is replaced, waiting up to
    ``reconnect_timeout`` seconds for the server to come back. ``synchronous="full"`` makes
    every commit wait for the server's log flush, journal appends included (see ``append``).
    """

    dialect = DIALECT

    def __init__(
        self,
        url: str,
        *,
        synchronous: str = "normal",
        pool_size: int = 10,
        reconnect_timeout: float = 60.0,
    ) -> None:
        if synchronous not in SYNCHRONOUS_MODES:
            raise errors.UsageError(
                f"synchronous={synchronous!r} is not a durability mode Treadle uses: choose "
                f"one of {', '.join(SYNCHRONOUS_MODES)}"
            )
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            raise errors.UsageError(
                f"pool_size must be a whole number of at least 1, not {pool_size!r}"
            )
        self.synchronous = synchronous
        self._dsn = url
        self.url = redact(url)
        self._sql = queries.load(DIALECT)
        self._reconnect_timeout = reconnect_timeout
        self._local = threading.local()
        self._outage = _Outage(self.url)
        self._lock = threading.Lock()
        self._hubs: dict[frozenset[Topic], _Hub] = {}
        # What a durable commit sets synchronous_commit to (see _configure); None: the
        # session waits for the disk already.
        self._wait_for_flush: str | None = None
        # A wrong URL fails here, at once and with the server's own words, rather than as a
        # pool timing out.
        try:
            self._open().close()
        except psycopg.Error as exc:
            raise _translate(exc, self.url) from exc
        self._pool: ConnectionPool[psycopg.Connection[Row]] = ConnectionPool(
            url,
            kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": 5},
            configure=self._configure,
            min_size=1,
            max_size=pool_size,
            timeout=reconnect_timeout,
            reconnect_timeout=reconnect_timeout,
            name="treadle",
            open=True,
        )

    @property
    def outages(self) -> int:
        return self._outage.count

    # -- connections -------------------------------------------------------------------------

    def _open(self) -> psycopg.Connection[Row]:
        connection = psycopg.connect(
            self._dsn, autocommit=True, row_factory=dict_row, connect_timeout=5
        )
        self._configure(connection)
        return connection

    def _configure(self, connection: psycopg.Connection[Row]) -> None:
        self._outage.born(connection)
        if self.synchronous == "normal":
            row = connection.execute(b"SHOW synchronous_commit", prepare=False).fetchone()
            setting = row["synchronous_commit"] if row else "on"
            self._wait_for_flush = setting if setting in _SYNCHRONOUS_COMMIT else "on"
            connection.execute(_ASYNC_SESSION, prepare=False)

    @contextlib.contextmanager
    def _checkout(self) -> Iterator[psycopg.Connection[Row]]:
        """A connection of the pool for this thread, or the one this thread holds already (a
        block nested in another). A transaction may swap it for another (``_replace``)."""
        held: psycopg.Connection[Row] | None = getattr(self._local, "connection", None)
        if held is not None:
            yield held
            return
        self._local.connection = self._ready()
        try:
            yield self._local.connection
        finally:
            connection, self._local.connection = self._local.connection, None
            self._pool.putconn(connection)

    def _ready(self) -> psycopg.Connection[Row]:
        while True:
            try:
                connection = self._pool.getconn()
            except PoolTimeout as exc:
                raise errors.DatabaseUnavailableError(
                    f"cannot reach PostgreSQL at {self.url}: no connection for "
                    f"{self._reconnect_timeout:g} s ({exc}); check that the server runs"
                ) from exc
            if _still_open(connection):
                return connection
            # The server closed it while it idled (a restart, say): nothing was sent on it
            # yet, so even a message that ends in COMMIT can go on another.
            self._outage.lost(psycopg.OperationalError("the server closed an idle connection"))
            self._pool.putconn(connection)  # the pool drops a broken one
            self._pool.check()  # its idle siblings died with it: drop them all

    def _replace(
        self, dead: psycopg.Connection[Row], exc: psycopg.OperationalError
    ) -> psycopg.Connection[Row]:
        """Another connection for this thread's block, in place of ``dead``."""
        self._outage.lost(exc)
        self._local.connection = None
        self._pool.putconn(dead)  # the pool drops a broken one
        self._pool.check()  # its idle siblings died with it: drop them all
        connection = self._local.connection = self._ready()
        return connection

    # -- transactions ------------------------------------------------------------------------

    def transaction(
        self, *, notify: Collection[Topic] = (), durable: bool = True
    ) -> contextlib.AbstractContextManager[_Transaction]:
        return self._transaction(_BEGIN, self._commit_statements(notify=notify, durable=durable))

    def _commit_statements(self, *, notify: Collection[Topic], durable: bool) -> _Batch:
        return (*self._ending(notify=notify, durable=durable), *_COMMIT)

    def _ending(self, *, notify: Collection[Topic], durable: bool) -> _Batch:
        # The session does not wait for the log flush (see _configure); a durable write does.
        wait = self._wait_for_flush if durable else None
        return _ending(frozenset(notify), wait)

    def fetch_one(self, query: str, params: Params = ()) -> Row | None:
        # One statement is its own transaction: no BEGIN and COMMIT round trips around it.
        return self._alone(
            lambda connection: connection.execute(self._sql[query], params or None).fetchone()
        )

    def fetch_all(self, query: str, params: Params = ()) -> list[Row]:
        return self._alone(
            lambda connection: connection.execute(self._sql[query], params or None).fetchall()
        )

    def write(
        self,
        statements: Sequence[Statement],
        *,
        notify: Collection[Topic] = (),
        durable: bool = True,
    ) -> list[int]:
        results = self._written(statements, notify=notify, durable=durable)
        return [result.rowcount for result in results]

    def write_rows(
        self,
        statements: Sequence[Statement],
        *,
        notify: Collection[Topic] = (),
        durable: bool = True,
    ) -> list[list[Row]]:
        return [result.rows for result in self._written(statements, notify=notify, durable=durable)]

    def _written(
        self, statements: Sequence[Statement], *, notify: Collection[Topic], durable: bool
    ) -> list[_Result]:
        """``statements`` in a transaction of their own, committed, in one round trip
        (``write`` and ``write_rows``): what one pipeline sends is one transaction."""
        held: _Transaction | None = getattr(self._local, "transaction", None)
        if held is not None:
            return held._each(statements)  # part of the block this thread is in
        sent = [*_named(self._sql, statements), *self._ending(notify=notify, durable=durable)]
        return self._alone(lambda connection: _round_trip(connection, sent)[: len(statements)])

    def write_in_turn(
        self, transactions: Sequence[Sequence[Statement]], *, durable: bool = True
    ) -> list[list[Row]]:
        held: _Transaction | None = getattr(self._local, "transaction", None)
        if held is not None:  # part of the block this thread is in
            return [result.rows for statements in transactions for result in held._each(statements)]
        # BEGIN and COMMIT divide a pipeline into transactions, each committed as the server
        # reaches its COMMIT (the last one's is the pipeline's end); after an error the
        # server skips the rest.
        last = len(transactions) - 1
        sent: list[_Sql] = []
        wanted: list[int] = []
        for index, statements in enumerate(transactions):
            if index < last:
                sent += _BEGIN
            wanted += range(len(sent), len(sent) + len(statements))
            sent += _named(self._sql, statements)
            if index < last:
                sent += self._commit_statements(notify=(), durable=durable)
            else:
                sent += self._ending(notify=(), durable=durable)

        def in_one_round_trip(connection: psycopg.Connection[Row]) -> list[list[Row]]:
            try:
                results = _round_trip(connection, sent)
            except psycopg.Error:
                _roll_back(connection)  # a transaction that failed after its BEGIN is open
                raise
            return [results[index].rows for index in wanted]

        return self._alone(in_one_round_trip)

    def _alone(self, statement: Callable[[psycopg.Connection[Row]], T]) -> T:
        """``statement`` on a connection outside any transaction: it commits by itself.

        Should the connection die on the way, it runs again on another, so it must be safe
        to repeat: whatever ``write`` is given is (a run's creation finds its id taken and
        reports no row changed, which is the existing run's answer; a journal row found
        there reports 0, which the caller takes for a lost lease and the run is replayed
        elsewhere), and reads are.
        """
        for attempt in (1, 2):
            with self._checkout() as connection:
                try:
                    value = statement(connection)
                except psycopg.OperationalError as exc:
                    # Most likely it died while idle: once more on another.
                    if attempt == 2 or not connection.broken:
                        raise _translate(exc, self.url) from exc
                    self._outage.lost(exc)
                except psycopg.Error as exc:
                    raise _translate(exc, self.url) from exc
                else:
                    self._outage.over(connection)
                    return value
            self._pool.check()
        raise AssertionError("unreachable: the second attempt returns or raises")

    def snapshot(self) -> contextlib.AbstractContextManager[_Transaction]:
        """A read-only transaction on one snapshot: a run and its history read in it agree,
        which READ COMMITTED (a new snapshot per statement) would not promise."""
        return self._transaction(_BEGIN_SNAPSHOT)

    @contextlib.contextmanager
    def _transaction(self, begin: _Batch, commit: _Batch = _COMMIT) -> Iterator[_Transaction]:
        held: _Transaction | None = getattr(self._local, "transaction", None)
        if held is not None:
            # A block inside another (check_schema inside migrate) is part of it.
            yield held
            return
        with self._checkout() as connection:
            tx = self._local.transaction = _Transaction(self, connection, begin)
            try:
                try:
                    yield tx
                except BaseException as exc:
                    tx._rollback()
                    if isinstance(exc, psycopg.Error):
                        raise _translate(exc, self.url) from exc
                    raise
                try:
                    tx._commit(commit)
                except psycopg.Error as exc:
                    tx._rollback()
                    raise _translate(exc, self.url) from exc
            finally:
                self._local.transaction = None

    # -- schema ------------------------------------------------------------------------------

    def schema_version(self) -> int | None:
        with self.transaction() as tx:
            return self._version(tx)

    def _version(self, tx: _Transaction) -> int | None:
        tables = {
            row["table_name"]
            for row in tx.sql(
                b"SELECT table_name FROM information_schema.tables "
                b"WHERE table_schema = current_schema()"
            ).fetchall()
        }
        if "treadle_meta" not in tables:
            if tables:
                raise errors.NotATreadleDatabaseError(
                    f"{self.url} holds tables of another application "
                    f"({', '.join(sorted(tables)[:5])}): give Treadle a database (or schema) "
                    "of its own."
                )
            return None
        row = tx.fetch_one("get_meta", {"key": "schema_version"})
        return int(row["value"]) if row else None

    def check_schema(self) -> None:
        found, expected = self.schema_version(), migrations.latest(DIALECT)
        if found is None:
            raise errors.SchemaOutdatedError(
                f"{self.url} has no Treadle schema yet: run `treadle migrate`"
            )
        if found > expected:
            raise errors.SchemaTooNewError(
                f"{self.url} has schema version {found}, written by a newer Treadle; this "
                f"Treadle knows versions up to {expected}: upgrade Treadle to use this database."
            )
        if found < expected:
            raise errors.SchemaOutdatedError(
                f"{self.url} has schema version {found} and this Treadle needs {expected}: "
                "run `treadle migrate`."
            )

    def migrate(self) -> tuple[int, int]:
        latest = migrations.latest(DIALECT)
        with self.transaction() as tx:
            # Two processes migrating at once take turns here, and the second sees the work
            # of the first.
            tx.sql(b"SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            before = self._version(tx) or 0
            if before > latest:
                self.check_schema()
            for version, script in migrations.scripts(DIALECT):
                if version > before:
                    for statement in migrations.statements(script):
                        tx.sql(statement.encode())
                    tx.execute("set_meta", {"key": "schema_version", "value": str(version)})
        return before, latest

    # -- wake-ups and housekeeping -----------------------------------------------------------

    def notify(self, topics: Collection[Topic]) -> None:
        # Listeners also poll: a lost wake-up delays work, it never loses it. So this never
        # waits for a server that is away.
        if not topics:
            return
        with contextlib.suppress(psycopg.Error, PoolTimeout):
            connection = self._pool.getconn(timeout=0.5)
            try:
                ((text, _),) = _ending(frozenset(topics), None)
                connection.execute(text, prepare=False)
            except psycopg.OperationalError as exc:
                if connection.broken:
                    self._outage.lost(exc)  # it may be the first to find the server gone
                raise
            finally:
                self._pool.putconn(connection)

    def listener(self, topics: Collection[Topic]) -> Listener:
        with self._lock:
            wanted = frozenset(topics)
            hub = self._hubs.get(wanted)
            if hub is None:
                hub = self._hubs[wanted] = _Hub(self._dsn, wanted)
        return hub.subscribe(topics)

    def checkpoint(self) -> None:
        """Vacuum the tables that every run churns once dead rows pile up there, and
        analyze a table that has grown well past what the planner last counted.

        Each run inserts, updates and deletes rows of the queue, and a claim reads through
        the dead ones until a vacuum removes them. Autovacuum does that when it is on and
        keeps up; a server that runs with it off (or behind) would make every claim slower
        as the day goes on.

        The analyze is for prepared statements: each connection plans a statement once and
        keeps that plan until the table's statistics change. A plan made while a table was
        a page or two (a new database) scans it whole, which stays cheap only while the
        table stays small; autovacuum looks once a minute, time enough for the history of
        a busy new database to reach tens of thousands of rows, each claim scanning them
        all. An analyze makes every connection plan again.

        It runs from the worker's housekeeping thread, on a connection of its own, so neither
        ever holds up the store's transactions.
        """
        with self._checkout() as connection:
            try:
                for row in connection.execute(self._sql["table_sizes"]).fetchall():
                    # SKIP_LOCKED: another process already at it is enough.
                    if row["churned"] and row["dead"] > max(DEAD_ROWS, row["live"] * DEAD_SHARE):
                        connection.execute(f"VACUUM (SKIP_LOCKED, ANALYZE) {row['name']}".encode())
                    elif row["live"] > max(GROWN_ROWS, row["planned"] * GROWN_FACTOR):
                        connection.execute(f"ANALYZE (SKIP_LOCKED) {row['name']}".encode())
            except psycopg.Error as exc:
                raise _translate(exc, self.url) from exc

    def close(self) -> None:
        with self._lock:
            for hub in self._hubs.values():
                hub.close()
            self._hubs.clear()
        self._pool.close()


class _Outage:
    """Logs a lost server once, and its return once, however many threads notice; counts the
    dead connections found (``PostgresStore.outages``)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._away = False
        self.count = 0
        # The outage count when each connection was made: only one made since the last loss
        # shows the server back (one that outlived the shutdown of its siblings does not).
        self._born: weakref.WeakKeyDictionary[psycopg.Connection[Row], int] = (
            weakref.WeakKeyDictionary()
        )

    def born(self, connection: psycopg.Connection[Row]) -> None:
        self._born[connection] = self.count

    def lost(self, exc: Exception) -> None:
        with self._lock:
            # Counted at every dead connection, logged once: what was written before any of
            # them may be gone.
            self.count += 1
            if self._away:
                return
            self._away = True
        log.warning("lost PostgreSQL at %s (%s); reconnecting", self._url, str(exc).strip())

    def over(self, connection: psycopg.Connection[Row]) -> None:
        if not self._away:  # the common case, without taking the lock
            return
        with self._lock:
            if not self._away or self._born.get(connection, -1) < self.count:
                return
            self._away = False
        log.warning("reconnected to PostgreSQL at %s", self._url)


class _Hub:
    """One ``LISTEN`` connection for the listeners of a set of topics (a worker's: tasks
    and timers; a client's: runs), in a thread that reconnects as needed, fanning each
    notification out to the open ``Listener``s.

    A listener is then only a socket pair: ``Engine.result`` may open one per call, and
    threads waiting at once each get every wake-up, without a connection each. The hub
    listens on the channel of each of its topics; a notification on the bare channel names
    its topics in its payload (``protocol.topics_of``), and one without, as a person may
    send, reaches every listener.
    """

    def __init__(self, dsn: str, topics: frozenset[Topic]) -> None:
        self._dsn = dsn
        self._topics = topics
        self._channels = {_channel(topic): frozenset({topic}) for topic in topics}
        self._listeners: set[Listener] = set()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="treadle-listen", daemon=True)
        self._thread.start()

    def subscribe(self, topics: Collection[Topic]) -> Listener:
        listener = Listener(self, topics)
        with self._lock:
            self._listeners.add(listener)
        # Only once LISTEN runs can a caller look at the database knowing that no later
        # change goes unnoticed; a server that is away makes this wait short, not fatal.
        self._ready.wait(5)
        return listener

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.discard(listener)

    def _listen(self) -> None:
        pause = 0.1
        while not self._closing.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True, connect_timeout=5) as connection:
                    for channel in (CHANNEL, *self._channels):
                        connection.execute(f"LISTEN {channel}")
                    self._ready.set()
                    # Anything sent while we were away is looked at now.
                    self._poke(self._topics)
                    pause = 0.1
                    while not self._closing.is_set():
                        # A timeout, so that closing never waits on a quiet channel for long.
                        for notification in connection.notifies(timeout=1.0):
                            topics = self._channels.get(notification.channel)
                            if topics is None:
                                topics = protocol.topics_of(notification.payload)
                            self._poke(topics)
            except psycopg.Error:
                if self._closing.is_set():
                    return
                self._ready.set()
                time.sleep(pause)
                pause = min(pause * 2, 2.0)

    def _poke(self, topics: frozenset[Topic]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            wanted = listener.topics & topics
            if wanted:
                listener.poke(wanted)

    def close(self) -> None:
        # The thread notices within a second and closes its connection; nobody waits for it.
        self._closing.set()


class Listener:
    """Notifications of ``topics`` for one waiter: readable (``fileno``) once one arrived
    since ``drain``, which says which topics they were."""

    def __init__(self, hub: _Hub, topics: Collection[Topic]) -> None:
        self._hub = hub
        self.topics = frozenset(topics)
        # Kept here rather than written to the socket, so that a full buffer loses no topic;
        # the socket only says "look".
        self._heard: set[Topic] = set()
        self._heard_lock = threading.Lock()
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)

    def poke(self, topics: frozenset[Topic]) -> None:
        with self._heard_lock:
            self._heard |= topics
        # A full buffer already says "look"; a closed one has nobody left to tell.
        with contextlib.suppress(OSError):
            self._writer.send(b"!")

    def fileno(self) -> int:
        return self._reader.fileno()

    def wait(self, timeout: float) -> bool:
        return protocol.wait_for_topics(self, timeout)

    def drain(self) -> set[Topic]:
        # The bytes first, then the topics: a poke in between leaves a byte behind for topics
        # already taken (one needless look), never topics without a byte.
        with contextlib.suppress(BlockingIOError):
            while self._reader.recv(4096):
                pass
        with self._heard_lock:
            heard, self._heard = self._heard, set()
        return heard

    def close(self) -> None:
        self._hub.unsubscribe(self)
        self._reader.close()
        self._writer.close()
