"""What a run's history says about each call of its workflow, for replay.

A durable function runs again from the top after every crash or suspension. Each call it
makes through its context (a step, a sleep, a wait, a child) gets a position, counted in the
order of the calls. ``RunJournal`` indexes the history by position so that the context can
return a recorded outcome instead of doing the work again, and can tell when the code has
changed under a run (a different call at a recorded position).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any

from treadle import errors
from treadle.core.history import Event, EventKind

# What kind of call produced the events at a position, and under which name.
STEP = "step"
SLEEP = "sleep"
WAIT = "wait_for"
WAIT_ANY = "wait_for_any"
CHILD = "child"
FIRST = "first"
CANCEL = "cancel"

_CALL_OF_EVENT = {
    EventKind.STEP_COMPLETED: STEP,
    EventKind.STEP_FAILED: STEP,
    EventKind.SIGNAL_CONSUMED: WAIT,
    EventKind.WAIT_TIMED_OUT: WAIT,
    EventKind.CHILD_STARTED: CHILD,
    EventKind.CHILD_COMPLETED: CHILD,
    EventKind.FIRST_DECIDED: FIRST,
    EventKind.CHILD_CANCEL_REQUESTED: CANCEL,
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
        EventKind.FIRST_DECIDED,
        EventKind.CHILD_CANCEL_REQUESTED,
        EventKind.PATCH_APPLIED,
        EventKind.RUN_WAITING,
    }
)


# A net run's own record of what it did, which replay must not write a second time.
_NET_LOG = frozenset(
    {
        EventKind.TRANSITION_STARTED,
        EventKind.TRANSITION_FIRED,
        EventKind.NET_CHANGED,
        EventKind.NET_CHANGE_REFUSED,
    }
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
    child_outcomes: dict[str, Event] = dataclasses.field(default_factory=dict)
    """The first recorded outcome of each child, by child id: a join at any position finds
    it there, whichever position the child reports to."""
    decisions: dict[int, Event] = dataclasses.field(default_factory=dict)
    """What ``ctx.first`` chose and ``ctx.cancel`` did, by the call's position."""
    returned: set[int] = dataclasses.field(default_factory=set)
    """Positions of waits that lost a ``ctx.first``: the signals they took are free again."""
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
            self.calls.setdefault(position, _call_of(call, event))
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
            # Events arrive in id order, so the first one kept is the earliest: the same on
            # every replay, whichever execution first saw it.
            self.child_outcomes.setdefault((event.data or {}).get("child_id", ""), event)
        elif kind in (EventKind.FIRST_DECIDED, EventKind.CHILD_CANCEL_REQUESTED):
            self.decisions[position] = event
            self.returned.update((event.data or {}).get("returned", ()))

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

    def free_signal(self, name: str | Collection[str]) -> Event | None:
        """The oldest signal of that name (or of any of those names) that no recorded wait
        has taken."""
        names = {name} if isinstance(name, str) else set(name)
        taken = {
            (event.data or {}).get("signal")
            for position, event in self.consumed.items()
            if position not in self.returned
        }
        for signal in self.signals:
            if signal.name in names and signal.id not in taken:
                return signal
        return None

    def started_child(self, child_id: str, *, before: int) -> bool:
        """Whether a call before position ``before`` started (or joined) child ``child_id``.

        Only earlier calls count: a replay knows the whole history, the first execution only
        what came before.
        """
        return any(
            (event.data or {}).get("child_id") == child_id
            for position, event in self.children.items()
            if position < before
        )

    def is_replaying(self, position: int, replayed_through: int) -> bool:
        """Whether an earlier execution of the run already went past this point.

        It did if calls at or after ``position`` are recorded, or if it wrote events of its
        own (a suspension, say) after the last recorded event this replay has reached,
        ``replayed_through``. Code met at such a point is old code's path.
        """
        return position <= self.last_position or self.last_own_event > replayed_through


def any_name(names: Collection[str]) -> str:
    """How a wait for several signal names is named in the history: ``"approve|reject"``."""
    return "|".join(names)


def _call_of(call: str, event: Event) -> Call:
    data = event.data if isinstance(event.data, dict) else {}
    # A wait for several names records the signal it took (or its timeout) under the name of
    # that signal, and the names it waited for in ``any``.
    if call == WAIT and "any" in data:
        return Call(WAIT_ANY, any_name(data["any"]))
    return Call(call, event.name or "")


def payload_of(event: Event) -> Any:
    data: dict[str, Any] = event.data or {}
    return data.get("payload")
