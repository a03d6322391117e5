"""Waiting for some of several things: ``ctx.first``, ``ctx.wait_for_any``, and a run
cancelled in the middle of a ``ctx.gather``."""

from __future__ import annotations

import asyncio
import gc
import logging
import uuid

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
