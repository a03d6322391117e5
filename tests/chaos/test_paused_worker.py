"""Chaos: a worker paused (SIGSTOP) in the middle of a step, past its lease, comes back
(SIGCONT) after another worker took the run over and did the step again: the late result is
refused, the history keeps the other's, and the run succeeds.

Deterministic: the step waits at a gate (a file the test creates, see ``chaos_app``), so the
pause always lands while it executes. The run is ``gated_chain`` with gates at positions 2
and 4: the first worker is paused in step 2; the second redoes step 2 and stops at step 4's
gate, so the first continues while the run's lease, under a newer epoch, is the second's.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import chaos_app
import pytest
from supervisor import Hit, Workers, check_runs, pause, read_traces, wait_until

import treadle as tr

pytestmark = pytest.mark.chaos

STEPS = 6
PAUSED_IN, HELD_AT = 2, 4
"""The step the first worker is paused in; the step at which the second waits meanwhile."""


def executing(trace_path: Path, run_id: str, position: int, pid: int) -> bool:
    return any(
        (e.run_id, e.position, e.pid) == (run_id, position, pid)
        for e in read_traces(trace_path).values()
    )


def test_a_paused_workers_late_result_is_refused(
    engine: tr.Engine, db_url: str, tmp_path: Path
) -> None:
    trace_path, gates = tmp_path / "side-effects.log", tmp_path / "gates"
    gates.mkdir()
    workers = Workers(tmp_path, db_url, trace_path, 1, env={chaos_app.GATES_ENV: str(gates)})
    try:
        first = workers.slots[0]
        wait_until(workers.ready, 30, "the first worker to start", workers)
        began = time.monotonic()
        run_id = engine.start(chaos_app.gated_chain, STEPS, [PAUSED_IN, HELD_AT], id="paused")
        wait_until(
            lambda: executing(trace_path, run_id, PAUSED_IN, first.pid),
            30,
            f"the first worker to execute step {PAUSED_IN}",
            workers,
        )
        paused_at = pause(first, db_url)
        (gates / f"open-{PAUSED_IN}").touch()
        second = workers.add()
        wait_until(
            lambda: executing(trace_path, run_id, HELD_AT, second.pid),
            30,
            f"the second worker to take the run over and reach step {HELD_AT}",
            workers,
        )
        continued_at = time.time()  # taken first: the worker may end its step at once
        first.send_signal(signal.SIGCONT)
        wait_until(
            lambda: f"run {run_id}: lease lost" in workers.output_of(first),
            15,
            "the first worker to find its lease lost",
            workers,
        )
        (gates / f"open-{HELD_AT}").touch()
        assert engine.result(run_id, timeout=30) == list(range(STEPS))
        took = time.monotonic() - began
        exit_codes = workers.terminate()
        assert exit_codes == [0, 0], workers.outputs()
        assert not workers.errors(), "\n".join(workers.errors())
    finally:
        workers.close()

    hit = Hit("SIGSTOP", paused_at, continued_at, first.pid)
    outcome = check_runs(engine, [run_id], STEPS, trace_path, [hit])

    # The first worker did finish its execution of the step, after it continued; the
    # history recorded the second's, and the run moved to the second under a newer epoch.
    late = [
        e for e in read_traces(trace_path).values() if (e.position, e.pid) == (PAUSED_IN, first.pid)
    ]
    assert len(late) == 1 and late[0].ended is not None and late[0].ended >= continued_at
    events = engine.history(run_id)
    result = next(
        e.data["result"]
        for e in events
        if e.kind is tr.EventKind.STEP_COMPLETED and e.position == PAUSED_IN
    )
    assert result["pid"] == second.pid and result["token"] != late[0].token
    claims = [e.data for e in events if e.kind is tr.EventKind.RUN_STARTED]
    assert [c["worker"].split(":")[1] for c in claims] == [str(first.pid), str(second.pid)]
    assert claims[1]["epoch"] > claims[0]["epoch"]
    assert outcome.duplicates == 1
    print(
        f"chaos: 1 worker paused for {continued_at - paused_at:.1f} s in step {PAUSED_IN}, "
        f"its late result refused; run done after {took:.1f} s; {outcome.summary()}"
    )
