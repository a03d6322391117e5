"""Wake-ups reach whom they concern, on both backends: with a worker that polls every 30 s
(and a scheduler that renews its lease every second, a client that looks every second), runs
that sleep, wait for a signal or are cancelled go on, and their clients get their results,
in a fraction of that."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import treadle as tr
from conftest import StartWorker

# Far longer than every bound below: only wake-ups can meet them.
SLOW_POLL = 30.0


@tr.step
def wakeups_pause(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@tr.workflow
async def wakeups_step(ctx: tr.Context, seconds: float) -> float:
    return await ctx.step(wakeups_pause, seconds)


@tr.workflow
async def wakeups_naps(ctx: tr.Context, count: int) -> int:
    for _ in range(count):
        await ctx.sleep(0.02)
    return count


@tr.workflow
async def wakeups_waits(ctx: tr.Context) -> Any:
    return await ctx.wait_for("go")


def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    began = time.monotonic()
    value = call()
    return value, time.monotonic() - began


def test_a_client_hears_its_run_end(engine: tr.Engine, start_worker: StartWorker) -> None:
    start_worker(poll_interval=SLOW_POLL)
    engine.result(engine.start(wakeups_step, 0.0), timeout=10)  # warm up
    value, took = _timed(lambda: engine.result(engine.start(wakeups_step, 0.2), timeout=10))
    assert value == 0.2
    assert took < 0.8  # the worker heard the start, the client the end


def test_timers_set_by_a_run_wake_the_scheduler(
    engine: tr.Engine, start_worker: StartWorker
) -> None:
    start_worker(poll_interval=SLOW_POLL)
    engine.result(engine.start(wakeups_naps, 1), timeout=10)  # warm up: it leads the scheduler
    value, took = _timed(lambda: engine.result(engine.start(wakeups_naps, 4), timeout=10))
    assert value == 4
    # Without a wake-up, each sleep would wait for the scheduler's next lease renewal.
    assert took < 1.5


def test_a_signal_wakes_the_worker_and_the_end_the_client(
    engine: tr.Engine, start_worker: StartWorker, wait_status: Callable[..., tr.RunInfo]
) -> None:
    start_worker(poll_interval=SLOW_POLL)
    run_id = engine.start(wakeups_waits)
    wait_status(run_id, "waiting")
    threading.Timer(0.1, lambda: engine.signal(run_id, "go", "now")).start()
    value, took = _timed(lambda: engine.result(run_id, timeout=10))
    assert value == "now"
    assert took < 0.8


def test_a_client_hears_a_cancel(
    engine: tr.Engine, start_worker: StartWorker, wait_status: Callable[..., tr.RunInfo]
) -> None:
    start_worker(poll_interval=SLOW_POLL)
    run_id = engine.start(wakeups_waits)
    wait_status(run_id, "waiting")
    threading.Timer(0.1, lambda: engine.cancel(run_id)).start()
    began = time.monotonic()
    with pytest.raises(tr.RunCancelledError):
        engine.result(run_id, timeout=10)
    assert time.monotonic() - began < 0.8


@tr.workflow
async def wakeups_works_then_waits(ctx: tr.Context, seconds: float) -> Any:
    await ctx.step(wakeups_pause, seconds)
    return await ctx.wait_for("go")


def test_a_signal_that_arrives_while_the_run_works_is_taken_at_once(
    engine: tr.Engine, start_worker: StartWorker, wait_status: Callable[..., tr.RunInfo]
) -> None:
    # The run goes back to the queue as it stops to wait, the signal being there already;
    # its own worker, which heard nothing new, must claim it again without polling.
    start_worker(poll_interval=SLOW_POLL)
    engine.result(engine.start(wakeups_step, 0.0), timeout=10)  # warm up
    run_id = engine.start(wakeups_works_then_waits, 0.4)
    wait_status(run_id, "running")
    engine.signal(run_id, "go", "early")
    value, took = _timed(lambda: engine.result(run_id, timeout=10))
    assert value == "early"
    assert took < 1.2
