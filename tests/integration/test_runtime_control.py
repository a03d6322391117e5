"""Following runs from outside: signals, durable sleep, children, cancel and retry."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from side_effects import CALLS, count

import treadle as tr


def key() -> str:
    return uuid.uuid4().hex


def kinds(engine: tr.Engine, run_id: str) -> list[str]:
    return [event.kind.value for event in engine.history(run_id)]


# -- signals --------------------------------------------------------------------------------


@tr.workflow
async def control_collect_wf(ctx: tr.Context, n: int) -> list[Any]:
    return [await ctx.wait_for("item") for _ in range(n)]


@tr.workflow
async def control_wait_timeout_wf(ctx: tr.Context) -> str:
    try:
        await ctx.wait_for("never", timeout=0.2)
    except tr.WaitTimeoutError:
        return "gave up"
    return "got it"


@tr.workflow
async def control_wait_uncaught_wf(ctx: tr.Context) -> str:
    await ctx.wait_for("never", timeout=0.1)
    return "got it"


@tr.workflow
def control_sync_wait_wf(ctx: tr.SyncContext) -> Any:
    first = ctx.wait_for("go")
    try:
        ctx.wait_for("second", timeout=0.1)
    except tr.WaitTimeoutError:
        return {"first": first, "second": None}
    return {"first": first}


@tr.workflow
async def control_noop_wf(ctx: tr.Context) -> str:
    return "done"


def test_wait_for_returns_payloads_in_arrival_order(
    engine: tr.Engine, start_worker, wait_status
) -> None:
    start_worker()
    run_id = engine.start(control_collect_wf, 4)
    wait_status(run_id, "waiting")
    for payload in ({"n": 1}, [2], "three", None):
        engine.signal(run_id, "item", payload)
    assert engine.result(run_id, timeout=10) == [{"n": 1}, [2], "three", None]
    consumed = [e for e in engine.history(run_id) if e.kind is tr.EventKind.SIGNAL_CONSUMED]
    assert [e.position for e in consumed] == [0, 1, 2, 3]


def test_signals_sent_before_the_wait_are_delivered(engine: tr.Engine, start_worker) -> None:
    run_id = engine.start(control_collect_wf, 3)
    engine.signal(run_id, "other", "ignored")
    for payload in ("a", "b", "c"):
        engine.signal(run_id, "item", payload)
    assert engine.get(run_id).status is tr.RunStatus.PENDING
    start_worker()
    assert engine.result(run_id, timeout=10) == ["a", "b", "c"]


def test_extra_signals_wait_for_a_later_wait(engine: tr.Engine, start_worker, wait_status) -> None:
    run_id = engine.start(control_collect_wf, 1)
    engine.signal(run_id, "item", 1)
    engine.signal(run_id, "item", 2)
    # Started only now: a worker already running may finish the run between the two
    # signals, and then the second is refused.
    start_worker()
    assert engine.result(run_id, timeout=10) == [1]


def test_wait_timeout_is_catchable(engine: tr.Engine, start_worker) -> None:
    start_worker()
    started = time.monotonic()
    run_id = engine.start(control_wait_timeout_wf)
    assert engine.result(run_id, timeout=10) == "gave up"
    assert time.monotonic() - started >= 0.2
    assert "wait_timed_out" in kinds(engine, run_id)


def test_uncaught_wait_timeout_fails_the_run(engine: tr.Engine, start_worker) -> None:
    start_worker()
    run_id = engine.start(control_wait_uncaught_wf)
    with pytest.raises(tr.RunFailedError) as caught:
        engine.result(run_id, timeout=10)
    assert caught.value.error_type.endswith("WaitTimeoutError")


def test_sync_workflow_waits_for_signals(engine: tr.Engine, start_worker, wait_status) -> None:
    start_worker()
    run_id = engine.start(control_sync_wait_wf)
    wait_status(run_id, "waiting")
    engine.signal(run_id, "go", {"ok": True})
    assert engine.result(run_id, timeout=10) == {"first": {"ok": True}, "second": None}


def test_signal_to_a_finished_run_is_refused_and_not_stored(
    engine: tr.Engine, start_worker
) -> None:
    start_worker()
    run_id = engine.start(control_noop_wf)
    assert engine.result(run_id, timeout=10) == "done"
    before = engine.history(run_id)
    with pytest.raises(tr.RunFinishedError) as caught:
        engine.signal(run_id, "late", {"x": 1})
    assert caught.value.run_id == run_id
    assert "late" in str(caught.value)
    assert engine.history(run_id) == before


def test_signal_bad_input(engine: tr.Engine) -> None:
    run_id = engine.start(control_collect_wf, 1)
    with pytest.raises(tr.UsageError):
        engine.signal(run_id, "", 1)
    with pytest.raises(tr.SerializationError, match="signal 'item'"):
        engine.signal(run_id, "item", {1, 2})
    with pytest.raises(tr.RunNotFoundError):
        engine.signal("no-such-run", "item", 1)
    assert "signal_received" not in kinds(engine, run_id)


# -- durable sleep --------------------------------------------------------------------------


@tr.workflow
async def control_sleep_wf(ctx: tr.Context, seconds: float) -> float:
    before = ctx.now()
    await ctx.sleep(seconds)
    return ctx.now() - before


def test_durable_sleep_suspends_and_resumes(engine: tr.Engine, start_worker, wait_status) -> None:
    start_worker()
    started = time.monotonic()
    run_id = engine.start(control_sleep_wf, 0.3)
    wait_status(run_id, "waiting", timeout=5)
    slept = engine.result(run_id, timeout=10)
    assert time.monotonic() - started >= 0.3
    assert slept >= 0.3
    history = kinds(engine, run_id)
    timer_started = history.index("timer_started")
    waiting = history.index("run_waiting")
    fired = history.index("timer_fired")
    assert timer_started < waiting < fired < history.index("run_succeeded")
    assert history.count("run_started") == 2


def test_sleep_rejects_bad_durations(engine: tr.Engine, start_worker) -> None:
    start_worker()
    run_id = engine.start(control_sleep_wf, -1)
    with pytest.raises(tr.RunFailedError) as caught:
        engine.result(run_id, timeout=10)
    assert caught.value.error_type.endswith("UsageError")


# -- children -------------------------------------------------------------------------------


@tr.workflow
async def control_child_wf(ctx: tr.Context, x: int) -> int:
    if x < 0:
        raise ValueError(f"negative: {x}")
    return x * 10


@tr.workflow
async def control_child_waits_wf(ctx: tr.Context) -> Any:
    return await ctx.wait_for("release")


@tr.workflow
async def control_parent_wf(ctx: tr.Context, x: int) -> dict[str, Any]:
    detached = await ctx.child(control_child_wf, x + 1, wait=False)
    result = await ctx.child(control_child_wf, x)
    await ctx.wait_for("finish")
    return {"result": result, "detached": detached}


@tr.workflow
async def control_parent_catches_wf(ctx: tr.Context) -> dict[str, Any]:
    try:
        await ctx.child(control_child_wf, -5)
    except tr.RunFailedError as exc:
        return {"error_type": exc.error_type, "child": exc.run_id}
    return {"error_type": None}


@tr.workflow
async def control_parent_fails_wf(ctx: tr.Context) -> int:
    return await ctx.child(control_child_wf, -1)


@tr.workflow
async def control_parent_of_waiting_wf(ctx: tr.Context) -> Any:
    return await ctx.child(control_child_waits_wf)


@tr.workflow
async def control_parent_named_child_wf(ctx: tr.Context, child_id: str) -> int:
    return await ctx.child("control_child_wf", 7, id=child_id)


def test_child_with_wait_returns_its_result_and_without_its_id(
    engine: tr.Engine, start_worker, wait_status
) -> None:
    start_worker()
    run_id = engine.start(control_parent_wf, 4)
    detached = f"{run_id}.0"
    wait_status(run_id, "waiting")
    assert engine.result(detached, timeout=10) == 50
    wait_status(f"{run_id}.1", "succeeded")
    engine.signal(run_id, "finish")
    outcome = engine.result(run_id, timeout=10)
    assert outcome == {"result": 40, "detached": detached}
    assert engine.get(detached).parent_id == run_id
    children = engine.list(parent=run_id).runs
    assert {child.id for child in children} == {detached, f"{run_id}.1"}
    assert "child_started" in kinds(engine, run_id)
    assert "child_completed" in kinds(engine, run_id)


def test_child_failure_raises_run_failed_in_the_parent(engine: tr.Engine, start_worker) -> None:
    start_worker()
    caught = engine.start(control_parent_catches_wf)
    outcome = engine.result(caught, timeout=10)
    assert outcome["error_type"] == "builtins.ValueError"
    assert engine.get(outcome["child"]).status is tr.RunStatus.FAILED

    uncaught = engine.start(control_parent_fails_wf)
    with pytest.raises(tr.RunFailedError) as error:
        engine.result(uncaught, timeout=10)
    assert error.value.error_type.endswith("RunFailedError")


def test_child_with_a_chosen_id(engine: tr.Engine, start_worker) -> None:
    start_worker()
    run_id = engine.start(control_parent_named_child_wf, "my-child")
    assert engine.result(run_id, timeout=10) == 70
    assert engine.get("my-child").parent_id == run_id


# -- cancel ---------------------------------------------------------------------------------


def test_cancel_a_waiting_run_cancels_its_child(
    engine: tr.Engine, start_worker, wait_status
) -> None:
    start_worker()
    run_id = engine.start(control_parent_of_waiting_wf)
    child_id = f"{run_id}.0"
    wait_status(run_id, "waiting")
    wait_status(child_id, "waiting")
    engine.cancel(run_id)
    assert engine.get(run_id).status is tr.RunStatus.CANCELLED
    assert engine.get(child_id).status is tr.RunStatus.CANCELLED
    with pytest.raises(tr.RunCancelledError) as caught:
        engine.result(run_id, timeout=5)
    assert caught.value.run_id == run_id
    with pytest.raises(tr.RunCancelledError):
        engine.result(child_id, timeout=5)
    assert "run_cancelled" in kinds(engine, run_id)
    assert kinds(engine, child_id)[-1] == "run_cancelled"
    # A signal arriving afterwards is refused: the run is finished.
    with pytest.raises(tr.RunFinishedError):
        engine.signal(child_id, "release", 1)
    time.sleep(0.3)  # nothing brings them back
    assert engine.get(run_id).status is tr.RunStatus.CANCELLED
    assert engine.get(child_id).status is tr.RunStatus.CANCELLED


def test_history_of_a_cancelled_parent_ends_with_its_cancellation(
    engine: tr.Engine, start_worker, wait_status
) -> None:
    # Nothing is appended to a run's history after its final event.
    start_worker()
    run_id = engine.start(control_parent_of_waiting_wf)
    wait_status(f"{run_id}.0", "waiting")
    engine.cancel(run_id)
    assert kinds(engine, run_id)[-1] == "run_cancelled"


def test_cancel_a_pending_run(engine: tr.Engine) -> None:
    run_id = engine.start(control_collect_wf, 1)
    engine.cancel(run_id)
    assert engine.get(run_id).status is tr.RunStatus.CANCELLED


def test_cancel_a_finished_run_is_refused(engine: tr.Engine, start_worker) -> None:
    start_worker()
    run_id = engine.start(control_noop_wf)
    engine.result(run_id, timeout=10)
    with pytest.raises(tr.RunFinishedError) as caught:
        engine.cancel(run_id)
    assert caught.value.run_id == run_id
    assert engine.get(run_id).status is tr.RunStatus.SUCCEEDED
    with pytest.raises(tr.RunNotFoundError):
        engine.cancel("no-such-run")


# -- retry of a failed run ------------------------------------------------------------------


@tr.step
def control_prepare(k: str) -> str:
    count(k + ":prepare")
    return "prepared"


@tr.step(retry=tr.Retry(attempts=2, initial=0.01))
def control_needs_flag(k: str, flag: str) -> str:
    count(k + ":flag")
    if not Path(flag).exists():
        raise FileNotFoundError(f"flag {flag} is missing")
    return "flag found"


@tr.workflow
async def control_fixable_wf(ctx: tr.Context, k: str, flag: str) -> list[str]:
    first = await ctx.step(control_prepare, k)
    second = await ctx.step(control_needs_flag, k, flag)
    return [first, second]


def test_retry_resumes_a_failed_run_from_its_failed_step(
    engine: tr.Engine, start_worker, tmp_path: Path
) -> None:
    k, flag = key(), tmp_path / "flag"
    start_worker()
    run_id = engine.start(control_fixable_wf, k, str(flag))
    with pytest.raises(tr.RunFailedError) as caught:
        engine.result(run_id, timeout=10)
    assert caught.value.error_type == "builtins.FileNotFoundError"
    assert CALLS[k + ":prepare"] == 1 and CALLS[k + ":flag"] == 2

    flag.touch()  # the operator fixes the cause
    engine.retry(run_id)
    assert engine.result(run_id, timeout=10) == ["prepared", "flag found"]
    assert CALLS[k + ":prepare"] == 1  # the completed step was not executed again
    assert CALLS[k + ":flag"] == 3
    info = engine.get(run_id)
    assert info.status is tr.RunStatus.SUCCEEDED and info.error is None
    history = kinds(engine, run_id)
    assert history.index("run_failed") < history.index("run_retried")
    assert history[-1] == "run_succeeded"


def test_retry_of_a_succeeded_run_is_refused(engine: tr.Engine, start_worker) -> None:
    start_worker()
    run_id = engine.start(control_noop_wf)
    engine.result(run_id, timeout=10)
    with pytest.raises(tr.RunNotRetryableError) as caught:
        engine.retry(run_id)
    assert caught.value.run_id == run_id
    assert "run_retried" not in kinds(engine, run_id)


def test_retry_of_a_waiting_run_is_refused(engine: tr.Engine, start_worker, wait_status) -> None:
    start_worker()
    run_id = engine.start(control_collect_wf, 1)
    wait_status(run_id, "waiting")
    with pytest.raises(tr.RunNotRetryableError):
        engine.retry(run_id)
