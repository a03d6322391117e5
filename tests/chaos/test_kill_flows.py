"""Chaos: flows and nets survive worker processes killed with SIGKILL mid-run.

Two worker processes (``--app chaos_flows``) run a flow, a net and a race (two branches
into a discriminator, whose order of arrival depends on timing) while this test kills one
at random moments and starts another in its place. Afterwards every run has succeeded with
the expected result, every step call is recorded exactly once, and the net events are
recorded exactly once: sequence numbers 0, 1, ... without gaps or repeats, every firing
started at most once and completed exactly once, each step at a position its firing
announced. The replays after the kills had to follow the recorded order of completions to
get there (a replay that cannot follow fails its run). And the kills did hit runs in flight.
"""

from __future__ import annotations

import collections
import random
import time
from collections.abc import Iterator
from pathlib import Path

import chaos_flows
import pytest
from supervisor import Workers, chaos_seed, read_traces, wait_until

import treadle as tr

pytestmark = pytest.mark.chaos

WORKERS = 2
RUNS = 15
"""Runs of each: the flow, the net and the race."""
AT_ONCE = 6
"""Runs are started as others finish, this many unfinished at a time, so that the kills
land while work is in flight."""
KILLS = 5
KILL_INTERVAL = (0.3, 0.8)
FINISH_TIMEOUT = 120.0


@pytest.fixture
def workers(tmp_path: Path, db_url: str, engine: tr.Engine) -> Iterator[Workers]:
    workers = Workers(tmp_path, db_url, tmp_path / "side-effects.log", 0)
    # The flows live in their own module, loaded beside chaos_app (which their steps use).
    workers._command += ["--app", "chaos_flows"]
    for _ in range(WORKERS):
        workers.add()
    try:
        yield workers
    finally:
        workers.close()


EXPECTED = {
    "flow": (chaos_flows.FLOW_STEPS, chaos_flows.FLOW_FIRINGS, chaos_flows.FLOW_RESULT),
    "net": (chaos_flows.NET_STEPS, chaos_flows.NET_FIRINGS, chaos_flows.NET_RESULT),
    "race": (chaos_flows.RACE_STEPS, chaos_flows.RACE_FIRINGS, chaos_flows.RACE_RESULT),
}
"""Per kind of run: step calls, firings, result."""
NET_EVENTS = {
    tr.EventKind.TRANSITION_STARTED,
    tr.EventKind.TRANSITION_FIRED,
    tr.EventKind.NET_CHANGED,
    tr.EventKind.NET_CHANGE_REFUSED,
}


def check_net_events(run_id: str, history: list[tr.Event], firings: int) -> None:
    """Each net event once, in ``seq`` order; each firing started at most once (routing
    firings have no start) and fired exactly once; the steps at the announced positions."""
    net = [e for e in history if e.kind in NET_EVENTS]
    assert [e.data["seq"] for e in net] == list(range(len(net))), f"{run_id}: seq repeated"
    started = [e for e in net if e.kind is tr.EventKind.TRANSITION_STARTED]
    fired = [e for e in net if e.kind is tr.EventKind.TRANSITION_FIRED]
    assert sorted(e.data["firing"] for e in fired) == list(range(firings)), run_id
    numbers = [e.data["firing"] for e in started]
    assert len(set(numbers)) == len(numbers), f"{run_id}: a firing started twice"
    names = {e.data["firing"]: e.name for e in fired}
    assert all(names[e.data["firing"]] == e.name for e in started), run_id
    announced = sorted(p for e in started for p in e.data["positions"])
    steps = sorted(e.position for e in history if e.kind is tr.EventKind.STEP_COMPLETED)
    assert announced == steps, f"{run_id}: steps at {steps}, announced {announced}"


def out_of_order(history: list[tr.Event]) -> bool:
    """Whether some firing completed before one that had started earlier."""
    started = {e.data["firing"] for e in history if e.kind is tr.EventKind.TRANSITION_STARTED}
    fired = [
        e.data["firing"]
        for e in history
        if e.kind is tr.EventKind.TRANSITION_FIRED and e.data["firing"] in started
    ]
    return fired != sorted(fired)


def test_flows_and_nets_survive_killed_workers(
    engine: tr.Engine, workers: Workers, tmp_path: Path
) -> None:
    rng = random.Random(chaos_seed())
    runs = {f"flow-{i}": chaos_flows.chaos_flow for i in range(RUNS)}
    runs |= {f"net-{i}": chaos_flows.chaos_net for i in range(RUNS)}
    runs |= {f"race-{i}": chaos_flows.chaos_race for i in range(RUNS)}
    to_start = list(runs.items())
    rng.shuffle(to_start)
    wait_until(workers.ready, 30, "the workers to be ready", workers)
    began = time.monotonic()
    kills = 0
    next_kill = time.monotonic() + rng.uniform(*KILL_INTERVAL)
    while to_start or kills < KILLS:
        counts = engine.counts()
        unfinished = sum(counts.get(s, 0) for s in ("pending", "running", "waiting"))
        for run_id, workflow in to_start[: max(0, AT_ONCE - unfinished)]:
            engine.start(workflow, 0, id=run_id)
            to_start.pop(0)
        if kills < KILLS and time.monotonic() >= next_kill:
            workers.kill(rng.randrange(WORKERS))
            kills += 1
            next_kill = time.monotonic() + rng.uniform(*KILL_INTERVAL)
        time.sleep(0.01)

    def all_finished() -> bool:
        return all(engine.get(run_id).status.finished for run_id in runs)

    wait_until(all_finished, FINISH_TIMEOUT - (time.monotonic() - began), "the runs", workers)
    assert workers.terminate() == [0] * WORKERS, workers.outputs()
    assert not workers.errors(), "\n".join(workers.errors())

    adopted = crossed = 0
    for run_id in runs:
        kind = run_id.split("-")[0]
        steps, fired, expected = EXPECTED[kind]
        assert engine.result(run_id) == expected
        history = engine.history(run_id)
        completed = collections.Counter(
            e.position for e in history if e.kind is tr.EventKind.STEP_COMPLETED
        )
        assert sorted(completed) == list(range(steps)), f"{run_id}: {completed}"
        assert set(completed.values()) == {1}, f"{run_id}: a step was recorded twice"
        check_net_events(run_id, history, fired)
        starts = [e for e in history if e.kind is tr.EventKind.RUN_STARTED]
        if max(e.data["epoch"] for e in starts) > 1:
            adopted += 1
            crossed += out_of_order(history)
    executions = read_traces(tmp_path / "side-effects.log")
    per_call = collections.Counter((e.run_id, e.position) for e in executions.values())
    print(
        f"chaos flows: {kills} kills, {len(runs)} runs, {adopted} runs adopted after a kill "
        f"({crossed} whose firings completed out of the order they started), "
        f"{sum(per_call.values()) - len(per_call)} step executions repeated"
    )
    assert adopted >= 1, "no kill hit a run: the test did not test anything"
