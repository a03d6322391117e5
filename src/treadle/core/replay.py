"""What a run's history says about each call of its workflow, for replay.

A durable function runs again from the top after every crash or suspension. Each call it
makes through its context (a step, a sleep, a wait, a child) gets a position, counted in the
order of the calls. ``RunJournal`` indexes the history by position so that the context can
return a recorded outcome instead of doing the work again, and can tell when the code has
changed under a run (a different call at a recorded position).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from treadle import errors
from treadle.core.history import Event, EventKind

# What kind of call produced the events at a position, and under which name.
STEP = "step"
SLEEP = "sleep"
WAIT = "wait_for"
CHILD = "child"

_CALL_OF_EVENT = {
    EventKind.STEP_COMPLETED: STEP,
    EventKind.STEP_FAILED: STEP,
    EventKind.SIGNAL_CONSUMED: WAIT,
    EventKind.WAIT_TIMED_OUT: WAIT,
    EventKind.CHILD_STARTED: CHILD,
    EventKind.CHILD_COMPLETED: CHILD,
}

# Events a run's own execution writes (as opposed to clients, the scheduler or children).
_OWN = frozenset(
    {
        EventKind.STEP_COMPLETED,
        EventKind.STEP_FAILED,
        EventKind.TIMER_STARTED,
        EventKind.SIGNAL_CONSUMED,
        EventKind.WAIT_TIMED_OUT,
        EventKind.CHILD_STARTED,
        EventKind.PATCH_APPLIED,
        EventKind.RUN_WAITING,
    }
)


# A net run's own record of what it did, which replay must not write a second time.
_NET_LOG = frozenset(
    {EventKind.TRANSITION_FIRED, EventKind.NET_CHANGED, EventKind.NET_CHANGE_REFUSED}
)


@dataclasses.dataclass(frozen=True, slots=True)
class Call:
    """The call recorded at a position: its kind and the step, signal or workflow name."""

    kind: str
    name: str


@dataclasses.dataclass(slots=True)
class RunJournal:
    """The history of one run, indexed for replay."""

    run_id: str
    started_at: float
    calls: dict[int, Call] = dataclasses.field(default_factory=dict)
    results: dict[int, Event] = dataclasses.field(default_factory=dict)
    failures: dict[int, list[Event]] = dataclasses.field(default_factory=dict)
    timers: dict[int, Event] = dataclasses.field(default_factory=dict)
    fired: dict[int, Event] = dataclasses.field(default_factory=dict)
    consumed: dict[int, Event] = dataclasses.field(default_factory=dict)
    wait_timeouts: dict[int, Event] = dataclasses.field(default_factory=dict)
    children: dict[int, Event] = dataclasses.field(default_factory=dict)
    child_results: dict[int, Event] = dataclasses.field(default_factory=dict)
    signals: list[Event] = dataclasses.field(default_factory=list)
    patches: set[str] = dataclasses.field(default_factory=set)
    net_log: dict[int, Event] = dataclasses.field(default_factory=dict)
    """A net run's firings and topology changes, by their sequence number (``data["seq"]``)."""
    last_position: int = -1
    last_final_failure: int | None = None
    last_own_event: int = 0
    retries: int = 0

    @classmethod
    def from_events(cls, run_id: str, events: list[Event]) -> RunJournal:
        journal = cls(run_id=run_id, started_at=events[0].at if events else 0.0)
        for event in events:
            journal.add(event)
        return journal

    def add(self, event: Event) -> None:
        kind, position = event.kind, event.position
        if kind in _OWN and event.id > self.last_own_event:
            self.last_own_event = event.id
        if kind is EventKind.SIGNAL_RECEIVED:
            self.signals.append(event)
            return
        if kind is EventKind.PATCH_APPLIED:
            self.patches.add(event.name or "")
            return
        if kind in _NET_LOG:
            self.net_log[(event.data or {}).get("seq", -1)] = event
            return
        if kind is EventKind.RUN_RETRIED:
            # A retried run resumes from the step that failed it, with a fresh budget of
            # attempts; failures the workflow caught earlier stay as they were.
            if self.last_final_failure is not None:
                self.failures.pop(self.last_final_failure, None)
                self.last_final_failure = None
            self.retries += 1
            return
        if position is None:
            return
        self.last_position = max(self.last_position, position)
        call = _CALL_OF_EVENT.get(kind)
        if call is not None:
            self.calls.setdefault(position, Call(call, event.name or ""))
        if kind is EventKind.STEP_COMPLETED:
            self.results[position] = event
        elif kind is EventKind.STEP_FAILED:
            self.failures.setdefault(position, []).append(event)
            if (event.data or {}).get("final"):
                self.last_final_failure = position
        elif kind is EventKind.TIMER_STARTED:
            self.timers[position] = event
            purpose = (event.data or {}).get("purpose", SLEEP)
            self.calls.setdefault(position, Call(purpose, event.name or ""))
        elif kind is EventKind.TIMER_FIRED:
            self.fired[position] = event
        elif kind is EventKind.SIGNAL_CONSUMED:
            self.consumed[position] = event
        elif kind is EventKind.WAIT_TIMED_OUT:
            self.wait_timeouts[position] = event
        elif kind is EventKind.CHILD_STARTED:
            self.children[position] = event
        elif kind is EventKind.CHILD_COMPLETED:
            self.child_results[position] = event

    def check_call(self, position: int, kind: str, name: str) -> None:
        """Refuse a replay whose call at ``position`` differs from the recorded one."""
        recorded = self.calls.get(position)
        if recorded is None or (recorded.kind == kind and recorded.name == name):
            return
        raise errors.NonDeterminismError(
            f"run {self.run_id} diverged from its history at call #{position}: the history "
            f"records {recorded.kind} {recorded.name!r} but the code now calls {kind} {name!r}. "
            "The workflow code changed under a running run: keep the old path for old runs "
            "with ctx.patched('change-id'), or register the new code as a new version.",
            run_id=self.run_id,
            position=position,
            expected=f"{recorded.kind} {recorded.name}",
            found=f"{kind} {name}",
        )

    def attempts_failed(self, position: int) -> list[Event]:
        return self.failures.get(position, [])

    def free_signal(self, name: str) -> Event | None:
        """The oldest signal of that name that no recorded wait has taken."""
        taken = {(e.data or {}).get("signal") for e in self.consumed.values()}
        for signal in self.signals:
            if signal.name == name and signal.id not in taken:
                return signal
        return None

    def is_replaying(self, position: int, replayed_through: int) -> bool:
        """Whether an earlier execution of the run already went past this point.

        It did if calls at or after ``position`` are recorded, or if it wrote events of its
        own (a suspension, say) after the last recorded event this replay has reached,
        ``replayed_through``. Code met at such a point is old code's path.
        """
        return position <= self.last_position or self.last_own_event > replayed_through


def payload_of(event: Event) -> Any:
    data: dict[str, Any] = event.data or {}
    return data.get("payload")
