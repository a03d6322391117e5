"""Fires durable timers and cron schedules, and times out runs past their deadline, in one
elected process.

Every worker runs this loop, but only the holder of the ``scheduler`` lease (see
``runtime.leader``) fires anything; the others bid for the lease every
``leader.CAMPAIGN_INTERVAL`` seconds and take over when it is handed back (a stopping leader
does that at once) or expires (a killed or paused leader; within ``leader.LEASE_SECONDS``).
Each batch of timers is fired in a transaction that first checks the leader's term, so a
leader that lost the lease fires nothing more. The check does not lock the lease (a leader
paused in the middle of a tick would keep the others from taking over), so two processes
may fire at once for a moment: firing a timer deletes its row, timing a run out changes its
status and firing a schedule moves it on, each on rows the other transaction skips, so
nothing fires twice. A schedule's fire starts a run whose
id follows from the schedule and the fire time, and moves the schedule's next fire on in the
same transaction (see ``runtime.schedules``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Collection

from treadle import errors
from treadle.runtime import leader, ops, schedules
from treadle.store import transact
from treadle.store.protocol import Store, Topic, Transaction

log = logging.getLogger("treadle.worker")

BATCH = 200
# Notifications come in bursts (every run that sleeps sends one); look at most this often.
MIN_INTERVAL = 0.02
# A fired timer wakes its run and a schedule's fire starts one, for the workers; a deadline
# ends a run, for the clients waiting for it (and its parent, a task again).
FIRED = (Topic.TASKS, Topic.RUNS)


def tick(tx: Transaction, now: float) -> tuple[int, float | None]:
    """Fire what is due; return how many changes were made and when the next thing is due."""
    changed = 0
    for row in tx.fetch_all("due_timers", {"now": now, "limit": BATCH}):
        changed += ops.fire_timer(tx, row["run_id"], row["position"], now)
    for row in tx.fetch_all("overdue_runs", {"now": now, "limit": BATCH}):
        changed += ops.time_out(tx, row["id"], now)
    changed += schedules.fire_due(tx, now, BATCH)
    upcoming = [
        row["at"]
        for row in (
            tx.fetch_one("next_timer_at", {}),
            tx.fetch_one("next_deadline_at", {}),
            tx.fetch_one("next_schedule_at", {}),
        )
        if row is not None and row["at"] is not None
    ]
    return changed, min(upcoming) if upcoming else None


def fenced_tick(tx: Transaction, term: leader.Term, now: float) -> tuple[int, float | None] | None:
    """``tick`` as the holder of ``term``; ``None``, having fired nothing, once it is over."""
    if not leader.holds(tx, term, now):
        return None
    return tick(tx, now)


async def run(
    clock: Callable[[], float],
    wake: asyncio.Event,
    notify: Callable[[Collection[Topic]], None],
    poll_interval: float,
    *,
    store: Store,
    holder: str,
    stopping: asyncio.Event,
    lease_seconds: float = leader.LEASE_SECONDS,
) -> None:
    """Lead the scheduler when elected, until ``stopping`` is set; then hand the lease back."""
    election = leader.Election(
        store, name=leader.SCHEDULER, holder=holder, clock=clock, lease_seconds=lease_seconds
    )
    stop_waiter = asyncio.ensure_future(stopping.wait())
    try:
        while not stopping.is_set():
            wake.clear()
            term = election.keep()
            if term is None:
                # Only the leader needs wake-ups; the others look at the lease on a timer.
                await asyncio.wait({stop_waiter}, timeout=election.due_in())
                continue
            try:
                # In a thread, on a connection of its own (PostgreSQL's pool): a tick is a
                # handful of queries, and the runs waiting on the worker's event loop (a claim,
                # a step's result) should not wait for them.
                outcome = await asyncio.get_running_loop().run_in_executor(
                    None,
                    transact.run,
                    store,
                    functools.partial(fenced_tick, term=term, now=clock()),
                )
            except errors.StoreError as exc:
                # The database is away: try again after a poll interval, it reconnects by itself.
                log.warning("could not fire timers (%s); retrying", exc)
                outcome = (0, None)
            if outcome is None:
                # Expired (a pause, a stall) or taken: renewing tells which, and the lease
                # goes on only if nobody took it meanwhile.
                election.recheck()
                continue
            changed, upcoming = outcome
            if changed:
                notify(FIRED)
                continue
            pause = min(poll_interval, election.due_in())
            if upcoming is not None:
                pause = min(pause, upcoming - clock())
            if pause <= 0:
                continue
            # asyncio.wait leaves a pending cancellation alone; Python 3.11's wait_for can lose
            # it when the event is set at the same moment, and the worker would never stop.
            waiter = asyncio.ensure_future(wake.wait())
            try:
                done, _ = await asyncio.wait(
                    {waiter, stop_waiter}, timeout=pause, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                waiter.cancel()
            if waiter in done:
                await asyncio.sleep(MIN_INTERVAL)
    finally:
        stop_waiter.cancel()
        election.resign()
