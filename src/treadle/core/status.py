"""Run statuses and the changes allowed between them."""

from __future__ import annotations

import enum


class RunStatus(enum.StrEnum):
    PENDING = "pending"  # created, no worker has picked it up yet
    RUNNING = "running"  # a worker is executing it
    WAITING = "waiting"  # suspended on a timer, a signal or a child run
    SUCCEEDED = "succeeded"  # returned a result
    FAILED = "failed"  # raised an error, or a step exhausted its retries
    CANCELLED = "cancelled"  # cancelled from outside (or by its parent)
    TIMED_OUT = "timed_out"  # passed its deadline

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.TIMED_OUT}
)

_ALLOWED: dict[RunStatus, frozenset[RunStatus]] = {
    RunStatus.PENDING: frozenset({RunStatus.RUNNING, RunStatus.CANCELLED, RunStatus.TIMED_OUT}),
    RunStatus.RUNNING: frozenset({RunStatus.WAITING, RunStatus.RUNNING} | FINISHED),
    RunStatus.WAITING: frozenset({RunStatus.RUNNING, RunStatus.CANCELLED, RunStatus.TIMED_OUT}),
    # A failed or timed-out run may be retried from its failed step.
    RunStatus.FAILED: frozenset({RunStatus.PENDING}),
    RunStatus.TIMED_OUT: frozenset({RunStatus.PENDING}),
    RunStatus.SUCCEEDED: frozenset(),
    RunStatus.CANCELLED: frozenset(),
}


def can_change(current: RunStatus, new: RunStatus) -> bool:
    return new in _ALLOWED[current]


RETRYABLE = frozenset({RunStatus.FAILED, RunStatus.TIMED_OUT})
