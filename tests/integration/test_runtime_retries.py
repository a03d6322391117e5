"""Resilience: step retries with backoff, non-retryable errors, timeouts and run deadlines."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from side_effects import CALLS, count

import treadle as tr


class ChargeDeclined(Exception):
    pass


class CardStolen(ChargeDeclined):
    pass


@tr.step(retry=tr.Retry(attempts=3, initial=0.01))
def retries_flaky(key: str) -> str:
    if count(key) < 3:
        raise ChargeDeclined(f"declined #{CALLS[key]}")
    return "charged"


@tr.workflow
async def retries_flaky_wf(ctx: tr.Context, key: str) -> str:
    return await ctx.step(retries_flaky, key)


@tr.step(retry=tr.Retry(attempts=5, initial=0.01, non_retryable=(CardStolen,)))
def retries_stolen(key: str) -> str:
    count(key)
    raise CardStolen("the card was reported stolen")


@tr.workflow
async def retries_stolen_wf(ctx: tr.Context, key: str) -> str:
    return await ctx.step(retries_stolen, key)


@tr.step(retry=tr.Retry(attempts=2, initial=0.01, backoff=1.0))
def retries_always_fails(key: str) -> str:
    count(key)
    raise ChargeDeclined("insufficient funds", 42)


@tr.workflow
async def retries_exhausted_wf(ctx: tr.Context, key: str) -> str:
    return await ctx.step(retries_always_fails, key)


@tr.workflow
async def retries_caught_wf(ctx: tr.Context, key: str) -> dict[str, object]:
    try:
        await ctx.step(retries_always_fails, key)
    except ChargeDeclined as exc:
        return {"caught": type(exc).__name__, "args": list(exc.args)}
    return {"caught": None}


@tr.workflow
def retries_caught_sync_wf(ctx: tr.SyncContext, key: str) -> str:
    try:
        ctx.step(retries_always_fails, key)
    except ChargeDeclined:
        return "handled"
    return "not handled"


@tr.step(timeout=0.2, retry=tr.Retry(attempts=2, initial=0.01))
async def retries_slow_once(key: str) -> str:
    if count(key) == 1:
        await asyncio.sleep(30)
    return "fast enough"


@tr.workflow
async def retries_timeout_wf(ctx: tr.Context, key: str) -> str:
    return await ctx.step(retries_slow_once, key)


@tr.step(timeout=0.1, retry=tr.Retry(attempts=2, initial=0.01))
async def retries_always_slow(key: str) -> str:
    count(key)
    await asyncio.sleep(30)
    return "never"


@tr.workflow
async def retries_always_slow_wf(ctx: tr.Context, key: str) -> str:
    return await ctx.step(retries_always_slow, key)


@tr.workflow(timeout=0.5)
async def retries_deadline_wf(ctx: tr.Context) -> str:
    await ctx.sleep(60)
    return "woke"


@tr.step(retry=tr.Retry(attempts=1))
async def retries_long_step() -> str:
    await asyncio.sleep(30)
    return "done"


@tr.workflow(timeout=0.5)
async def retries_deadline_in_step_wf(ctx: tr.Context) -> str:
    return await ctx.step(retries_long_step)


def key() -> str:
    return uuid.uuid4().hex


def step_events(engine: tr.Engine, run_id: str) -> list[tuple[str, str | None, int | None]]:
    return [
        (event.kind.value, event.step, event.attempt)
        for event in engine.history(run_id)
        if event.kind in (tr.EventKind.STEP_FAILED, tr.EventKind.STEP_COMPLETED)
    ]


def test_step_retried_with_backoff_until_it_succeeds(engine: tr.Engine, start_worker) -> None:
    k = key()
    start_worker()
    run_id = engine.start(retries_flaky_wf, k)
    assert engine.result(run_id, timeout=10) == "charged"
    assert CALLS[k] == 3
    assert step_events(engine, run_id) == [
        ("step_failed", "retries_flaky", 1),
        ("step_failed", "retries_flaky", 2),
        ("step_completed", "retries_flaky", 3),
    ]
    failures = [e for e in engine.history(run_id) if e.kind is tr.EventKind.STEP_FAILED]
    for event in failures:
        assert event.data["error"]["type"].endswith("ChargeDeclined")
        assert event.data["final"] is False
        assert event.data["retry_at"] >= event.at
    # The second delay is longer than the first: exponential backoff (jitter is 20 %).
    first_gap = failures[1].data["started_at"] - failures[0].at
    assert first_gap >= 0.01 * 0.8 - 0.005


def test_non_retryable_error_fails_at_once(engine: tr.Engine, start_worker) -> None:
    k = key()
    start_worker()
    run_id = engine.start(retries_stolen_wf, k)
    with pytest.raises(tr.RunFailedError) as caught:
        engine.result(run_id, timeout=10)
    assert CALLS[k] == 1
    assert caught.value.error_type.endswith("CardStolen")
    assert caught.value.run_id == run_id
    assert "stolen" in str(caught.value)
    assert step_events(engine, run_id) == [("step_failed", "retries_stolen", 1)]
    failed = [e for e in engine.history(run_id) if e.kind is tr.EventKind.STEP_FAILED]
    assert failed[0].data["final"] is True


def test_exhausted_retries_fail_the_run_with_the_step_error_type(
    engine: tr.Engine, start_worker
) -> None:
    k = key()
    start_worker()
    run_id = engine.start(retries_exhausted_wf, k)
    with pytest.raises(tr.RunFailedError) as caught:
        engine.result(run_id, timeout=10)
    assert caught.value.error_type == f"{__name__}.ChargeDeclined"
    assert "insufficient funds" in str(caught.value)
    assert "ChargeDeclined" in caught.value.remote_traceback
    assert CALLS[k] == 2
    info = engine.get(run_id)
    assert info.status is tr.RunStatus.FAILED
    assert info.error is not None and info.error["type"] == f"{__name__}.ChargeDeclined"
    kinds = [e.kind for e in engine.history(run_id)]
    assert kinds[-1] is tr.EventKind.RUN_FAILED


def test_workflow_can_catch_a_step_that_exhausted_its_retries(
    engine: tr.Engine, start_worker
) -> None:
    k1, k2 = key(), key()
    start_worker()
    async_run = engine.start(retries_caught_wf, k1)
    sync_run = engine.start(retries_caught_sync_wf, k2)
    assert engine.result(async_run, timeout=10) == {
        "caught": "ChargeDeclined",
        "args": ["insufficient funds", 42],
    }
    assert engine.result(sync_run, timeout=10) == "handled"
    assert engine.get(async_run).status is tr.RunStatus.SUCCEEDED
    assert CALLS[k1] == 2 and CALLS[k2] == 2


def test_attempt_past_its_timeout_is_retried(engine: tr.Engine, start_worker) -> None:
    k = key()
    start_worker()
    started = time.monotonic()
    run_id = engine.start(retries_timeout_wf, k)
    assert engine.result(run_id, timeout=10) == "fast enough"
    assert time.monotonic() - started < 5
    assert step_events(engine, run_id) == [
        ("step_failed", "retries_slow_once", 1),
        ("step_completed", "retries_slow_once", 2),
    ]
    failed = next(e for e in engine.history(run_id) if e.kind is tr.EventKind.STEP_FAILED)
    assert failed.data["error"]["type"].endswith("StepTimeoutError")


def test_every_attempt_timing_out_fails_with_step_timeout(engine: tr.Engine, start_worker) -> None:
    k = key()
    start_worker()
    run_id = engine.start(retries_always_slow_wf, k)
    with pytest.raises(tr.RunFailedError) as caught:
        engine.result(run_id, timeout=10)
    assert caught.value.error_type.endswith("StepTimeoutError")
    assert CALLS[k] == 2


def test_run_deadline_times_out_a_sleeping_run(
    engine: tr.Engine, start_worker, wait_status
) -> None:
    start_worker()
    started = time.monotonic()
    run_id = engine.start(retries_deadline_wf)
    info = engine.get(run_id)
    assert info.deadline is not None and info.deadline - info.created_at == pytest.approx(0.5)
    with pytest.raises(tr.RunTimedOutError) as caught:
        engine.result(run_id, timeout=10)
    assert caught.value.run_id == run_id
    assert time.monotonic() - started < 5
    info = wait_status(run_id, "timed_out")
    assert info.error is not None and "deadline" in info.error["message"]
    kinds = [e.kind for e in engine.history(run_id)]
    assert tr.EventKind.TIMER_STARTED in kinds
    assert tr.EventKind.TIMER_FIRED not in kinds
    assert kinds[-1] is tr.EventKind.RUN_TIMED_OUT


def test_each_retry_of_a_timed_out_run_gets_the_time_it_had_at_first(
    engine: tr.Engine, start_worker
) -> None:
    start_worker()
    run_id = engine.start(retries_deadline_wf)
    for _ in range(3):
        with pytest.raises(tr.RunTimedOutError):
            engine.result(run_id, timeout=10)
        time.sleep(0.3)  # a while after the deadline: the window must not grow by it
        before = time.time()
        engine.retry(run_id)
        info = engine.get(run_id)
        assert info.deadline is not None
        assert before - 0.05 <= info.deadline - 0.5 <= time.time() + 0.05
    with pytest.raises(tr.RunTimedOutError):
        engine.result(run_id, timeout=10)
    retried = [e for e in engine.history(run_id) if e.kind is tr.EventKind.RUN_RETRIED]
    assert [e.data["time_allowed"] for e in retried] == pytest.approx([0.5, 0.5, 0.5])


def test_run_deadline_interrupts_a_running_step(engine: tr.Engine, start_worker) -> None:
    start_worker()
    started = time.monotonic()
    run_id = engine.start(retries_deadline_in_step_wf)
    with pytest.raises(tr.RunTimedOutError):
        engine.result(run_id, timeout=10)
    assert time.monotonic() - started < 5
    assert engine.get(run_id).status is tr.RunStatus.TIMED_OUT
