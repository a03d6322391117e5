"""Workflows for the chaos tests; worker processes load this module with ``--app chaos_app``.

Every execution of a step leaves a trace outside Treadle's database: a ``start`` line before
its work and an ``end`` line after it, appended (``O_APPEND``, one ``write`` per line, so lines
from different processes never interleave) to the file named by ``TREADLE_CHAOS_LOG``::

    start <run_id> <position> <pid> <token> <unix time>
    end   <run_id> <position> <pid> <token> <unix time>

``token`` is unique to the execution and is also part of the step's result, so the history
says exactly which execution's result was recorded, and every other execution of the same
step is a duplicate.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from typing import Any

import treadle as tr

LOG_ENV = "TREADLE_CHAOS_LOG"
GATES_ENV = "TREADLE_CHAOS_GATES"
"""A folder: ``gated_work`` at position ``p`` ends only once the file ``open-<p>`` is in it."""
GATE_TIMEOUT = 60.0
STEPS = 20
"""Steps per run of the chaos workflows."""
FAN_OUT = 10
"""Steps run at the same time by one ``ctx.gather`` in ``fan_out`` and ``sync_fan_out``."""


def trace(kind: str, run_id: str, position: int, token: str) -> None:
    line = f"{kind} {run_id} {position} {os.getpid()} {token} {time.time():.6f}\n"
    fd = os.open(os.environ[LOG_ENV], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def _pause() -> float:
    return random.uniform(0.002, 0.020)


@tr.step
def sync_work(run_id: str, position: int) -> dict[str, Any]:
    """A side effect taking a few milliseconds, in a worker thread."""
    token = uuid.uuid4().hex
    trace("start", run_id, position, token)
    time.sleep(_pause())
    trace("end", run_id, position, token)
    return {"position": position, "pid": os.getpid(), "token": token}


@tr.step
async def async_work(run_id: str, position: int) -> dict[str, Any]:
    """The same side effect, on the worker's event loop."""
    token = uuid.uuid4().hex
    trace("start", run_id, position, token)
    await asyncio.sleep(_pause())
    trace("end", run_id, position, token)
    return {"position": position, "pid": os.getpid(), "token": token}


@tr.step
def gated_work(run_id: str, position: int) -> dict[str, Any]:
    """The side effect of ``sync_work``, held at a gate: it starts, then waits for the test to
    open the gate of its position (see ``GATES_ENV``) before it ends."""
    token = uuid.uuid4().hex
    trace("start", run_id, position, token)
    gate = os.path.join(os.environ[GATES_ENV], f"open-{position}")
    give_up = time.monotonic() + GATE_TIMEOUT
    while not os.path.exists(gate):
        if time.monotonic() > give_up:
            raise TimeoutError(f"nobody opened {gate} within {GATE_TIMEOUT} s")
        time.sleep(0.01)
    trace("end", run_id, position, token)
    return {"position": position, "pid": os.getpid(), "token": token}


def _work_for(position: int) -> tr.Step[[str, int], Any]:
    return sync_work if position % 2 == 0 else async_work  # type: ignore[return-value]


@tr.workflow
async def chain(ctx: tr.Context, steps: int) -> list[int]:
    """``steps`` steps one after the other, sync and async alternating."""
    done = []
    for position in range(steps):
        result = await ctx.step(_work_for(position), ctx.run_id, position)
        done.append(result["position"])
    return done


@tr.workflow
async def gated_chain(ctx: tr.Context, steps: int, gated: list[int]) -> list[int]:
    """``chain``, but the steps at the ``gated`` positions wait for their gate to open."""
    done = []
    for position in range(steps):
        work = gated_work if position in gated else _work_for(position)
        result = await ctx.step(work, ctx.run_id, position)
        done.append(result["position"])
    return done


@tr.workflow
async def fan_out(ctx: tr.Context, steps: int, width: int) -> list[int]:
    """Steps in a row, then ``width`` at once with ``ctx.gather``, then the rest in a row."""
    head = (steps - width) // 2
    done = []
    for position in range(head):
        done.append((await ctx.step(_work_for(position), ctx.run_id, position))["position"])
    fanned = await ctx.gather(
        *(ctx.step(_work_for(p), ctx.run_id, p) for p in range(head, head + width))
    )
    done.extend(result["position"] for result in fanned)
    for position in range(head + width, steps):
        done.append((await ctx.step(_work_for(position), ctx.run_id, position))["position"])
    return done


@tr.workflow
def sync_fan_out(ctx: tr.SyncContext, steps: int, width: int) -> list[int]:
    """The same shape as ``fan_out``, written as a plain ``def`` with ``submit`` and ``gather``."""
    head = (steps - width) // 2
    done = []
    for position in range(head):
        done.append(ctx.step(_work_for(position), ctx.run_id, position)["position"])
    handles = [ctx.submit(_work_for(p), ctx.run_id, p) for p in range(head, head + width)]
    done.extend(result["position"] for result in ctx.gather(*handles))
    for position in range(head + width, steps):
        done.append(ctx.step(_work_for(position), ctx.run_id, position)["position"])
    return done


@tr.workflow
async def sleep_then_approve(ctx: tr.Context, sleep_seconds: float) -> Any:
    """A step, a durable sleep, a step, a wait for the signal ``approve``, a last step.

    Positions: 0 step, 1 sleep, 2 step, 3 wait_for, 4 step.
    """
    await ctx.step(sync_work, ctx.run_id, 0)
    await ctx.sleep(sleep_seconds)
    await ctx.step(async_work, ctx.run_id, 2)
    decision = await ctx.wait_for("approve", timeout=300)
    await ctx.step(sync_work, ctx.run_id, 4)
    return decision
