"""A live execution and every later replay of it see the same values and the same errors."""

from __future__ import annotations

import pathlib
import time
from typing import Any

import treadle as tr
from treadle.runtime import scheduler


@tr.step
def consistency_echo(value: Any) -> Any:
    return value


@tr.workflow
async def consistency_clock(ctx: tr.Context) -> dict[str, float]:
    await ctx.step(consistency_echo, 1)
    after_step = ctx.now()
    live_after_step = await ctx.step(consistency_echo, after_step)  # the value seen live
    payload = await ctx.wait_for("go")
    after_signal = ctx.now()
    live_after_signal = await ctx.step(consistency_echo, after_signal)
    await ctx.sleep(0.05)  # one more suspension: everything above is replayed
    return {
        "after_step": after_step,
        "live_after_step": live_after_step,
        "after_signal": after_signal,
        "live_after_signal": live_after_signal,
        "payload": payload,
    }


def test_now_is_the_same_live_and_on_replay(engine: tr.Engine, start_worker, wait_status) -> None:
    start_worker()
    run_id = engine.start(consistency_clock)
    wait_status(run_id, "waiting")
    engine.signal(run_id, "go", 7)
    out = engine.result(run_id, timeout=15)
    assert out["after_step"] == out["live_after_step"]
    assert out["after_signal"] == out["live_after_signal"]
    assert out["payload"] == 7


@tr.workflow
async def consistency_signal_or_timeout(ctx: tr.Context) -> str:
    try:
        return str(await ctx.wait_for("answer", timeout=0.3))
    except tr.WaitTimeoutError:
        return "timed out"


def test_a_signal_that_came_before_the_timeout_wins(engine: tr.Engine, wait_status) -> None:
    run_id = engine.start(consistency_signal_or_timeout)
    with engine.worker(lease_seconds=2.0, poll_interval=0.05):
        wait_status(run_id, "waiting")
    # With no worker running, the signal arrives and then the timeout's timer fires: the run
    # resumes with both in its history, in that order.
    engine.signal(run_id, "answer", "yes")
    time.sleep(0.35)
    with engine._store.transaction() as tx:
        fired, _ = scheduler.tick(tx, time.time())
    assert fired == 1
    kinds = [event.kind for event in engine.history(run_id)]
    assert kinds.index(tr.EventKind.SIGNAL_RECEIVED) < kinds.index(tr.EventKind.TIMER_FIRED)
    with engine.worker(lease_seconds=2.0, poll_interval=0.05):
        assert engine.result(run_id, timeout=15) == "yes"


def _local_error() -> type[Exception]:
    class LocalError(Exception):
        """Defined inside a function, so no other process can import it."""

    return LocalError


@tr.step(retry=tr.Retry(attempts=1))
def consistency_fails_with_local_error() -> None:
    raise _local_error()("boom")


@tr.workflow
async def consistency_catches_by_type(ctx: tr.Context) -> str:
    try:
        await ctx.step(consistency_fails_with_local_error)
    except tr.StepFailedError as exc:
        first = f"step failed: {exc.error_type.rsplit('.', 1)[-1]}"
    await ctx.sleep(0.05)  # replay the catch above after a suspension
    return first


def test_a_step_error_that_cannot_be_rebuilt_is_the_same_live_and_on_replay(
    engine: tr.Engine, start_worker
) -> None:
    start_worker()
    run_id = engine.start(consistency_catches_by_type)
    assert engine.result(run_id, timeout=15) == "step failed: LocalError"


@tr.step(retry=tr.Retry(attempts=1))
def consistency_optional(counter: str) -> None:
    path = pathlib.Path(counter)
    path.write_text(path.read_text() + "x" if path.exists() else "x")
    raise KeyError("optional part is down")


@tr.step(retry=tr.Retry(attempts=1))
def consistency_required(flag: str) -> str:
    if not pathlib.Path(flag).exists():
        raise RuntimeError("required part is down")
    return "done"


@tr.workflow
async def consistency_retry_from_failed_step(ctx: tr.Context, counter: str, flag: str) -> str:
    try:
        await ctx.step(consistency_optional, counter)
    except KeyError:
        pass  # the workflow copes without it
    return await ctx.step(consistency_required, flag)


def test_retry_resumes_only_the_step_that_failed_the_run(
    engine: tr.Engine, start_worker, tmp_path: pathlib.Path
) -> None:
    counter, flag = tmp_path / "optional-calls", tmp_path / "fixed"
    start_worker()
    run_id = engine.start(consistency_retry_from_failed_step, str(counter), str(flag))
    try:
        engine.result(run_id, timeout=15)
    except tr.RunFailedError as exc:
        assert "required part is down" in str(exc)
    flag.write_text("")
    engine.retry(run_id)
    assert engine.result(run_id, timeout=15) == "done"
    assert counter.read_text() == "x"  # the caught failure was not tried again


@tr.step(retry=tr.Retry(attempts=3, initial=0.01))
def consistency_charge(ledger: str) -> str:
    info = tr.current_step()
    assert info is not None
    with open(ledger, "a") as out:
        out.write(f"{info.idempotency_key} {info.attempt}\n")
    if info.attempt < 2:
        raise ConnectionError("payment API timed out")
    return info.idempotency_key


@tr.step
async def consistency_async_key() -> str:
    info = tr.current_step()
    assert info is not None
    return f"{info.step}@{info.position}"


@tr.workflow
async def consistency_keys(ctx: tr.Context, ledger: str) -> list[str]:
    first = await ctx.step(consistency_charge, ledger)
    second = await ctx.step(consistency_charge, ledger)
    named = await ctx.step(consistency_async_key)
    return [first, second, named]


def test_each_step_call_has_an_idempotency_key_shared_by_its_attempts(
    engine: tr.Engine, start_worker, tmp_path: pathlib.Path
) -> None:
    ledger = tmp_path / "ledger"
    start_worker()
    run_id = engine.start(consistency_keys, str(ledger))
    first, second, named = engine.result(run_id, timeout=15)
    assert first == f"{run_id}:0" and second == f"{run_id}:1"
    assert ledger.read_text().split() == [first, "1", first, "2", second, "1", second, "2"]
    assert named == "consistency_async_key@2"
    assert tr.current_step() is None


class ConsistencyInsufficientFunds(Exception):
    pass


@tr.step(retry=tr.Retry(attempts=1))
def consistency_debit(amount: int) -> None:
    raise ConsistencyInsufficientFunds(f"cannot take {amount}")


@tr.workflow
async def consistency_pay(ctx: tr.Context, amount: int) -> None:
    await ctx.step(consistency_debit, amount)


@tr.workflow
async def consistency_parent_pays(ctx: tr.Context) -> str:
    try:
        await ctx.child(consistency_pay, 5)
    except ConsistencyInsufficientFunds as exc:
        assert isinstance(exc, tr.RunFailedError)
        return "caught the child's own error type"
    return "not caught"


def test_a_failed_run_raises_its_own_error_type_as_well(engine: tr.Engine, start_worker) -> None:
    start_worker()
    run_id = engine.start(consistency_pay, 12)
    try:
        engine.result(run_id, timeout=15)
    except ConsistencyInsufficientFunds as exc:
        assert isinstance(exc, tr.RunFailedError)
        assert exc.run_id == run_id
        assert exc.error_type.endswith("ConsistencyInsufficientFunds")
        assert "cannot take 12" in str(exc)
    else:
        raise AssertionError("result() did not raise")
    parent = engine.start(consistency_parent_pays)
    assert engine.result(parent, timeout=15) == "caught the child's own error type"
