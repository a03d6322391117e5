"""A user's view: only names from ``import treadle as tr``."""

from __future__ import annotations

import pytest

import treadle as tr


@tr.step(retry=tr.Retry(attempts=2, initial=0.01))
def public_greet(name: str) -> str:
    return f"hello {name}"


@tr.workflow
async def public_hello(ctx: tr.Context, name: str) -> str:
    greeting = await ctx.step(public_greet, name)
    await ctx.sleep(tr.seconds(0.05))
    return greeting


def test_quick_start_shape(db_url: str) -> None:
    with tr.Engine(db_url) as engine, engine.worker(lease_seconds=2, poll_interval=0.05):
        run_id = engine.start(public_hello, "world")
        assert engine.result(run_id, timeout=10) == "hello world"
        info = engine.get(run_id)
        assert isinstance(info, tr.RunInfo)
        assert info.status is tr.RunStatus.SUCCEEDED
        page = engine.list()
        assert isinstance(page, tr.RunPage) and [r.id for r in page.runs] == [run_id]
        assert all(isinstance(e, tr.Event) for e in engine.history(run_id))


def test_durations() -> None:
    assert tr.seconds(5) == 5.0
    assert tr.minutes(2) == 120.0
    assert tr.hours(48) == 172800.0
    assert tr.days(7) == 604800.0


def test_errors_a_user_can_catch(db_url: str) -> None:
    with tr.Engine(db_url) as engine:
        with pytest.raises(tr.UsageError):
            engine.start(public_hello)
        with pytest.raises(tr.RunNotFoundError):
            engine.get("missing")
        with pytest.raises(tr.StepOutsideWorkflowError):
            public_greet("x")


def test_workflow_and_step_objects() -> None:
    assert isinstance(public_hello, tr.Workflow)
    assert isinstance(public_greet, tr.Step)
    assert public_greet.fn("you") == "hello you"
