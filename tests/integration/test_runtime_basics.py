"""Durable functions: async and sync workflows, steps, fan-out, and replay after a crash."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

from side_effects import CALLS, count

import treadle as tr


def tag() -> str:
    return uuid.uuid4().hex


# -- workflows ------------------------------------------------------------------------------


@tr.step
def basics_add(a: int, b: int) -> int:
    return a + b


@tr.step
async def basics_async_double(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


@tr.step
def basics_sync_double(x: int) -> int:
    return 2 * x


@tr.workflow
async def basics_async_wf(ctx: tr.Context, a: int, b: int = 10) -> dict[str, Any]:
    total = await ctx.step(basics_add, a, b)
    doubled = await ctx.step(basics_async_double, total)
    return {"total": total, "doubled": doubled, "run_id": ctx.run_id, "wf": ctx.workflow}


@tr.workflow
def basics_sync_wf(ctx: tr.SyncContext, a: int) -> list[int]:
    total = ctx.step(basics_add, a, 1)
    doubled = ctx.step(basics_async_double, total)
    ctx.sleep(0.05)
    handles = [ctx.submit(basics_sync_double, i) for i in range(5)]
    fanned = ctx.gather(*handles, "plain")
    return [total, doubled, *fanned[:-1], len(fanned)]


@tr.workflow
async def basics_gather_wf(ctx: tr.Context, n: int) -> list[int]:
    halves = n // 2
    async_calls = [ctx.step(basics_async_double, i) for i in range(halves)]
    sync_calls = [ctx.step(basics_sync_double, i) for i in range(halves, n)]
    return await ctx.gather(*async_calls, *sync_calls)


@tr.workflow
async def basics_plain_callable_wf(ctx: tr.Context, text: str) -> str:
    # Any function can be a step, decorated or not.
    return await ctx.step(str.upper, text)


@tr.step
def basics_side_effect(key: str) -> int:
    return count(key)


@tr.workflow
async def basics_resume_wf(ctx: tr.Context, key: str) -> dict[str, Any]:
    first = await ctx.step(basics_side_effect, key + ":a")
    approval = await ctx.wait_for("approve")
    second = await ctx.step(basics_side_effect, key + ":b")
    return {"first": first, "approval": approval, "second": second}


@tr.step
def basics_append(folder: str, name: str) -> str:
    with open(os.path.join(folder, name + ".log"), "a") as log:
        log.write("ran\n")
    return name


@tr.step(retry=tr.Retry(attempts=1))
def basics_crash_once(folder: str) -> str:
    marker = os.path.join(folder, "crashed")
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(17)  # the worker process dies in the middle of the run
    return "survived"


@tr.workflow
async def basics_crash_wf(ctx: tr.Context, folder: str) -> list[str]:
    a = await ctx.step(basics_append, folder, "a")
    b = await ctx.step(basics_crash_once, folder)
    c = await ctx.step(basics_append, folder, "c")
    return [a, b, c]


# -- tests ----------------------------------------------------------------------------------


def test_async_workflow_with_sync_and_async_steps(engine: tr.Engine, start_worker) -> None:
    start_worker()
    run_id = engine.start(basics_async_wf, 2, b=3)
    assert engine.result(run_id, timeout=10) == {
        "total": 5,
        "doubled": 10,
        "run_id": run_id,
        "wf": "basics_async_wf",
    }
    info = engine.get(run_id)
    assert info.status is tr.RunStatus.SUCCEEDED
    assert info.args == [2] and info.kwargs == {"b": 3}
    assert info.workflow == "basics_async_wf" and info.version == "1"
    assert info.started_at is not None and info.finished_at is not None
    assert info.error is None


def test_workflow_by_name(engine: tr.Engine, start_worker) -> None:
    start_worker()
    run_id = engine.start("basics_async_wf", 1)
    assert engine.result(run_id, timeout=10)["total"] == 11


def test_sync_workflow(engine: tr.Engine, start_worker) -> None:
    start_worker()
    run_id = engine.start(basics_sync_wf, 4)
    assert engine.result(run_id, timeout=10) == [5, 10, 0, 2, 4, 6, 8, 6]
    kinds = [event.kind for event in engine.history(run_id)]
    assert tr.EventKind.TIMER_FIRED in kinds


def test_plain_callable_as_step(engine: tr.Engine, start_worker) -> None:
    start_worker()
    run_id = engine.start(basics_plain_callable_wf, "abc")
    assert engine.result(run_id, timeout=10) == "ABC"


def test_gather_fan_out_of_200_steps_keeps_order(engine: tr.Engine, start_worker) -> None:
    start_worker()
    run_id = engine.start(basics_gather_wf, 200)
    assert engine.result(run_id, timeout=30) == [2 * i for i in range(200)]
    completed = [e for e in engine.history(run_id) if e.kind is tr.EventKind.STEP_COMPLETED]
    assert sorted(e.position for e in completed) == list(range(200))


def test_completed_step_is_not_run_again_when_the_run_resumes(
    engine: tr.Engine, start_worker, wait_status
) -> None:
    key = tag()
    worker = start_worker()
    run_id = engine.start(basics_resume_wf, key)
    wait_status(run_id, "waiting")
    assert CALLS[key + ":a"] == 1
    worker.stop()  # the process that ran step A is gone

    start_worker()
    engine.signal(run_id, "approve", {"by": "ada"})
    assert engine.result(run_id, timeout=10) == {
        "first": 1,
        "approval": {"by": "ada"},
        "second": 1,
    }
    assert CALLS[key + ":a"] == 1
    assert CALLS[key + ":b"] == 1


CRASHING_WORKER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[1])
    import treadle as tr
    import test_runtime_basics  # registers the workflows

    with tr.Engine(sys.argv[2]) as engine, engine.worker(lease_seconds=1, poll_interval=0.05):
        time.sleep(60)
    """
)


def test_replay_after_a_worker_process_crash(
    engine: tr.Engine, db_url: str, tmp_path: Path, start_worker
) -> None:
    folder = tmp_path / "effects"
    folder.mkdir()
    run_id = engine.start(basics_crash_wf, str(folder))
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_WORKER, str(Path(__file__).parent), db_url],
        capture_output=True,
        timeout=60,
    )
    assert crashed.returncode == 17, crashed.stderr.decode()
    assert (folder / "crashed").exists()
    assert engine.get(run_id).status is tr.RunStatus.RUNNING

    started = time.monotonic()
    start_worker()
    assert engine.result(run_id, timeout=20) == ["a", "survived", "c"]
    assert time.monotonic() - started < 15
    assert (folder / "a.log").read_text() == "ran\n"  # step A ran once, before the crash
    assert (folder / "c.log").read_text() == "ran\n"
    history = engine.history(run_id)
    starts = [e for e in history if e.kind is tr.EventKind.RUN_STARTED]
    assert len(starts) == 2
    assert starts[0].data["worker"] != starts[1].data["worker"]
    assert starts[1].data["epoch"] > starts[0].data["epoch"]
    completed = [e.name for e in history if e.kind is tr.EventKind.STEP_COMPLETED]
    assert completed == ["basics_append", "basics_crash_once", "basics_append"]
