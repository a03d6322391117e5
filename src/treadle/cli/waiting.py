"""Following a run until it finishes, with a live status line on a terminal."""

from __future__ import annotations

import contextlib
import time

from rich.console import Console
from rich.text import Text

from treadle import errors
from treadle.core.history import EventKind
from treadle.core.runs import RunInfo
from treadle.runtime.engine import Engine

POLL_SECONDS = 0.25


def follow(
    engine: Engine,
    run_id: str,
    *,
    timeout: float | None,
    console: Console | None,
) -> RunInfo:
    """Poll the run until it finishes; ``console`` shows its progress while it runs.

    Raises ``ResultTimeoutError`` when ``timeout`` seconds pass first; the run goes on.
    """
    started = time.monotonic()
    give_up = None if timeout is None else started + timeout
    status = console.status(Text(f"waiting for run {run_id}…")) if console is not None else None
    with status or contextlib.nullcontext():
        while True:
            info = engine.get(run_id)
            if info.status.finished:
                return info
            now = time.monotonic()
            if give_up is not None and now >= give_up:
                raise errors.ResultTimeoutError(
                    f"run {run_id} is still {info.status} after {timeout} s; it goes on "
                    "running. Follow it with `treadle show`; is a worker serving queue "
                    f"{info.queue!r}?",
                    run_id=run_id,
                )
            if status is not None:
                # The history is read only for the display: a script gets the plain poll.
                steps = sum(1 for e in engine.history(run_id) if e.kind is EventKind.STEP_COMPLETED)
                status.update(
                    Text(
                        f"run {run_id} ({info.workflow}): {info.status}, "
                        f"{steps} step{'' if steps == 1 else 's'} completed, "
                        f"{now - started:.0f}s"
                    )
                )
            pause = POLL_SECONDS if give_up is None else min(POLL_SECONDS, give_up - now)
            time.sleep(max(pause, 0.0))
