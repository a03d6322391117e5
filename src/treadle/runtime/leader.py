"""Leader election over a lease row, so that one process at a time does a job.

A named lease (a row of ``scheduler_lease``) has at most one holder, until it expires. A
process takes it when it is free or expired, renews it well before it expires, and hands it
back when it stops. Every change of holder increments the lease's epoch: the term of a
holder is its epoch, and what it does as the leader is written in a transaction that first
checks the term (``holds``), so a holder that was paused past its lease, or cut off from the
database, cannot act after another process took over. The database decides who leads;
there is no protocol between the processes.

The scheduler (``runtime.scheduler``) uses the lease named ``scheduler``: its holder fires
timers and times out runs past their deadline.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from treadle import errors
from treadle.store import transact
from treadle.store.protocol import Row, Store, Transaction

log = logging.getLogger("treadle.scheduler")

SCHEDULER = "scheduler"
"""The lease whose holder fires timers, deadlines and schedules."""
LEASE_SECONDS = 3.0
"""How long a lease lasts unless renewed: a killed leader is replaced after at most this long
plus ``CAMPAIGN_INTERVAL``."""
RENEW_INTERVAL = LEASE_SECONDS / 3
"""How often the holder renews; two renewals may fail before the lease expires."""
CAMPAIGN_INTERVAL = 0.5
"""How often a process that does not lead tries to take the lease."""


@dataclasses.dataclass(frozen=True, slots=True)
class Term:
    """One holder's tenure of a lease: it lasts while the lease keeps this epoch and is renewed
    in time."""

    name: str
    holder: str
    epoch: int

    def params(self) -> dict[str, Any]:
        return {"name": self.name, "holder": self.holder, "epoch": self.epoch}


def acquire(tx: Transaction, name: str, holder: str, now: float, seconds: float) -> Term | None:
    """Take the lease if it is free or expired; ``None`` when another holder keeps it (or, on
    PostgreSQL, when another transaction has the lease row locked: bid again later)."""
    tx.execute("insert_scheduler_lease", {"name": name})
    row = tx.fetch_one(
        "acquire_scheduler_lease",
        {"name": name, "holder": holder, "now": now, "expires_at": now + seconds},
    )
    return None if row is None else Term(name, holder, int(row["epoch"]))


def renew(tx: Transaction, term: Term, now: float, seconds: float) -> bool:
    """Extend the lease; ``False`` when the term is over (another process took the lease, or
    is taking it now).

    A lease that expired but that nobody took is renewed: no other holder can have acted in
    between, since taking it would have changed the epoch.
    """
    return tx.execute("renew_scheduler_lease", term.params() | {"expires_at": now + seconds}) == 1


def release(tx: Transaction, term: Term) -> bool:
    """Hand the lease back, so that another process takes it at once."""
    return tx.execute("release_scheduler_lease", term.params()) == 1


def holds(tx: Transaction, term: Term, now: float) -> bool:
    """Whether ``term`` is the lease's current one and has not expired.

    The check does not hold the lease: a holder paused after it must not keep the others
    from taking over. What a leader does after it is safe to do twice at once (see
    ``scheduler``), so a leader that loses the lease meanwhile only does some of it.
    """
    return tx.fetch_one("holds_scheduler_lease", term.params() | {"now": now}) is not None


def current(tx: Transaction, name: str = SCHEDULER) -> Row | None:
    """The lease as stored: ``holder`` (``None`` once handed back), ``epoch``, ``expires_at``."""
    return tx.fetch_one("get_scheduler_lease", {"name": name})


class Election:
    """One process's campaign for a lease, driven by calling ``keep`` from its event loop.

    Each method runs its own short transaction, outside any group commit: a batch of other
    writes must never wait behind the lease row, nor the lease behind their row locks.
    """

    def __init__(
        self,
        store: Store,
        *,
        name: str,
        holder: str,
        clock: Callable[[], float] = time.time,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        if isinstance(lease_seconds, bool) or not isinstance(lease_seconds, int | float):
            raise errors.UsageError(f"lease_seconds must be a number, not {lease_seconds!r}")
        if lease_seconds <= 0:
            raise errors.UsageError(f"lease_seconds must be > 0, not {lease_seconds!r}")
        self._store = store
        self._name = name
        self._holder = holder
        self._clock = clock
        self._seconds = float(lease_seconds)
        self._renew_every = min(RENEW_INTERVAL, self._seconds / 3)
        self._next = 0.0  # time.monotonic() of the next look at the lease
        self._failing = False
        self.term: Term | None = None
        """The term held now, as far as this process knows; ``None`` when it does not lead."""

    def due_in(self) -> float:
        """Seconds until ``keep`` next renews or campaigns."""
        return max(0.0, self._next - time.monotonic())

    def keep(self) -> Term | None:
        """Renew the lease or try to take it, when that is due; return the term held now."""
        if time.monotonic() < self._next:
            return self.term
        term = self.term
        try:
            if term is None:
                self._bid(self._clock())
            elif not transact.run(
                self._store,
                functools.partial(renew, term=term, now=self._clock(), seconds=self._seconds),
            ):
                self.lost("another process took the lease")
        except errors.StoreError as exc:
            # The term stays as it was: what the leader does is checked against the lease
            # anyway, and a lease that nobody took meanwhile is renewed once this works again.
            if not self._failing:
                log.warning(
                    "%s could not %s the %s lease (%s); trying again",
                    self._holder,
                    "renew" if term else "bid for",
                    self._name,
                    exc,
                )
            self._failing = True
        else:
            self._failing = False
        self._next = time.monotonic() + (
            self._renew_every if self.term is not None else CAMPAIGN_INTERVAL
        )
        return self.term

    def _bid(self, now: float) -> None:
        self.term = transact.run(
            self._store,
            functools.partial(
                acquire, name=self._name, holder=self._holder, now=now, seconds=self._seconds
            ),
        )
        if self.term is not None:
            log.info(
                "%s leads the %s (lease epoch %d)",
                self._holder,
                self._name,
                self.term.epoch,
                extra={"lease": self._name, "epoch": self.term.epoch},
            )

    def recheck(self) -> None:
        """Renew at the next ``keep``, which then finds whether the term is over: after a
        check of the term failed, which an expired lease explains as well as a lost one."""
        self._next = 0.0

    def lost(self, reason: str) -> None:
        """Forget the term, after the lease said it is over."""
        if self.term is None:
            return
        log.info(
            "%s no longer leads the %s: %s",
            self._holder,
            self._name,
            reason,
            extra={"lease": self._name, "epoch": self.term.epoch},
        )
        self.term = None
        self._next = 0.0  # bid again at once: the lease may be free already

    def resign(self) -> None:
        """Hand the lease back, if this process holds it, so another takes over at once."""
        term, self.term = self.term, None
        if term is None:
            return
        try:
            released = transact.run(self._store, functools.partial(release, term=term))
        except errors.StoreError as exc:
            log.warning(
                "%s could not hand the %s lease back (%s); another process takes it over "
                "when it expires, within %g s",
                self._holder,
                self._name,
                exc,
                self._seconds,
            )
            return
        if released:
            log.info(
                "%s handed the %s lease back",
                self._holder,
                self._name,
                extra={"lease": self._name, "epoch": term.epoch},
            )
