"""The threads of one engine that wait for runs to finish (``Engine.result``).

Every run that finishes notifies the ``runs`` topic, without saying which run it was. Were
each waiting thread to look at its own run on every notification, a web application with a
hundred requests waiting would read a hundred rows for each run that ends anywhere. So the
waiters of an engine share one listener, and at each notification one of them (whoever is
free, in turn) reads the rows of every run waited for in one query and hands each thread
its row: one read per notification, however many threads wait.
"""

from __future__ import annotations

import collections
import threading
import time

from treadle.core import codec
from treadle.core.status import RunStatus
from treadle.runtime import ops
from treadle.store.protocol import Listener, Row, Store, Topic

# Look again this often even without a notification: one lost with a dropped connection
# costs at most this long.
LOOK_AGAIN = 1.0


def finished(row: Row) -> bool:
    return RunStatus(row["status"]).finished


class Waiters:
    """Waits for runs of one store to finish; safe to use from any number of threads."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._news = threading.Condition(self._lock)
        self._listener: Listener | None = None
        self._waiting: collections.Counter[str] = collections.Counter()
        self._ended: dict[str, Row] = {}
        self._looking = False  # one thread reads for all at a time

    def wait(self, run_id: str, give_up: float | None) -> Row:
        """The run's row once it has finished, or as it is when ``give_up`` (a
        ``time.monotonic()`` time, None for never) comes first. Raises
        ``RunNotFoundError`` for an unknown run."""
        with self._lock:
            if self._listener is None:
                self._listener = self._store.listener((Topic.RUNS,))
            self._waiting[run_id] += 1
        try:
            # Listening began before this first look, so no end can slip between the two.
            row = ops.get_run(self._store, run_id)
            while not finished(row):
                remaining = LOOK_AGAIN if give_up is None else give_up - time.monotonic()
                if remaining <= 0:
                    return row
                row = self._next(run_id, row, min(remaining, LOOK_AGAIN))
            return row
        finally:
            with self._lock:
                self._waiting[run_id] -= 1
                if not self._waiting[run_id]:
                    del self._waiting[run_id]
                    self._ended.pop(run_id, None)

    def _next(self, run_id: str, row: Row, timeout: float) -> Row:
        """The run's row after the next notification, or after ``timeout`` seconds."""
        with self._lock:
            if run_id in self._ended:
                return self._ended[run_id]
            if self._looking:
                # Another thread is reading for everyone: its answer comes with the news.
                self._news.wait(timeout)
                return self._ended.get(run_id, row)
            self._looking = True
            listener = self._listener
        rows: dict[str, Row] = {}
        try:
            assert listener is not None
            listener.wait(timeout)
            with self._lock:
                ids = list(self._waiting)
            found = self._store.fetch_all("get_runs", {"ids": codec.encode(ids, "run ids")})
            rows = {found_row["id"]: found_row for found_row in found}
        finally:
            with self._lock:
                self._looking = False
                self._ended.update(
                    (waited, found_row) for waited, found_row in rows.items() if finished(found_row)
                )
                self._news.notify_all()
        return rows.get(run_id, row)

    def close(self) -> None:
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
