"""Run statuses and the table of allowed changes."""

from __future__ import annotations

import itertools

import pytest

from treadle.core import status
from treadle.core.status import RunStatus

P, R, W = RunStatus.PENDING, RunStatus.RUNNING, RunStatus.WAITING
S, F, C, T = RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.TIMED_OUT

ALLOWED = {
    (P, R),
    (P, C),
    (P, T),
    (R, W),
    (R, R),
    (R, S),
    (R, F),
    (R, C),
    (R, T),
    (W, R),
    (W, C),
    (W, T),
    (F, P),
    (T, P),
}


def test_values_are_what_the_database_stores() -> None:
    assert [s.value for s in RunStatus] == [
        "pending",
        "running",
        "waiting",
        "succeeded",
        "failed",
        "cancelled",
        "timed_out",
    ]
    assert RunStatus("timed_out") is T


@pytest.mark.parametrize(("current", "new"), list(itertools.product(RunStatus, RunStatus)))
def test_transition_table(current: RunStatus, new: RunStatus) -> None:
    assert status.can_change(current, new) == ((current, new) in ALLOWED)


def test_finished_statuses() -> None:
    assert {s for s in RunStatus if s.finished} == {S, F, C, T}
    assert status.FINISHED == {S, F, C, T}


def test_finished_runs_only_leave_by_retry() -> None:
    for final in status.FINISHED:
        targets = {new for new in RunStatus if status.can_change(final, new)}
        assert targets == ({P} if final in status.RETRYABLE else set())


def test_retryable_statuses() -> None:
    assert status.RETRYABLE == {F, T}
