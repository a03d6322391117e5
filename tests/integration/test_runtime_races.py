"""Waiting for some of several things: ``ctx.first``, ``ctx.wait_for_any``, and a run
cancelled in the middle of a ``ctx.gather``."""

from __future__ import annotations

import asyncio
import gc
import logging
import uuid
from typing import Any

import pytest
from side_effects import CALLS, count

import treadle as tr


def key() -> str:
    return uuid.uuid4().hex


def events(engine: tr.Engine, run_id: str, kind: tr.EventKind) -> list[tr.Event]:
    return [event for event in engine.history(run_id) if event.kind is kind]


# -- cancelled inside ctx.gather --------------------------------------------------------------


@tr.step
async def races_slow(k: str, seconds: float) -> str:
    count(k + ":started")
    await asyncio.sleep(seconds)
    return "slow"


@tr.step
def races_slow_sync(k: str, seconds: float) -> str:
    count(k + ":started")
    import time

    time.sleep(seconds)
    return "slow"


@tr.workflow
async def races_gather_wf(ctx: tr.Context, k: str) -> list[str]:
    return await ctx.gather(
        ctx.step(races_slow, k, 0.4),
        ctx.step(races_slow_sync, k, 0.4),
        ctx.step(races_slow, k, 0.5),
    )


def test_cancelling_a_run_inside_gather_leaves_no_unretrieved_task_error(
    engine: tr.Engine, start_worker, eventually, caplog: pytest.LogCaptureFixture
) -> None:
    k = key()
    worker = start_worker()
    run_id = engine.start(races_gather_wf, k)
    eventually(lambda: CALLS[k + ":started"] == 3, what="the three steps to start")
    engine.cancel(run_id)
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        # Let the branches end (each finds the run gone when it writes), then collect them.
        eventually(lambda: not worker.worker._active, what="the worker to let the run go")
        worker.stop(timeout=5)
        gc.collect()
    unretrieved = [r for r in caplog.records if "never retrieved" in r.getMessage()]
    assert unretrieved == []
    assert engine.get(run_id).status is tr.RunStatus.CANCELLED
    assert events(engine, run_id, tr.EventKind.STEP_COMPLETED) == []


@tr.step(retry=tr.Retry(attempts=1))
def races_fails(k: str) -> str:
    count(k + ":fails")
    raise LookupError("not there")


@tr.workflow
async def races_gather_failure_wf(ctx: tr.Context, k: str) -> str:
    try:
        await ctx.gather(ctx.step(races_fails, k), ctx.sleep(0.05))
    except LookupError as exc:
        caught = str(exc)
    # Replayed after this wait, the gather must make the same calls as the first time,
    # though its step's failure is recorded: the sleep keeps its position.
    return f"{caught}, then {await ctx.wait_for('go')}"


def test_a_recorded_step_failure_in_gather_replays_at_the_same_positions(
    engine: tr.Engine, start_worker, wait_status
) -> None:
    k = key()
    start_worker()
    run_id = engine.start(races_gather_failure_wf, k)
    wait_status(run_id, "waiting")
    engine.signal(run_id, "go", "went")
    assert engine.result(run_id, timeout=10) == "not there, then went"
    assert CALLS[k + ":fails"] == 1
    consumed = events(engine, run_id, tr.EventKind.SIGNAL_CONSUMED)
    assert [e.position for e in consumed] == [2]


# -- ctx.first --------------------------------------------------------------------------------


@tr.step
async def races_after(k: str, label: str, seconds: float) -> str:
    count(f"{k}:{label}:started")
    await asyncio.sleep(seconds)
    count(f"{k}:{label}:finished")
    return label


@tr.workflow
async def races_first_steps_wf(ctx: tr.Context, k: str) -> dict[str, Any]:
    won = await ctx.first(
        ctx.step(races_after, k, "slow", 3.0), ctx.step(races_after, k, "quick", 0.05)
    )
    await ctx.wait_for("finish")  # a replay after the race returns the same winner
    return {"won": won, "now": ctx.now()}


def test_first_of_two_steps_interrupts_the_slower(
    engine: tr.Engine, start_worker, wait_status, eventually
) -> None:
    k = key()
    start_worker()
    run_id = engine.start(races_first_steps_wf, k)
    wait_status(run_id, "waiting")
    engine.signal(run_id, "finish")
    outcome = engine.result(run_id, timeout=10)
    assert outcome["won"] == [[1, "quick"]]
    assert CALLS[f"{k}:slow:started"] == 1 and CALLS[f"{k}:slow:finished"] == 0
    completed = events(engine, run_id, tr.EventKind.STEP_COMPLETED)
    assert [(e.position, e.data["result"]) for e in completed] == [(1, "quick")]
    (decided,) = events(engine, run_id, tr.EventKind.FIRST_DECIDED)
    assert decided.position == 2
    assert decided.data == {"winners": [1], "returned": [], "cancelled": []}
    assert outcome["now"] >= decided.at


@tr.workflow
async def races_first_children_wf(ctx: tr.Context, cancel_children: bool) -> dict[str, Any]:
    winners = await ctx.first(
        ctx.child(races_released_wf, "a"),
        ctx.child(races_released_wf, "b"),
        ctx.child(races_released_wf, "c"),
        count=2,
        cancel_children=cancel_children,
    )
    outcome: dict[str, Any] = {"winners": winners}
    if not cancel_children:  # the loser runs on; join it by its id
        loser = ({0, 1, 2} - {index for index, _ in winners}).pop()
        outcome["joined"] = await ctx.child(races_released_wf, "", id=f"{ctx.run_id}.{loser + 1}")
    return outcome


@tr.workflow
async def races_released_wf(ctx: tr.Context, tag: str) -> str:
    payload = await ctx.wait_for("release")
    if payload == "fail":
        raise ValueError(f"{tag} failed")
    return f"{tag}:{payload}"


@pytest.mark.parametrize("cancel_children", [True, False])
def test_first_two_of_three_children(
    engine: tr.Engine, start_worker, wait_status, cancel_children: bool
) -> None:
    start_worker()
    run_id = engine.start(races_first_children_wf, cancel_children)
    a, b, c = (f"{run_id}.{position}" for position in (1, 2, 3))
    for child in (a, b, c):
        wait_status(child, "waiting")
    engine.signal(c, "release", 1)
    wait_status(c, "succeeded")
    engine.signal(a, "release", 2)
    if cancel_children:
        outcome = engine.result(run_id, timeout=10)
        assert outcome == {"winners": [[2, "c:1"], [0, "a:2"]]}  # in the order they finished
        assert engine.get(b).status is tr.RunStatus.CANCELLED
        assert engine.get(b).error["message"] == f"cancelled by parent run {run_id}"
        (decided,) = events(engine, run_id, tr.EventKind.FIRST_DECIDED)
        assert decided.data == {"winners": [2, 0], "returned": [], "cancelled": [b]}
    else:
        wait_status(a, "succeeded")
        wait_status(run_id, "waiting")  # joining b, which still runs
        engine.signal(b, "release", 3)
        outcome = engine.result(run_id, timeout=10)
        assert outcome == {"winners": [[2, "c:1"], [0, "a:2"]], "joined": "b:3"}


@tr.workflow
async def races_first_failure_wf(ctx: tr.Context) -> str:
    try:
        await ctx.first(ctx.child(races_released_wf, "x"), ctx.child(races_released_wf, "y"))
    except tr.RunFailedError as exc:
        return f"{exc.run_id} failed first"
    return "no error"


def test_first_raises_the_error_of_a_winner_that_failed(
    engine: tr.Engine, start_worker, wait_status
) -> None:
    start_worker()
    run_id = engine.start(races_first_failure_wf)
    x, y = f"{run_id}.1", f"{run_id}.2"
    wait_status(y, "waiting")
    engine.signal(y, "release", "fail")
    assert engine.result(run_id, timeout=10) == f"{y} failed first"
    assert engine.get(x).status is tr.RunStatus.CANCELLED


@tr.workflow
async def races_deadline_wf(ctx: tr.Context) -> Any:
    async def decision() -> Any:
        return await ctx.wait_for("decision")

    [(index, value)] = await ctx.first(decision(), ctx.sleep(0.3))
    await ctx.sleep(0)  # one more replay
    return ["decision", value] if index == 0 else ["deadline", value]


def test_first_of_a_wait_and_a_sleep(engine: tr.Engine, start_worker, wait_status) -> None:
    start_worker()
    quiet = engine.start(races_deadline_wf)
    assert engine.result(quiet, timeout=10) == ["deadline", None]
    assert events(engine, quiet, tr.EventKind.SIGNAL_CONSUMED) == []

    answered = engine.start(races_deadline_wf)
    engine.signal(answered, "decision", "yes")
    assert engine.result(answered, timeout=10) == ["decision", "yes"]
    # The sleep (at position 2) lost: its timer was dropped with the decision and never
    # fired; only the sleep(0) after the race did.
    assert [e.position for e in events(engine, answered, tr.EventKind.TIMER_FIRED)] == [3]


@tr.workflow(queue="races_kids")
async def races_kid_wf(ctx: tr.Context) -> str:
    return await ctx.wait_for("release")


@tr.workflow
async def races_signal_given_back_wf(ctx: tr.Context) -> dict[str, Any]:
    [(index, value)] = await ctx.first(ctx.child(races_kid_wf), ctx.wait_for("a"))
    return {"won": [index, value], "a": await ctx.wait_for("a")}


def test_a_losing_wait_gives_its_signal_back(engine: tr.Engine, start_worker, wait_status) -> None:
    start_worker(queues=("races_kids",))
    parents = start_worker()
    run_id = engine.start(races_signal_given_back_wf)
    child_id = f"{run_id}.1"
    wait_status(child_id, "waiting")
    wait_status(run_id, "waiting")
    parents.stop(timeout=5)
    # The child finishes and the signal arrives while no worker runs the parent: when it
    # resumes, the child's outcome is in the history and the wait finds its signal.
    engine.signal(child_id, "release", "kid")
    wait_status(child_id, "succeeded")
    engine.signal(run_id, "a", "payload of a")
    start_worker()
    assert engine.result(run_id, timeout=10) == {"won": [0, "kid"], "a": "payload of a"}
    (decided,) = events(engine, run_id, tr.EventKind.FIRST_DECIDED)
    taken = events(engine, run_id, tr.EventKind.SIGNAL_CONSUMED)
    # The losing wait took "a" and gave it back; the wait after the race took it again.
    assert [e.position for e in taken] == [2, 3]
    assert decided.data == {"winners": [0], "returned": [2], "cancelled": []}


@tr.workflow
async def races_first_misuse_wf(ctx: tr.Context, how: str) -> str:
    try:
        if how == "count":
            await ctx.first(ctx.sleep(1), ctx.sleep(2), count=3)
        elif how == "nothing":
            await ctx.first()
        else:
            await ctx.first(ctx.sleep(1), "not a call")  # type: ignore[arg-type]
    except tr.UsageError as exc:
        return str(exc)
    return "accepted"


@pytest.mark.parametrize("how", ["count", "nothing", "value"])
def test_first_refuses_bad_input(engine: tr.Engine, start_worker, how: str) -> None:
    start_worker()
    run_id = engine.start(races_first_misuse_wf, how)
    assert engine.result(run_id, timeout=10).startswith("ctx.first")
    assert events(engine, run_id, tr.EventKind.TIMER_STARTED) == []  # nothing was started


# -- ctx.wait_for_any -------------------------------------------------------------------------


@tr.workflow
async def races_any_wf(ctx: tr.Context) -> dict[str, Any]:
    name, payload = await ctx.wait_for_any(["approve", "reject"])
    later = await ctx.wait_for("approve")  # an approve taken by no one is still there
    return {"first": [name, payload], "later": later}


def test_wait_for_any_takes_exactly_one_signal(
    engine: tr.Engine, start_worker, wait_status
) -> None:
    start_worker()
    run_id = engine.start(races_any_wf)
    wait_status(run_id, "waiting")
    engine.signal(run_id, "other", 0)
    engine.signal(run_id, "reject", {"why": "late"})
    engine.signal(run_id, "approve", 1)
    assert engine.result(run_id, timeout=10) == {
        "first": ["reject", {"why": "late"}],
        "later": 1,
    }
    taken = events(engine, run_id, tr.EventKind.SIGNAL_CONSUMED)
    assert [(e.position, e.name) for e in taken] == [(0, "reject"), (1, "approve")]
    assert taken[0].data["any"] == ["approve", "reject"]


def test_wait_for_any_takes_the_oldest_stored_signal(engine: tr.Engine, start_worker) -> None:
    run_id = engine.start(races_any_wf)
    engine.signal(run_id, "approve", "a1")
    engine.signal(run_id, "reject", "r1")
    engine.signal(run_id, "approve", "a2")
    start_worker()
    assert engine.result(run_id, timeout=10) == {"first": ["approve", "a1"], "later": "a2"}


@tr.workflow
async def races_any_timeout_wf(ctx: tr.Context) -> Any:
    try:
        return await ctx.wait_for_any(["yes", "no"], timeout=0.2)
    except tr.WaitTimeoutError as exc:
        await ctx.sleep(0)  # one more replay takes the same branch
        return f"timed out waiting for {exc.signal}"


def test_wait_for_any_times_out(engine: tr.Engine, start_worker) -> None:
    start_worker()
    run_id = engine.start(races_any_timeout_wf)
    assert engine.result(run_id, timeout=10) == "timed out waiting for yes|no"
    (timed_out,) = events(engine, run_id, tr.EventKind.WAIT_TIMED_OUT)
    assert timed_out.name == "yes|no" and timed_out.data == {"any": ["yes", "no"]}


@tr.workflow
async def races_any_misuse_wf(ctx: tr.Context, names: Any) -> str:
    try:
        await ctx.wait_for_any(names)
    except tr.UsageError as exc:
        return str(exc)
    return "accepted"


@pytest.mark.parametrize("names", [[], "approve", ["a", ""], ["a", "a"]])
def test_wait_for_any_refuses_bad_names(engine: tr.Engine, start_worker, names: Any) -> None:
    start_worker()
    message = engine.result(engine.start(races_any_misuse_wf, names), timeout=10)
    assert message.startswith("ctx.wait_for_any")


@tr.workflow
def races_sync_any_wf(ctx: tr.SyncContext) -> list[Any]:
    name, payload = ctx.wait_for_any(["left", "right"])
    return [name, payload]


def test_sync_workflow_waits_for_any(engine: tr.Engine, start_worker, wait_status) -> None:
    start_worker()
    run_id = engine.start(races_sync_any_wf)
    wait_status(run_id, "waiting")
    engine.signal(run_id, "right", [1])
    assert engine.result(run_id, timeout=10) == ["right", [1]]
