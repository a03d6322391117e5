"""What the pattern examples share: a throwaway database, the tasks, and reading the trace.

The scenarios of the control-flow patterns speak of tasks A, B, C... that take some time and
leave a trace when they complete. Here each task is a step named after it: ``ctx.step(B, 2)``
runs task B for two time units, and ``ctx.step(B, 2, 7)`` runs instance 7 of it (its result
is then ``"B#7"``). The trace is read back from the history: the ``step_completed`` events of
a run and of its child runs, in the order they were recorded.

``run_task`` is a child workflow that runs one task: the partial joins race such child runs
with ``ctx.first`` and join the rest later by their ids. ``signal_run`` sends a signal to
another run through the client, as any other program could; WCP-33 needs it, for branches
that report each token they deliver. docs/patterns.md says which patterns use what.

The examples import this module by its name: run them as ``python examples/patterns/<file>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import treadle as tr

UNIT = 0.1
"""One time unit of the scenarios ("B finishes at t=1"), in seconds: short enough for tests."""

STARTED: set[tuple[str, str]] = set()
"""(run id, task) of every task that has started in this process: examples use it to act
while a task is running (to cancel it, say). Steps are at least once, so this is a hint for
timing, never a record."""


def task(name: str) -> tr.Step[..., str]:
    """The step of task ``name``: ``(units=0, label=None)`` works for ``units`` time units and
    returns ``name``, or ``"name#label"`` for an instance."""

    async def work(units: float = 0.0, label: Any = None) -> str:
        info = tr.current_step()
        if info is not None:
            STARTED.add((info.run_id, name))
        await asyncio.sleep(units * UNIT)
        return name if label is None else f"{name}#{label}"

    work.__name__ = work.__qualname__ = name
    return tr.step(name=name)(work)


def flow_task(name: str, units: float = 0.0) -> tr.Step[..., str]:
    """For ``tr.Flow``, whose tasks receive their predecessors' results as arguments: the
    step of task ``name`` that takes any arguments, works ``units`` time units and returns
    ``name``."""

    async def work(*inputs: Any) -> str:
        await asyncio.sleep(units * UNIT)
        return name

    work.__name__ = work.__qualname__ = name
    return tr.step(name=name)(work)


A, B, C, D, E, F = (task(name) for name in "ABCDEF")
TASKS = {"A": A, "B": B, "C": C, "D": D, "E": E, "F": F}


# -- tasks as child runs, and signalling another run -------------------------------------------


@tr.workflow(name="patterns.task")
async def run_task(ctx: tr.Context, task: str, units: float, label: Any = None) -> str:
    """Run one task as a child run, so that a parent can race it, withdraw it or join it."""
    return await ctx.step(TASKS[task], units, label)


@tr.step(name="signal_run")
def signal_run(database: str, run_id: str, signal: str, payload: Any = None) -> bool:
    """Send ``signal`` to another run; False when that run has already finished.

    At least once, like every step: after a crash at the wrong moment the signal can arrive
    twice, so a receiver that counts arrivals can tell them apart by their payload.
    """
    with tr.Engine(database, migrate=False) as engine:
        try:
            engine.signal(run_id, signal, payload)
        except tr.RunFinishedError:
            return False
    return True


# -- running the examples and reading what happened --------------------------------------------


@contextlib.contextmanager
def engine_with_worker() -> Iterator[tr.Engine]:
    """An engine on a fresh SQLite file in a temporary folder, with a worker in this process."""
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite:///{Path(folder) / 'patterns.db'}"
        with tr.Engine(database) as engine, engine.worker(poll_interval=0.05):
            yield engine


@dataclasses.dataclass(frozen=True)
class Completion:
    """One completed step: which, in which run, when it started and when it was recorded."""

    task: str
    run_id: str
    started: float
    finished: float
    result: Any


HELPERS = frozenset({"signal_run"})


def completions(engine: tr.Engine, run_id: str) -> list[Completion]:
    """The tasks completed by the run and by its child runs (recursively), oldest first."""
    events = [event for rid in family(engine, run_id) for event in engine.history(rid)]
    events.sort(key=lambda event: event.id)
    return [
        Completion(e.name or "", e.run_id, e.data["started_at"], e.at, e.data["result"])
        for e in events
        if e.kind is tr.EventKind.STEP_COMPLETED and e.name not in HELPERS
    ]


def trace(engine: tr.Engine, run_id: str) -> list[str]:
    """The completed tasks of the run and its children, in order: ``B``, or ``B#2`` for an
    instance."""
    return [label(c) for c in completions(engine, run_id)]


def label(completion: Completion) -> str:
    result = completion.result
    return (
        result
        if isinstance(result, str) and result.startswith(completion.task)
        else completion.task
    )


def family(engine: tr.Engine, run_id: str) -> list[str]:
    """The run and all its descendants, parents before children."""
    runs = [run_id]
    for child in reversed(engine.list(parent=run_id, limit=1000).runs):
        runs.extend(family(engine, child.id))
    return runs


def children(engine: tr.Engine, run_id: str) -> list[tr.RunInfo]:
    """The run's child runs, oldest first."""
    return list(reversed(engine.list(parent=run_id, limit=1000).runs))


def wait_until(check: Callable[[], Any], timeout: float = 10.0) -> None:
    """Poll ``check()`` until it is true: the examples use it to act at the right moment."""
    give_up = time.monotonic() + timeout
    while not check():
        if time.monotonic() > give_up:
            raise TimeoutError(f"gave up after {timeout} s waiting for {check}")
        time.sleep(0.01)


def wait_finished(engine: tr.Engine, run_ids: list[str], timeout: float = 10.0) -> None:
    """Wait until all ``run_ids`` have finished, whatever their outcome."""
    wait_until(lambda: all(engine.get(rid).status.finished for rid in run_ids), timeout)


def show(engine: tr.Engine, label: str, run_id: str) -> None:
    """Print a run's outcome and its trace (its children's tasks included)."""
    info = engine.get(run_id)
    outcome = f" -> {info.result!r}" if info.status is tr.RunStatus.SUCCEEDED else ""
    print(f"{label}: {info.status.value}{outcome}")
    print(f"  trace: {', '.join(trace(engine, run_id)) or '(no task completed)'}")
    for child in children(engine, run_id):
        print(f"  child run {child.workflow}: {child.status.value}")


def main(demo: Callable[[tr.Engine], dict[str, str]]) -> None:
    """Run an example's ``demo`` on a throwaway database and print each scenario's runs."""
    with engine_with_worker() as engine:
        for label, run_id in demo(engine).items():
            show(engine, label, run_id)
