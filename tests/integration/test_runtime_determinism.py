"""Replay stays deterministic: now/uuid/random, patches, divergence, and pinned versions."""

from __future__ import annotations

import collections
import time
import uuid
from typing import Any

import pytest
from side_effects import CALLS, count

import treadle as tr

SEEN: dict[str, list[Any]] = collections.defaultdict(list)


@tr.workflow
async def determinism_values_wf(ctx: tr.Context) -> dict[str, Any]:
    before = [ctx.now(), ctx.uuid(), ctx.random()]
    SEEN[ctx.run_id + ":before"].append(before)
    await ctx.sleep(0.05)
    after = [ctx.now(), ctx.uuid(), ctx.random()]
    SEEN[ctx.run_id + ":after"].append(after)
    await ctx.wait_for("go")
    return {"before": before, "after": after}


@tr.workflow
def determinism_sync_values_wf(ctx: tr.SyncContext) -> list[Any]:
    values = [ctx.now(), ctx.uuid(), ctx.random()]
    SEEN[ctx.run_id].append(values)
    ctx.sleep(0.05)
    return values


def test_now_uuid_random_are_identical_across_replays(
    engine: tr.Engine, start_worker, wait_status
) -> None:
    start_worker()
    run_id = engine.start(determinism_values_wf)
    wait_status(run_id, "waiting")
    time.sleep(0.2)  # the timer fires and the run replays up to the wait
    wait_status(run_id, "waiting")
    engine.signal(run_id, "go")
    result = engine.result(run_id, timeout=10)
    before, after = SEEN[run_id + ":before"], SEEN[run_id + ":after"]
    assert len(before) >= 3 and len(after) >= 2  # executed once per resumption
    assert all(values == result["before"] for values in before)
    assert all(values == result["after"] for values in after)
    now, ident, number = result["before"]
    assert now == pytest.approx(engine.get(run_id).created_at, abs=1.0)
    assert uuid.UUID(ident).version == 4
    assert 0.0 <= number < 1.0
    assert result["after"][0] >= now + 0.05  # time moved on with the timer
    assert result["after"][1] != ident


def test_sync_context_values_are_identical_across_replays(engine: tr.Engine, start_worker) -> None:
    start_worker()
    run_id = engine.start(determinism_sync_values_wf)
    result = engine.result(run_id, timeout=10)
    assert len(SEEN[run_id]) >= 2
    assert all(values == result for values in SEEN[run_id])


def test_different_runs_get_different_random_values(engine: tr.Engine, start_worker) -> None:
    start_worker()
    first = engine.start(determinism_sync_values_wf)
    second = engine.start(determinism_sync_values_wf)
    assert engine.result(first, timeout=10)[1] != engine.result(second, timeout=10)[1]


# -- code that changes under running runs ---------------------------------------------------
# Two registries stand for two deployments of the same workflow name and version.

OLD = tr.Registry()
NEW = tr.Registry()


@tr.step
def determinism_alpha(key: str) -> str:
    count(key + ":alpha")
    return key + ":alpha"


@tr.step
def determinism_beta(key: str) -> str:
    count(key + ":beta")
    return key + ":beta"


@tr.step
def determinism_gamma(key: str) -> str:
    count(key + ":gamma")
    return key + ":gamma"


@tr.workflow(name="determinism_changed", registry=OLD)
async def determinism_changed_old(ctx: tr.Context, key: str) -> str:
    await ctx.step(determinism_alpha, key)
    await ctx.wait_for("go")
    return "old"


@tr.workflow(name="determinism_changed", registry=NEW)
async def determinism_changed_new(ctx: tr.Context, key: str) -> str:
    await ctx.step(determinism_beta, key)  # a different step at the recorded position
    await ctx.wait_for("go")
    return "new"


@tr.workflow(name="determinism_patched", registry=OLD)
async def determinism_patched_old(ctx: tr.Context, key: str) -> str:
    await ctx.step(determinism_alpha, key)
    await ctx.wait_for("go")
    return "old path"


@tr.workflow(name="determinism_patched", registry=NEW)
async def determinism_patched_new(ctx: tr.Context, key: str) -> str:
    if ctx.patched("use-gamma"):
        await ctx.step(determinism_gamma, key)
        await ctx.wait_for("go")
        return "new path"
    await ctx.step(determinism_alpha, key)
    await ctx.wait_for("go")
    return "old path"


@pytest.fixture
def old_engine(db_url: str):
    with tr.Engine(db_url, registry_=OLD) as engine:
        yield engine


@pytest.fixture
def new_engine(db_url: str):
    with tr.Engine(db_url, registry_=NEW) as engine:
        yield engine


def test_replay_against_changed_code_raises_non_determinism(
    old_engine: tr.Engine, new_engine: tr.Engine, start_worker, wait_status
) -> None:
    key = uuid.uuid4().hex
    old_worker = start_worker(old_engine)
    run_id = old_engine.start("determinism_changed", key)
    wait_status(run_id, "waiting", on=old_engine)
    old_worker.stop()

    start_worker(new_engine)
    new_engine.signal(run_id, "go")
    with pytest.raises(tr.RunFailedError) as caught:
        new_engine.result(run_id, timeout=10)
    assert caught.value.error_type == "treadle.NonDeterminismError"
    assert "determinism_alpha" in str(caught.value)
    assert "determinism_beta" in str(caught.value)
    assert CALLS[key + ":alpha"] == 1
    assert CALLS[key + ":beta"] == 0  # the new step never ran against the old history


def test_patched_keeps_old_runs_on_the_old_path(
    old_engine: tr.Engine, new_engine: tr.Engine, start_worker, wait_status
) -> None:
    old_key, new_key = uuid.uuid4().hex, uuid.uuid4().hex
    old_worker = start_worker(old_engine)
    old_run = old_engine.start("determinism_patched", old_key)
    wait_status(old_run, "waiting", on=old_engine)
    old_worker.stop()

    start_worker(new_engine)
    new_run = new_engine.start("determinism_patched", new_key)
    wait_status(new_run, "waiting", on=new_engine)
    new_engine.signal(old_run, "go")
    new_engine.signal(new_run, "go")
    assert new_engine.result(old_run, timeout=10) == "old path"
    assert new_engine.result(new_run, timeout=10) == "new path"
    assert CALLS[old_key + ":alpha"] == 1 and CALLS[old_key + ":gamma"] == 0
    assert CALLS[new_key + ":gamma"] == 1 and CALLS[new_key + ":alpha"] == 0
    patches = [e.name for e in new_engine.history(new_run) if e.kind is tr.EventKind.PATCH_APPLIED]
    assert patches == ["use-gamma"]
    old_kinds = [e.kind for e in new_engine.history(old_run)]
    assert tr.EventKind.PATCH_APPLIED not in old_kinds


# -- versions -------------------------------------------------------------------------------

V1 = tr.Registry()
V2 = tr.Registry()


@tr.workflow(name="determinism_versioned", version=1, registry=V1)
async def determinism_versioned_v1(ctx: tr.Context) -> str:
    return "v1"


@tr.workflow(name="determinism_versioned", version=2, registry=V2)
async def determinism_versioned_v2(ctx: tr.Context) -> str:
    return "v2"


def test_a_run_keeps_the_version_it_started_with(db_url: str, start_worker) -> None:
    with (
        tr.Engine(db_url, registry_=V1) as v1_engine,
        tr.Engine(db_url, registry_=V2) as v2_engine,
    ):
        run_id = v1_engine.start("determinism_versioned")
        assert v1_engine.get(run_id).version == "1"
        v2_worker = start_worker(v2_engine)
        time.sleep(0.5)
        info = v2_engine.get(run_id)
        # The v2 worker did not execute it: it handed it back, saying why, in the history.
        assert info.status is tr.RunStatus.WAITING
        assert info.result is None
        last = v2_engine.history(run_id)[-1]
        assert last.kind is tr.EventKind.RUN_WAITING
        assert "version '1'" in last.data["reason"]
        v2_worker.stop()

        newer = v2_engine.start("determinism_versioned")
        assert v2_engine.get(newer).version == "2"

        start_worker(v1_engine)
        assert v1_engine.result(run_id, timeout=15) == "v1"
        assert v1_engine.get(run_id).version == "1"
        assert v1_engine.get(newer).status is tr.RunStatus.WAITING  # v1 cannot run v2
        assert v1_engine.get(newer).result is None
