"""Retry policies: validation and the delay maths (pure, no database)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from treadle.core.retry import Retry


@pytest.mark.parametrize(
    ("kwargs", "mentions"),
    [
        ({"attempts": 0}, "attempts"),
        ({"attempts": -1}, "attempts"),
        ({"attempts": 1.5}, "attempts"),
        ({"attempts": True}, "attempts"),
        ({"backoff": 0.5}, "backoff"),
        ({"backoff": "2"}, "backoff"),
        ({"initial": -1.0}, "initial"),
        ({"initial": math.nan}, "initial"),
        ({"maximum": math.inf}, "maximum"),
        ({"initial": 10.0, "maximum": 5.0}, "maximum"),
        ({"jitter": 1.5}, "jitter"),
        ({"jitter": -0.1}, "jitter"),
        ({"jitter": False}, "jitter"),
        ({"non_retryable": [ValueError]}, "non_retryable"),
        ({"non_retryable": (ValueError, "KeyError")}, "non_retryable"),
        ({"non_retryable": (int,)}, "non_retryable"),
    ],
)
def test_invalid_policies_are_refused_naming_the_field(kwargs: dict, mentions: str) -> None:
    with pytest.raises(ValueError, match=mentions):
        Retry(**kwargs)


def test_valid_edge_policies_are_accepted() -> None:
    Retry(attempts=1)
    Retry(backoff=1.0, initial=0.0, maximum=0.0, jitter=0.0)
    Retry(jitter=1.0, non_retryable=(KeyError, KeyboardInterrupt))


def test_retry_is_frozen_and_keyword_only() -> None:
    policy = Retry()
    with pytest.raises(AttributeError):
        policy.attempts = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        Retry(3)  # type: ignore[misc]


def test_exponential_backoff_without_jitter() -> None:
    policy = Retry(attempts=6, backoff=2.0, initial=1.0, maximum=60.0, jitter=0.0)
    assert [policy.delay(n, 0.9) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_constant_delay_with_backoff_one() -> None:
    policy = Retry(attempts=4, backoff=1.0, initial=0.5, jitter=0.0)
    assert [policy.delay(n, 0.3) for n in (1, 2, 3)] == [0.5, 0.5, 0.5]


def test_delay_is_capped_at_maximum() -> None:
    policy = Retry(attempts=20, backoff=3.0, initial=1.0, maximum=10.0, jitter=0.0)
    assert policy.delay(3, 0.5) == 9.0
    assert policy.delay(4, 0.5) == 10.0
    assert policy.delay(15, 0.5) == 10.0


def test_delay_stays_capped_for_very_late_attempts() -> None:
    # A policy that retries for a long time must not overflow computing its delay.
    policy = Retry(attempts=5000, backoff=2.0, initial=1.0, maximum=60.0)
    assert policy.delay(1500, 0.5) == 60.0
    assert 0.0 <= policy.delay(4999, 0.99) <= 60.0


def test_jitter_spreads_the_delay_either_way() -> None:
    policy = Retry(attempts=5, backoff=2.0, initial=1.0, maximum=60.0, jitter=0.2)
    assert policy.delay(3, 0.0) == pytest.approx(4.0 * 0.8)
    assert policy.delay(3, 0.5) == pytest.approx(4.0)
    assert policy.delay(3, 0.999999) == pytest.approx(4.0 * 1.2, rel=1e-5)


def test_jitter_never_exceeds_maximum() -> None:
    policy = Retry(attempts=10, initial=10.0, maximum=10.0, jitter=0.5)
    assert policy.delay(5, 0.999) == 10.0
    assert policy.delay(5, 0.0) == pytest.approx(5.0)


def test_retries_counts_attempts() -> None:
    policy = Retry(attempts=3)
    assert policy.retries(1, ValueError())
    assert policy.retries(2, ValueError())
    assert not policy.retries(3, ValueError())
    assert not Retry(attempts=1).retries(1, ValueError())


class _Declined(Exception):
    pass


class _HardDeclined(_Declined):
    pass


def test_non_retryable_errors_fail_at_once_including_subclasses() -> None:
    policy = Retry(attempts=5, non_retryable=(_Declined,))
    assert not policy.retries(1, _Declined())
    assert not policy.retries(1, _HardDeclined())
    assert policy.retries(1, ValueError())


policies = st.builds(
    lambda attempts, backoff, initial, extra, jitter: Retry(
        attempts=attempts,
        backoff=backoff,
        initial=initial,
        maximum=initial + extra,
        jitter=jitter,
    ),
    attempts=st.integers(1, 10_000),
    backoff=st.floats(1.0, 10.0),
    initial=st.floats(0.0, 100.0),
    extra=st.floats(0.0, 1000.0),
    jitter=st.floats(0.0, 1.0),
)


@given(policy=policies, data=st.data(), unit=st.floats(0.0, 1.0, exclude_max=True))
def test_delay_is_within_zero_and_maximum_and_the_jitter_band(
    policy: Retry, data: st.DataObject, unit: float
) -> None:
    failed_attempt = data.draw(st.integers(1, policy.attempts), label="failed_attempt")
    delay = policy.delay(failed_attempt, unit)
    assert 0.0 <= delay <= policy.maximum
    # The undisturbed delay, computed without overflowing: min(maximum, initial * backoff^k).
    exponent = failed_attempt - 1
    if policy.initial == 0.0:
        base = 0.0
    elif exponent * math.log(policy.backoff) > math.log(policy.maximum / policy.initial) + 1:
        base = policy.maximum
    else:
        try:
            base = min(policy.maximum, policy.initial * policy.backoff**exponent)
        except OverflowError:  # the log guard is approximate near the float range's edge
            base = policy.maximum
    low = base * (1 - policy.jitter)
    high = min(policy.maximum, base * (1 + policy.jitter))
    assert low - 1e-9 * max(1.0, base) <= delay <= high + 1e-9 * max(1.0, base)
