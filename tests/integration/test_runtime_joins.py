"""Child runs joined later by their id, runs that are not this run's children, and
``ctx.cancel`` of a child from workflow code."""

from __future__ import annotations

from typing import Any

import pytest

import treadle as tr


def kinds_at(engine: tr.Engine, run_id: str, kind: tr.EventKind) -> list[int | None]:
    return [e.position for e in engine.history(run_id) if e.kind is kind]


@tr.step
def joins_note(text: str) -> str:
    return text


@tr.workflow
async def joins_child_wf(ctx: tr.Context, tag: str) -> Any:
    payload = await ctx.wait_for("release")
    if payload == "fail":
        raise ValueError(f"child {tag} was told to fail")
    return {"tag": tag, "payload": payload}


@tr.workflow
async def joins_grandparent_child_wf(ctx: tr.Context) -> Any:
    return await ctx.child(joins_child_wf, "grandchild")


# -- joining a detached child later -------------------------------------------------------


@tr.workflow
async def joins_later_wf(ctx: tr.Context, chosen: str | None) -> dict[str, Any]:
    child_id = await ctx.child(joins_child_wf, "detached", id=chosen, wait=False)
    note = await ctx.step(joins_note, "in between")
    joined = await ctx.child(joins_child_wf, "ignored: the child exists", id=child_id)
    again = await ctx.child(joins_child_wf, "ignored", id=child_id)  # a second join
    await ctx.wait_for("finish")  # one more replay: the joins answer the same from history
    return {"joined": joined, "again": again, "note": note, "child_id": child_id, "at": ctx.now()}


@pytest.mark.parametrize("chosen", [None, "joins-chosen-child"])
def test_a_detached_child_joined_while_running_delivers_its_outcome(
    engine: tr.Engine, start_worker, wait_status, chosen: str | None
) -> None:
    start_worker()
    run_id = engine.start(joins_later_wf, chosen)
    child_id = chosen or f"{run_id}.0"
    wait_status(child_id, "waiting")
    wait_status(run_id, "waiting")  # suspended in the join: the child is still running
    assert kinds_at(engine, run_id, tr.EventKind.CHILD_STARTED) == [0, 2]
    engine.signal(child_id, "release", "go")
    engine.signal(run_id, "finish")
    outcome = engine.result(run_id, timeout=10)
    # The child tells the position that started it, and both joins hear.
    assert kinds_at(engine, run_id, tr.EventKind.CHILD_COMPLETED) == [0]
    expected = {"tag": "detached", "payload": "go"}
    assert outcome["joined"] == expected and outcome["again"] == expected
    assert outcome["child_id"] == child_id and outcome["note"] == "in between"
    (completed,) = [e for e in engine.history(run_id) if e.kind is tr.EventKind.CHILD_COMPLETED]
    assert outcome["at"] >= completed.at
    assert engine.get(child_id).parent_id == run_id


@tr.workflow
async def joins_after_finish_wf(ctx: tr.Context) -> Any:
    child_id = await ctx.child(joins_child_wf, "quick", wait=False)
    await ctx.wait_for("join now")
    return await ctx.child(joins_child_wf, "ignored", id=child_id)


def test_a_detached_child_joined_after_it_finished(
    engine: tr.Engine, start_worker, wait_status
) -> None:
    start_worker()
    run_id = engine.start(joins_after_finish_wf)
    wait_status(f"{run_id}.0", "waiting")
    engine.signal(f"{run_id}.0", "release", 5)
    wait_status(f"{run_id}.0", "succeeded")
    engine.signal(run_id, "join now")
    assert engine.result(run_id, timeout=10) == {"tag": "quick", "payload": 5}
    # The join found the outcome it already had; the child is not told twice.
    assert kinds_at(engine, run_id, tr.EventKind.CHILD_COMPLETED) == [0]


@tr.workflow
async def joins_failing_later_wf(ctx: tr.Context) -> str:
    child_id = await ctx.child(joins_child_wf, "failing", wait=False)
    try:
        await ctx.child(joins_child_wf, "ignored", id=child_id)
    except tr.RunFailedError as exc:
        return f"{exc.run_id}: {exc.error_type}"
    return "no error"


def test_a_joined_child_that_fails_raises_in_the_join(
    engine: tr.Engine, start_worker, wait_status
) -> None:
    start_worker()
    run_id = engine.start(joins_failing_later_wf)
    wait_status(run_id, "waiting")
    wait_status(f"{run_id}.0", "waiting")
    engine.signal(f"{run_id}.0", "release", "fail")
    assert engine.result(run_id, timeout=10) == f"{run_id}.0: builtins.ValueError"


# -- runs that are not this run's children ------------------------------------------------


@tr.workflow
async def joins_adopt_wf(ctx: tr.Context, other: str, wait: bool) -> str:
    try:
        await ctx.child(joins_child_wf, "adopted", id=other, wait=wait)
    except tr.RunConflictError as exc:
        await ctx.sleep(0)  # a replay must take the same branch
        return f"refused {exc.run_id}"
    return "adopted"


@pytest.mark.parametrize("wait", [True, False])
def test_a_run_that_is_not_a_child_is_refused(
    engine: tr.Engine, start_worker, wait_status, wait: bool
) -> None:
    start_worker()
    running = engine.start(joins_child_wf, "client's", id=f"joins-client-run-{wait}")
    wait_status(running, "waiting")
    assert engine.result(engine.start(joins_adopt_wf, running, wait), timeout=10) == (
        f"refused {running}"
    )
    engine.signal(running, "release", 1)
    engine.result(running, timeout=10)
    # Finished or not, it is not this run's child: the answer does not depend on timing.
    assert engine.result(engine.start(joins_adopt_wf, running, wait), timeout=10) == (
        f"refused {running}"
    )
    assert engine.get(running).parent_id is None


@tr.workflow
async def joins_sibling_wf(ctx: tr.Context, other_parent: str) -> str:
    try:
        return await ctx.child(joins_child_wf, "x", id=f"{other_parent}.0")
    except tr.RunConflictError as exc:
        return str(exc)


def test_another_runs_child_is_refused(engine: tr.Engine, start_worker, wait_status) -> None:
    start_worker()
    parent = engine.start(joins_after_finish_wf)
    wait_status(f"{parent}.0", "waiting")
    message = engine.result(engine.start(joins_sibling_wf, parent), timeout=10)
    assert f"run '{parent}.0' is not a child of run" in message
    engine.signal(f"{parent}.0", "release", "mine")
    engine.signal(parent, "join now")
    assert engine.result(parent, timeout=10) == {"tag": "quick", "payload": "mine"}


# -- ctx.cancel ---------------------------------------------------------------------------


@tr.workflow
async def joins_cancel_wf(ctx: tr.Context) -> dict[str, Any]:
    child_id = await ctx.child(joins_grandparent_child_wf, wait=False)
    await ctx.wait_for("cancel it")
    first = await ctx.cancel(child_id)
    second = await ctx.cancel(child_id)  # already cancelled: nothing to do
    try:
        await ctx.child(joins_grandparent_child_wf, id=child_id)
        joined = "succeeded"
    except tr.RunCancelledError as exc:
        joined = f"cancelled {exc.run_id}"
    await ctx.wait_for("finish")
    return {"first": first, "second": second, "joined": joined}


def test_cancel_a_child_from_workflow_code(engine: tr.Engine, start_worker, wait_status) -> None:
    start_worker()
    run_id = engine.start(joins_cancel_wf)
    child, grandchild = f"{run_id}.0", f"{run_id}.0.0"
    wait_status(grandchild, "waiting")
    engine.signal(run_id, "cancel it")
    wait_status(grandchild, "cancelled")
    assert engine.get(child).status is tr.RunStatus.CANCELLED
    assert engine.get(child).error == {
        "type": "treadle.RunCancelled",
        "message": f"cancelled by parent run {run_id}",
    }
    assert engine.get(grandchild).error["message"] == f"parent run {child} cancelled"
    wait_status(run_id, "waiting")
    engine.signal(run_id, "finish")  # a replay after the cancels gives the same answers
    assert engine.result(run_id, timeout=10) == {
        "first": True,
        "second": False,
        "joined": f"cancelled {child}",
    }
    requested = [e for e in engine.history(run_id) if e.kind is tr.EventKind.CHILD_CANCEL_REQUESTED]
    assert [(e.position, e.name, e.data["cancelled"]) for e in requested] == [
        (2, child, [child]),
        (3, child, []),
    ]


@tr.workflow
async def joins_cancel_stranger_wf(ctx: tr.Context, other: str) -> str:
    try:
        await ctx.cancel(other)
    except tr.UsageError as exc:
        return str(exc)
    return "cancelled"


def test_cancel_refuses_a_run_that_is_not_a_child(
    engine: tr.Engine, start_worker, wait_status
) -> None:
    start_worker()
    stranger = engine.start(joins_child_wf, "stranger")
    wait_status(stranger, "waiting")
    message = engine.result(engine.start(joins_cancel_stranger_wf, stranger), timeout=10)
    assert f"run {stranger!r} is not a child of run" in message
    assert engine.get(stranger).status is tr.RunStatus.WAITING


@tr.workflow
def joins_sync_cancel_wf(ctx: tr.SyncContext) -> list[bool]:
    child_id = ctx.child(joins_child_wf, "sync", wait=False)
    return [ctx.cancel(child_id), ctx.cancel(child_id)]


def test_sync_workflow_cancels_a_child(engine: tr.Engine, start_worker) -> None:
    start_worker()
    run_id = engine.start(joins_sync_cancel_wf)
    assert engine.result(run_id, timeout=10) == [True, False]
    assert engine.get(f"{run_id}.0").status is tr.RunStatus.CANCELLED
