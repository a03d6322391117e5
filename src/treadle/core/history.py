"""History events: the append-only log of a run, the source of truth for replay and audit."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any


class EventKind(enum.StrEnum):
    RUN_CREATED = "run_created"  # the run was started by a client or a parent
    RUN_STARTED = "run_started"  # a worker claimed the run and began (or resumed) executing it
    RUN_WAITING = "run_waiting"  # the run suspended on a timer, a signal or a child
    RUN_SUCCEEDED = "run_succeeded"  # the workflow returned; data holds the result
    RUN_FAILED = "run_failed"  # the workflow raised; data holds the error
    RUN_CANCELLED = "run_cancelled"  # cancelled by a client or by its parent
    RUN_TIMED_OUT = "run_timed_out"  # passed its deadline
    RUN_RETRIED = "run_retried"  # a failed run was sent back to resume from its failed step
    STEP_COMPLETED = "step_completed"  # a step returned; its result is recorded exactly once
    STEP_FAILED = "step_failed"  # one attempt of a step raised or timed out
    TIMER_STARTED = "timer_started"  # a durable timer was set (sleep, or a wait's timeout)
    TIMER_FIRED = "timer_fired"  # that timer fired
    SIGNAL_RECEIVED = "signal_received"  # a signal arrived from outside
    SIGNAL_CONSUMED = "signal_consumed"  # a wait_for took that signal
    WAIT_TIMED_OUT = "wait_timed_out"  # a wait_for reached its timeout with no signal
    CHILD_STARTED = "child_started"  # the run started a child run
    CHILD_COMPLETED = "child_completed"  # that child finished, with its result or error
    CHILD_CANCEL_REQUESTED = "child_cancel_requested"  # ctx.cancel cancelled a child (if running)
    FIRST_DECIDED = "first_decided"  # ctx.first chose which of its calls finished first
    PATCH_APPLIED = "patch_applied"  # ctx.patched(change_id) took the new code path
    TRANSITION_STARTED = "transition_started"  # a net transition took its tokens; steps run
    TRANSITION_FIRED = "transition_fired"  # a net transition fired; data holds the new marking
    NET_CHANGED = "net_changed"  # a net run's topology was changed; data holds the change
    NET_CHANGE_REFUSED = "net_change_refused"  # a requested change failed the run's own check


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """One entry of a run's history."""

    id: int
    """Order of the event in the database; later events have larger ids."""
    run_id: str
    kind: EventKind
    at: float
    """Seconds since the epoch when the event was recorded."""
    position: int | None = None
    """Which call of the workflow this event belongs to (0 for the first step, sleep, ...)."""
    name: str | None = None
    """The step, signal, child workflow or change id the event is about."""
    attempt: int | None = None
    """For step events: which attempt, counting from 1."""
    data: Any = None
    """Event details, as decoded JSON."""

    @property
    def step(self) -> str | None:
        """The step name, for step events."""
        if self.kind in (EventKind.STEP_COMPLETED, EventKind.STEP_FAILED):
            return self.name
        return None
