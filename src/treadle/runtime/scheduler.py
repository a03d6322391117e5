"""Fires durable timers and times out runs past their deadline.

Every worker process runs one; on SQLite they share the work safely because firing a timer
deletes its row in the same transaction, so only one process fires each.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable

from treadle import errors
from treadle.runtime import ops
from treadle.runtime.group_commit import GroupCommit
from treadle.store.protocol import Transaction

log = logging.getLogger("treadle.worker")

BATCH = 200
# Notifications come in bursts (every finished run sends one); look at most this often.
MIN_INTERVAL = 0.02


def tick(tx: Transaction, now: float) -> tuple[int, float | None]:
    """Fire what is due; return how many changes were made and when the next thing is due."""
    changed = 0
    for row in tx.fetch_all("due_timers", {"now": now, "limit": BATCH}):
        changed += ops.fire_timer(tx, row["run_id"], row["position"], now)
    for row in tx.fetch_all("overdue_runs", {"now": now, "limit": BATCH}):
        changed += ops.time_out(tx, row["id"], now)
    upcoming = [
        row["at"]
        for row in (tx.fetch_one("next_timer_at", {}), tx.fetch_one("next_deadline_at", {}))
        if row is not None and row["at"] is not None
    ]
    return changed, min(upcoming) if upcoming else None


async def run(
    commits: GroupCommit,
    clock: Callable[[], float],
    wake: asyncio.Event,
    notify: Callable[[], None],
    poll_interval: float,
) -> None:
    while True:
        wake.clear()
        try:
            changed, upcoming = await commits.submit(functools.partial(tick, now=clock()))
        except errors.StoreError as exc:
            # The database is away: try again after a poll interval, it reconnects by itself.
            log.warning("could not fire timers (%s); retrying", exc)
            changed, upcoming = 0, None
        if changed:
            notify()
            continue
        pause = poll_interval if upcoming is None else min(poll_interval, upcoming - clock())
        if pause <= 0:
            continue
        # asyncio.wait leaves a pending cancellation alone; Python 3.11's wait_for can lose it
        # when the event is set at the same moment, and the worker would never stop.
        waiter = asyncio.ensure_future(wake.wait())
        try:
            done, _ = await asyncio.wait({waiter}, timeout=pause)
        finally:
            waiter.cancel()
        if not done:
            continue
        await asyncio.sleep(MIN_INTERVAL)
