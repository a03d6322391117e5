"""Group commit: the writes that a worker's runs make in one turn of the event loop share
one transaction, so a hundred steps finishing together cost one commit, not a hundred."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Generator
from typing import Any, Generic, TypeVar

from treadle.store import transact
from treadle.store.protocol import Params, Statement, Store, Transaction

T = TypeVar("T")
Operation = Callable[[Transaction], Any]


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
    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending: list[tuple[Operation, Committed[Any]]] = []
        self._appends: list[Statement] | None = []
        """The statements of the pending batch while it holds journal writes only."""
        self._scheduled = False
        self._notify_after = False

    def submit(
        self, operation: Callable[[Transaction], T], *, notify: bool = False
    ) -> Committed[T]:
        """Queue ``operation`` for the next commit; await the result for its return value.

        ``notify`` wakes other processes (workers, waiting clients) when the batch commits.
        """
        self._appends = None
        return self._queue(operation, notify)

    def append(self, query: str, params: Params) -> Committed[int]:
        """Queue a journal write (see ``Store.append``); await it for the rows it changed.

        A batch of journal writes alone goes through ``Store.append``, which need not wait
        for the disk; with other operations it shares their transaction, in order.
        """
        if self._appends is not None:
            self._appends.append((query, params))
        return self._queue(functools.partial(_execute, query=query, params=params), False)

    def _queue(self, operation: Callable[[Transaction], T], notify: bool) -> Committed[T]:
        committed: Committed[T] = Committed()
        self._pending.append((operation, committed))
        self._notify_after = self._notify_after or notify
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return committed

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        appends, self._appends = self._appends, []
        notify, self._notify_after = self._notify_after, False
        self._scheduled = False
        try:
            if appends is not None:
                values: list[Any] = transact.append(self._store, appends)
            else:
                values = transact.run(
                    self._store, lambda tx: [op(tx) for op, _ in batch], notify=notify
                )
        except Exception as exc:
            if len(batch) == 1:
                batch[0][1]._resolve(None, exc)
            else:
                # One operation failed and rolled the whole batch back: run each alone, so
                # the failure reaches only its own caller.
                for item in batch:
                    self._commit_alone(item, notify)
        else:
            for (_, committed), value in zip(batch, values, strict=True):
                committed._resolve(value, None)

    def _commit_alone(self, item: tuple[Operation, Committed[Any]], notify: bool) -> None:
        operation, committed = item
        try:
            value = transact.run(self._store, operation, notify=notify)
        except Exception as exc:
            committed._resolve(None, exc)
        else:
            committed._resolve(value, None)


def _execute(tx: Transaction, query: str, params: Params) -> int:
    return tx.execute(query, params)
