"""What a running step can learn about itself: ``tr.current_step()``."""

from __future__ import annotations

import contextvars
import dataclasses
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class StepInfo:
    """The step call being executed, as its own code sees it."""

    run_id: str
    step: str
    """The step's name."""
    position: int
    """Which call of the workflow this is (0 for the first)."""
    attempt: int
    """Which attempt this is, counting from 1."""

    @property
    def idempotency_key(self) -> str:
        """The same for every attempt of this call, and different for any other call.

        Pass it to an external system (a payment API's ``Idempotency-Key``, a unique column)
        so that an attempt repeated after a crash or a retry does the work there only once.
        """
        return f"{self.run_id}:{self.position}"


_current: contextvars.ContextVar[StepInfo | None] = contextvars.ContextVar(
    "treadle_step", default=None
)


def current_step() -> StepInfo | None:
    """The step being executed by the calling code, or None outside a step."""
    return _current.get()


class Running:
    """``with Running(info):`` makes ``current_step()`` return ``info`` inside the block."""

    __slots__ = ("_info", "_token")

    def __init__(self, info: StepInfo) -> None:
        self._info = info

    def __enter__(self) -> None:
        self._token = _current.set(self._info)

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._token)


def call_as(info: StepInfo, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` with ``current_step()`` returning ``info`` for the length of the call."""
    with Running(info):
        return fn(*args, **kwargs)
