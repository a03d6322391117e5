"""Retry policies: how often a step is tried again and how long to wait in between."""

from __future__ import annotations

import dataclasses
import math

from treadle import errors


@dataclasses.dataclass(frozen=True, kw_only=True)
class Retry:
    """When and how a failed step attempt is tried again.

    ``Retry(attempts=5, backoff=2.0, initial=1.0, maximum=60.0)`` waits about 1, 2, 4 and 8
    seconds between the five attempts, each delay spread by ``jitter`` so that many runs
    failing together do not retry together.
    """

    attempts: int = 3
    """Total number of attempts, the first included; 1 means no retry."""
    backoff: float = 2.0
    """Each delay is the previous one times this factor (1.0 gives a constant delay)."""
    initial: float = 1.0
    """Seconds to wait before the second attempt."""
    maximum: float = 60.0
    """No delay is longer than this many seconds."""
    jitter: float = 0.2
    """Each delay is moved by up to this fraction of itself, at random, either way."""
    non_retryable: tuple[type[BaseException], ...] = ()
    """Error types that fail the step at once, however many attempts are left."""

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int):
            raise errors.UsageError(f"Retry(attempts=...) must be an int, not {self.attempts!r}")
        if self.attempts < 1:
            raise errors.UsageError(f"Retry(attempts={self.attempts}) must be at least 1")
        for name in ("backoff", "initial", "maximum", "jitter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise errors.UsageError(f"Retry({name}=...) must be a number, not {value!r}")
            if not math.isfinite(value) or value < 0:
                raise errors.UsageError(f"Retry({name}={value}) must be a finite number >= 0")
        if self.backoff < 1:
            raise errors.UsageError(f"Retry(backoff={self.backoff}) must be at least 1.0")
        if self.maximum < self.initial:
            raise errors.UsageError(
                f"Retry(maximum={self.maximum}) must be at least initial={self.initial}"
            )
        if self.jitter > 1:
            raise errors.UsageError(f"Retry(jitter={self.jitter}) must be between 0 and 1")
        if not isinstance(self.non_retryable, tuple) or not all(
            isinstance(t, type) and issubclass(t, BaseException) for t in self.non_retryable
        ):
            raise errors.UsageError("Retry(non_retryable=...) must be a tuple of exception types")

    def delay(self, failed_attempt: int, unit_random: float) -> float:
        """Seconds to wait after attempt number ``failed_attempt`` (1-based) failed.

        ``unit_random`` is a number in [0, 1) supplied by the caller, which owns randomness.
        """
        try:
            growth = self.backoff ** (failed_attempt - 1)
        except OverflowError:  # a late attempt of a long policy: only the cap matters
            growth = math.inf
        base = min(self.maximum, self.initial * growth) if self.initial else 0.0
        spread = base * self.jitter * (2.0 * unit_random - 1.0)
        return max(0.0, min(self.maximum, base + spread))

    def retries(self, failed_attempt: int, error: BaseException) -> bool:
        """Whether a failure of attempt ``failed_attempt`` with ``error`` earns another try."""
        if failed_attempt >= self.attempts:
            return False
        return not isinstance(error, self.non_retryable)


DEFAULT = Retry()
