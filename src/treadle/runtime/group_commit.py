"""Group commit: the writes that a worker's runs make in one turn of the event loop share
one transaction, so a hundred steps finishing together cost one commit, not a hundred."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from treadle.store.protocol import Store, Transaction

T = TypeVar("T")
Operation = Callable[[Transaction], Any]


class GroupCommit:
    def __init__(self, store: Store, *, on_commit: Callable[[], None] | None = None) -> None:
        self._store = store
        self._pending: list[tuple[Operation, asyncio.Future[Any]]] = []
        self._scheduled = False
        self._notify_after = False
        self._on_commit = on_commit

    def submit(
        self, operation: Callable[[Transaction], T], *, notify: bool = False
    ) -> asyncio.Future[T]:
        """Queue ``operation`` for the next commit; the future gets its return value."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((operation, future))
        self._notify_after = self._notify_after or notify
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        notify, self._notify_after = self._notify_after, False
        self._scheduled = False
        try:
            with self._store.transaction() as tx:
                values = [operation(tx) for operation, _ in batch]
        except Exception as exc:
            if len(batch) == 1:
                _resolve(batch[0][1], None, exc)
            else:
                # One operation failed and rolled the whole batch back: run each alone, so
                # the failure reaches only its own caller.
                for item in batch:
                    self._commit_alone(item)
        else:
            for (_, future), value in zip(batch, values, strict=True):
                _resolve(future, value, None)
        if notify and self._on_commit is not None:
            self._on_commit()

    def _commit_alone(self, item: tuple[Operation, asyncio.Future[Any]]) -> None:
        operation, future = item
        try:
            with self._store.transaction() as tx:
                value = operation(tx)
        except Exception as exc:
            _resolve(future, None, exc)
        else:
            _resolve(future, value, None)


def _resolve(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
