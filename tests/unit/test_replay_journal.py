"""RunJournal: the history of a run indexed by call position, for replay."""

from __future__ import annotations

import pytest

from treadle import errors
from treadle.core import replay
from treadle.core.history import Event, EventKind
from treadle.core.replay import RunJournal

RUN = "run-1"


def event(
    id: int,
    kind: EventKind,
    *,
    at: float | None = None,
    position: int | None = None,
    name: str | None = None,
    attempt: int | None = None,
    data: object = None,
) -> Event:
    return Event(id, RUN, kind, 100.0 + id if at is None else at, position, name, attempt, data)


def sample_history() -> list[Event]:
    return [
        event(1, EventKind.RUN_CREATED, data={"workflow": "wf"}),
        event(2, EventKind.RUN_STARTED),
        event(
            3, EventKind.STEP_COMPLETED, position=0, name="charge", attempt=1, data={"result": 7}
        ),
        event(4, EventKind.TIMER_STARTED, position=1, name="", data={"purpose": "sleep"}),
        event(5, EventKind.RUN_WAITING),
        event(6, EventKind.TIMER_FIRED, position=1),
        event(7, EventKind.SIGNAL_RECEIVED, name="approval", data={"payload": {"ok": True}}),
        event(
            8,
            EventKind.SIGNAL_CONSUMED,
            position=2,
            name="approval",
            data={"signal": 7, "payload": {"ok": True}},
        ),
        event(9, EventKind.CHILD_STARTED, position=3, name="ship", data={"child_id": "c"}),
        event(10, EventKind.CHILD_COMPLETED, position=3, name="ship", data={"status": "x"}),
    ]


def test_calls_are_indexed_by_position() -> None:
    journal = RunJournal.from_events(RUN, sample_history())
    assert journal.started_at == 101.0
    assert journal.calls == {
        0: replay.Call(replay.STEP, "charge"),
        1: replay.Call(replay.SLEEP, ""),
        2: replay.Call(replay.WAIT, "approval"),
        3: replay.Call(replay.CHILD, "ship"),
    }
    assert journal.results[0].data == {"result": 7}
    assert 1 in journal.timers and 1 in journal.fired
    assert replay.payload_of(journal.consumed[2]) == {"ok": True}
    assert journal.children[3].data == {"child_id": "c"}
    assert 3 in journal.child_results and 4 not in journal.child_results
    assert journal.last_position == 3


def test_empty_history() -> None:
    journal = RunJournal.from_events(RUN, [])
    assert journal.last_position == -1
    assert not journal.is_replaying(0, replayed_through=0)
    journal.check_call(0, replay.STEP, "anything")


def test_wait_timeout_timer_records_a_wait_call() -> None:
    journal = RunJournal.from_events(
        RUN,
        [event(1, EventKind.TIMER_STARTED, position=0, name="go", data={"purpose": "wait_for"})],
    )
    assert journal.calls[0] == replay.Call(replay.WAIT, "go")


def test_check_call_accepts_the_recorded_call_and_new_positions() -> None:
    journal = RunJournal.from_events(RUN, sample_history())
    journal.check_call(0, replay.STEP, "charge")
    journal.check_call(1, replay.SLEEP, "")
    journal.check_call(2, replay.WAIT, "approval")
    journal.check_call(3, replay.CHILD, "ship")
    journal.check_call(4, replay.STEP, "something new")


def test_check_call_names_expected_and_found() -> None:
    journal = RunJournal.from_events(RUN, sample_history())
    with pytest.raises(errors.NonDeterminismError) as caught:
        journal.check_call(0, replay.STEP, "refund")
    error = caught.value
    assert error.run_id == RUN
    assert error.position == 0
    assert error.expected == "step charge"
    assert error.found == "step refund"
    assert "'charge'" in str(error) and "'refund'" in str(error)
    assert "#0" in str(error)


def test_check_call_refuses_another_kind_of_call_with_the_same_name() -> None:
    journal = RunJournal.from_events(RUN, sample_history())
    with pytest.raises(errors.NonDeterminismError) as caught:
        journal.check_call(2, replay.STEP, "approval")
    assert caught.value.expected == "wait_for approval"
    assert caught.value.found == "step approval"


def test_free_signal_takes_signals_in_arrival_order() -> None:
    journal = RunJournal.from_events(
        RUN,
        [
            event(1, EventKind.SIGNAL_RECEIVED, name="item", data={"payload": "a"}),
            event(2, EventKind.SIGNAL_RECEIVED, name="other", data={"payload": "x"}),
            event(3, EventKind.SIGNAL_RECEIVED, name="item", data={"payload": "b"}),
        ],
    )
    first = journal.free_signal("item")
    assert first is not None and first.id == 1
    journal.add(event(4, EventKind.SIGNAL_CONSUMED, position=0, name="item", data={"signal": 1}))
    second = journal.free_signal("item")
    assert second is not None and replay.payload_of(second) == "b"
    journal.add(event(5, EventKind.SIGNAL_CONSUMED, position=1, name="item", data={"signal": 3}))
    assert journal.free_signal("item") is None
    other = journal.free_signal("other")
    assert other is not None and other.id == 2
    assert journal.free_signal("never") is None


def test_failures_accumulate_per_position() -> None:
    journal = RunJournal.from_events(
        RUN,
        [
            event(1, EventKind.STEP_FAILED, position=0, name="s", attempt=1, data={}),
            event(2, EventKind.STEP_FAILED, position=0, name="s", attempt=2, data={}),
        ],
    )
    assert [e.attempt for e in journal.attempts_failed(0)] == [1, 2]
    assert journal.attempts_failed(1) == []
    assert journal.calls[0] == replay.Call(replay.STEP, "s")


def test_run_retried_clears_failures_but_keeps_results() -> None:
    journal = RunJournal.from_events(
        RUN,
        [
            event(1, EventKind.STEP_COMPLETED, position=0, name="a", attempt=1, data={"result": 1}),
            event(2, EventKind.STEP_FAILED, position=1, name="b", attempt=1, data={}),
            event(3, EventKind.STEP_FAILED, position=1, name="b", attempt=2, data={"final": True}),
            event(4, EventKind.RUN_FAILED),
            event(5, EventKind.RUN_RETRIED, data={"previous_status": "failed"}),
        ],
    )
    assert journal.attempts_failed(1) == []
    assert journal.retries == 1
    assert 0 in journal.results
    journal.check_call(1, replay.STEP, "b")
    journal.add(event(6, EventKind.STEP_FAILED, position=1, name="b", attempt=1, data={}))
    assert [e.id for e in journal.attempts_failed(1)] == [6]


def test_patches_are_collected() -> None:
    journal = RunJournal.from_events(RUN, [event(1, EventKind.PATCH_APPLIED, name="new-tax")])
    assert journal.patches == {"new-tax"}


def test_is_replaying_up_to_the_last_recorded_position() -> None:
    journal = RunJournal.from_events(RUN, sample_history())
    through = journal.last_own_event
    assert journal.is_replaying(0, through)
    assert journal.is_replaying(3, through)
    assert not journal.is_replaying(4, through)
    journal.add(event(11, EventKind.STEP_COMPLETED, position=4, name="n", data={"result": 0}))
    assert journal.is_replaying(4, through)


def test_is_replaying_while_the_run_once_went_further_than_the_replay_has_come() -> None:
    # The run completed step 0, then suspended (waiting for a signal at position 1, which
    # records nothing). Code met right after step 0 is the old path.
    journal = RunJournal.from_events(
        RUN,
        [
            event(1, EventKind.RUN_CREATED),
            event(2, EventKind.STEP_COMPLETED, position=0, name="a", data={"result": 1}),
            event(3, EventKind.RUN_WAITING),
            event(4, EventKind.SIGNAL_RECEIVED, name="go", data={"payload": None}),
            event(5, EventKind.RUN_STARTED),
        ],
    )
    assert journal.is_replaying(1, replayed_through=2)
    assert not journal.is_replaying(1, replayed_through=3)
    # Events from outside (signals, claims, fired timers) do not make a replay old code.
    assert journal.last_own_event == 3
