"""What a client sees of a run."""

from __future__ import annotations

import dataclasses
from typing import Any

from treadle.core.status import RunStatus


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunInfo:
    """A run's state, as ``Engine.get`` and ``Engine.list`` return it."""

    id: str
    workflow: str
    version: str
    status: RunStatus
    queue: str
    priority: int
    parent_id: str | None
    args: list[Any]
    kwargs: dict[str, Any]
    result: Any
    """The workflow's return value once the run succeeded, else None."""
    error: dict[str, Any] | None
    """``{"type", "message", "traceback"}`` once the run failed, was cancelled or timed out."""
    created_at: float
    started_at: float | None
    finished_at: float | None
    updated_at: float
    deadline: float | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunPage:
    """One page of ``Engine.list``: pass ``next_cursor`` as ``before`` for the next page."""

    runs: list[RunInfo]
    next_cursor: str | None
