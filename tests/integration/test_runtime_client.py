"""The client API: idempotent start, get, list, history, and refusing bad input."""

from __future__ import annotations

import collections
import datetime
import threading
import time
from typing import Any

import pytest

import treadle as tr


@tr.step
def client_echo(value: object) -> object:
    return value


@tr.step(retry=tr.Retry(attempts=3, initial=0.01))
def client_not_json() -> object:
    return {"when": datetime.datetime(2024, 1, 1)}


@tr.workflow
async def client_echo_wf(ctx: tr.Context, value: object, *, label: str = "") -> object:
    return await ctx.step(client_echo, value)


@tr.workflow
async def client_other_wf(ctx: tr.Context) -> str:
    return "other"


@tr.workflow
async def client_fails_wf(ctx: tr.Context) -> None:
    raise RuntimeError("broken on purpose")


@tr.workflow
async def client_bad_step_result_wf(ctx: tr.Context) -> object:
    return await ctx.step(client_not_json)


@tr.workflow
async def client_bad_result_wf(ctx: tr.Context) -> object:
    return {1, 2, 3}


@tr.workflow
async def client_two_steps_wf(ctx: tr.Context) -> list[object]:
    return [await ctx.step(client_echo, 1), await ctx.step(client_echo, 2)]


# -- idempotent start -----------------------------------------------------------------------


def test_start_with_an_existing_id_returns_the_same_run(engine: tr.Engine, start_worker) -> None:
    first = engine.start(client_echo_wf, "a", id="order-1")
    again = engine.start(client_echo_wf, "different input", id="order-1")
    assert first == again == "order-1"
    assert [run.id for run in engine.list().runs] == ["order-1"]
    assert engine.get("order-1").args == ["a"]
    created = [e for e in engine.history("order-1") if e.kind is tr.EventKind.RUN_CREATED]
    assert len(created) == 1
    start_worker()
    assert engine.result("order-1", timeout=10) == "a"
    assert engine.start(client_echo_wf, "a", id="order-1") == "order-1"
    assert len(engine.list().runs) == 1


def test_start_with_an_id_taken_by_another_workflow_conflicts(engine: tr.Engine) -> None:
    engine.start(client_echo_wf, "a", id="order-2")
    with pytest.raises(tr.RunConflictError) as caught:
        engine.start(client_other_wf, id="order-2")
    assert caught.value.run_id == "order-2"
    assert "client_echo_wf" in str(caught.value)
    assert engine.get("order-2").workflow == "client_echo_wf"


@pytest.mark.parametrize("bad_id", ["", "has space", "x" * 201])
def test_start_refuses_bad_ids(engine: tr.Engine, bad_id: str) -> None:
    with pytest.raises(tr.UsageError):
        engine.start(client_echo_wf, 1, id=bad_id)
    assert engine.list().runs == []


# -- many runs at once ----------------------------------------------------------------------


def test_start_many_starts_a_run_per_call_in_order(engine: tr.Engine, start_worker) -> None:
    run_ids = engine.start_many(client_echo_wf, [(1,), [2], {"value": 3, "label": "kw"}])
    assert len(set(run_ids)) == 3
    assert [engine.get(run_id).args for run_id in run_ids] == [[1], [2], []]
    assert engine.get(run_ids[2]).kwargs == {"value": 3, "label": "kw"}
    assert sorted(run.id for run in engine.list().runs) == sorted(run_ids)
    start_worker()
    assert [engine.result(run_id, timeout=10) for run_id in run_ids] == [1, 2, 3]
    assert engine.start_many(client_echo_wf, []) == []


def test_start_many_with_ids_keeps_the_runs_that_exist(engine: tr.Engine) -> None:
    engine.start(client_echo_wf, "first", id="batch-1")
    run_ids = engine.start_many(client_echo_wf, [("again",), ("new",)], ids=["batch-1", "batch-2"])
    assert run_ids == ["batch-1", "batch-2"]
    assert engine.get("batch-1").args == ["first"]
    assert engine.get("batch-2").args == ["new"]
    assert engine.start_many(client_echo_wf, [(1,)], ids=["batch-2"], queue="other") == ["batch-2"]
    assert engine.get("batch-2").queue == "default"


def test_start_many_stores_nothing_when_an_id_is_another_workflows(engine: tr.Engine) -> None:
    engine.start(client_other_wf, id="taken")
    with pytest.raises(tr.RunConflictError) as caught:
        engine.start_many(client_echo_wf, [(1,), (2,)], ids=["fresh", "taken"])
    assert caught.value.run_id == "taken"
    assert [run.id for run in engine.list().runs] == ["taken"]


@pytest.mark.parametrize(
    ("calls", "ids", "message"),
    [
        ("abc", None, "a list of calls"),
        ({"value": 1}, None, "a list of calls"),
        ([(1,), 5], None, r"call 1 is 5: .*\(\(5,\) for a single one\)"),
        ([(1,), ("a", "b", "c")], None, "call 1: workflow 'client_echo_wf' cannot take"),
        ([(1,), ({1, 2},)], None, "call 1: "),
        ([(1,), (2,)], ["only-one"], "one id per call"),
        ([(1,), (2,)], ["same", "same"], "repeated"),
        ([(1,), (2,)], ["fine", "has space"], "call 1: a run id must be printable"),
    ],
)
def test_start_many_refuses_bad_calls_and_stores_nothing(
    engine: tr.Engine, calls: object, ids: list[str] | None, message: str
) -> None:
    with pytest.raises(tr.UsageError, match=message):
        engine.start_many(client_echo_wf, calls, ids=ids)  # type: ignore[arg-type]
    assert engine.list().runs == []


def test_threads_waiting_for_results_share_one_read_per_wake_up(
    engine: tr.Engine, start_worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A web application with many requests waiting: each run that ends must not make every
    # waiting thread read its own run again.
    run_ids = engine.start_many(client_echo_wf, [(i,) for i in range(20)])
    results: dict[str, object] = {}
    waiting = [
        threading.Thread(target=lambda r=run_id: results.update({r: engine.result(r, timeout=30)}))
        for run_id in run_ids
    ]
    reads: collections.Counter[str] = collections.Counter()
    store = engine._store  # type: ignore[attr-defined]

    def counting(name: str) -> Any:
        read = getattr(store, name)

        def counted(*args: object) -> Any:
            if threading.current_thread() in waiting:
                reads[name] += 1
            return read(*args)

        return counted

    for name in ("fetch_one", "fetch_all"):
        monkeypatch.setattr(store, name, counting(name))
    for thread in waiting:
        thread.start()
    time.sleep(0.3)  # every thread is waiting
    start_worker()
    for thread in waiting:
        thread.join(30)
    assert results == {run_id: i for i, run_id in enumerate(run_ids)}
    assert reads["fetch_one"] == 20  # each thread's first look at its run
    # Then one read of all the runs waited for per wake-up, not one per thread (which
    # would be about 200 here).
    assert reads["fetch_all"] <= 25


def test_a_result_waited_for_twice_at_once_reaches_both(engine: tr.Engine, start_worker) -> None:
    run_id = engine.start(client_echo_wf, "both")
    results: list[object] = []
    waiting = [
        threading.Thread(target=lambda: results.append(engine.result(run_id, timeout=30)))
        for _ in range(2)
    ]
    for thread in waiting:
        thread.start()
    start_worker()
    for thread in waiting:
        thread.join(30)
    assert results == ["both", "both"]
    with pytest.raises(tr.RunNotFoundError):
        engine.result("no-such-run", timeout=1)


# -- get, list, history ---------------------------------------------------------------------


def test_get_unknown_run(engine: tr.Engine) -> None:
    with pytest.raises(tr.RunNotFoundError) as caught:
        engine.get("nope")
    assert caught.value.run_id == "nope"
    with pytest.raises(tr.RunNotFoundError):
        engine.history("nope")
    with pytest.raises(tr.RunNotFoundError):
        engine.result("nope", timeout=1)


def test_get_describes_a_failed_run(engine: tr.Engine, start_worker) -> None:
    start_worker()
    run_id = engine.start(client_fails_wf)
    with pytest.raises(tr.RunFailedError) as caught:
        engine.result(run_id, timeout=10)
    assert caught.value.error_type == "builtins.RuntimeError"
    assert "broken on purpose" in str(caught.value)
    info = engine.get(run_id)
    assert info.status is tr.RunStatus.FAILED
    assert info.error is not None
    assert info.error["type"] == "builtins.RuntimeError"
    assert info.error["message"] == "broken on purpose"
    assert "RuntimeError" in info.error["traceback"]
    assert info.result is None


def test_result_timeout(engine: tr.Engine) -> None:
    run_id = engine.start(client_other_wf)
    with pytest.raises(tr.ResultTimeoutError) as caught:
        engine.result(run_id, timeout=0.2)
    assert caught.value.run_id == run_id
    assert engine.get(run_id).status is tr.RunStatus.PENDING


def test_list_filters_by_status_and_workflow(engine: tr.Engine, start_worker) -> None:
    start_worker()
    echo = [engine.start(client_echo_wf, i) for i in range(3)]
    other = engine.start(client_other_wf)
    failed = engine.start(client_fails_wf)
    for run_id in [*echo, other]:
        engine.result(run_id, timeout=10)
    with pytest.raises(tr.RunFailedError):
        engine.result(failed, timeout=10)

    def newest_first(ids: list[str]) -> list[str]:
        return sorted(ids, reverse=True)

    assert [r.id for r in engine.list().runs] == newest_first([*echo, other, failed])
    assert [r.id for r in engine.list(workflow="client_echo_wf").runs] == newest_first(echo)
    assert [r.id for r in engine.list(status="failed").runs] == [failed]
    assert [r.id for r in engine.list(status=tr.RunStatus.SUCCEEDED).runs] == newest_first(
        [*echo, other]
    )
    assert engine.list(status="succeeded", workflow="client_fails_wf").runs == []
    assert engine.list(workflow="no_such_workflow").runs == []
    assert engine.counts() == {"succeeded": 4, "failed": 1}


def test_list_pages_with_next_cursor(engine: tr.Engine) -> None:
    ids = sorted(engine.start(client_echo_wf, i) for i in range(7))
    seen: list[str] = []
    before = None
    pages = 0
    while True:
        page = engine.list(limit=3, before=before)
        pages += 1
        seen.extend(run.id for run in page.runs)
        assert len(page.runs) <= 3
        if page.next_cursor is None:
            break
        assert page.next_cursor == page.runs[-1].id
        before = page.next_cursor
    assert pages == 3
    assert seen == ids[::-1]
    exact = engine.list(limit=7)
    assert len(exact.runs) == 7 and exact.next_cursor is None
    assert engine.list(limit=6).next_cursor == ids[1]


def test_runs_started_one_after_another_list_newest_first(engine: tr.Engine) -> None:
    # Run ids sort by creation time, even for runs started within the same millisecond.
    ids = [engine.start(client_other_wf) for _ in range(50)]
    assert ids == sorted(ids)
    assert [run.id for run in engine.list(limit=50).runs] == ids[::-1]


@pytest.mark.parametrize("limit", [0, -1, 1001, True, 2.5, "10", None])
def test_list_limit_is_validated(engine: tr.Engine, limit: object) -> None:
    with pytest.raises(tr.UsageError, match="limit"):
        engine.list(limit=limit)  # type: ignore[arg-type]


def test_list_limit_bounds_are_accepted(engine: tr.Engine) -> None:
    assert engine.list(limit=1).runs == []
    assert engine.list(limit=1000).runs == []


def test_list_unknown_status(engine: tr.Engine) -> None:
    with pytest.raises(tr.UsageError, match="unknown status"):
        engine.list(status="finished")


def test_history_lists_kinds_in_order_with_step_names_and_attempts(
    engine: tr.Engine, start_worker
) -> None:
    start_worker()
    run_id = engine.start(client_two_steps_wf)
    assert engine.result(run_id, timeout=10) == [1, 2]
    history = engine.history(run_id)
    assert [e.kind.value for e in history] == [
        "run_created",
        "run_started",
        "step_completed",
        "step_completed",
        "run_succeeded",
    ]
    assert [e.id for e in history] == sorted(e.id for e in history)
    assert all(e.run_id == run_id for e in history)
    assert [(e.step, e.attempt, e.position) for e in history if e.step] == [
        ("client_echo", 1, 0),
        ("client_echo", 1, 1),
    ]
    assert history[2].data["result"] == 1
    assert history[-1].data == {"result": [1, 2]}
    assert history[0].data["workflow"] == "client_two_steps_wf"
    assert history[0].at <= history[-1].at


# -- bad input ------------------------------------------------------------------------------


def test_arguments_that_do_not_serialise_store_nothing(engine: tr.Engine) -> None:
    with pytest.raises(tr.SerializationError) as caught:
        engine.start(client_echo_wf, object())
    assert "client_echo_wf" in str(caught.value) and "JSON" in str(caught.value)
    with pytest.raises(tr.SerializationError):
        engine.start(client_echo_wf, 1, label=b"bytes")  # type: ignore[arg-type]
    assert engine.list().runs == []
    assert engine.counts() == {}


def test_wrong_arguments_for_the_signature_store_nothing(engine: tr.Engine) -> None:
    with pytest.raises(tr.UsageError, match="client_echo_wf"):
        engine.start(client_echo_wf)
    with pytest.raises(tr.UsageError):
        engine.start(client_echo_wf, 1, 2)
    with pytest.raises(tr.UsageError):
        engine.start(client_echo_wf, 1, colour="red")
    assert engine.list().runs == []


def test_unknown_workflow(engine: tr.Engine) -> None:
    with pytest.raises(tr.UnknownWorkflowError, match="no_such_workflow"):
        engine.start("no_such_workflow")
    with pytest.raises(tr.UnknownWorkflowError):
        engine.start(client_echo)  # a step is not a workflow
    assert engine.list().runs == []


def test_a_step_called_directly_is_refused() -> None:
    with pytest.raises(tr.StepOutsideWorkflowError, match=r"ctx\.step\(client_echo"):
        client_echo(1)
    assert client_echo.fn(5) == 5


def test_a_workflow_called_directly_is_refused() -> None:
    with pytest.raises(tr.UsageError, match=r"engine\.start"):
        client_echo_wf(None, 1)


def test_a_step_result_that_is_not_json_fails_the_run_clearly(
    engine: tr.Engine, start_worker
) -> None:
    start_worker()
    run_id = engine.start(client_bad_step_result_wf)
    with pytest.raises(tr.RunFailedError) as caught:
        engine.result(run_id, timeout=10)
    assert caught.value.error_type == "treadle.SerializationError"
    assert "client_not_json" in str(caught.value)
    assert "JSON" in str(caught.value)
    failed = [e for e in engine.history(run_id) if e.kind is tr.EventKind.STEP_FAILED]
    assert len(failed) == 1  # retrying cannot help: not retried
    assert failed[0].data["final"] is True


def test_a_workflow_result_that_is_not_json_fails_the_run_clearly(
    engine: tr.Engine, start_worker
) -> None:
    start_worker()
    run_id = engine.start(client_bad_result_wf)
    with pytest.raises(tr.RunFailedError) as caught:
        engine.result(run_id, timeout=10)
    assert caught.value.error_type == "treadle.SerializationError"
    assert "client_bad_result_wf" in str(caught.value)


def test_start_refuses_a_bad_queue(engine: tr.Engine) -> None:
    with pytest.raises(tr.UsageError, match="queue"):
        engine.start(client_other_wf, queue="")
    assert engine.list().runs == []


def test_worker_options_are_validated(engine: tr.Engine) -> None:
    with pytest.raises(tr.UsageError):
        engine.worker(concurrency=0)
    with pytest.raises(tr.UsageError):
        engine.worker(lease_seconds=-1)
    with pytest.raises(tr.UsageError):
        engine.worker(queues=[])
