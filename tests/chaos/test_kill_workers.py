"""Chaos: worker processes are killed with SIGKILL at random moments and nothing is lost.

Real worker processes (``python -m treadle worker``) share one SQLite database. A supervisor
(this test) kills a random one every 0.5-1.5 s and starts a new one in its place. Afterwards
every run must have succeeded with exactly one ``step_completed`` per step, and the side
effects that the steps leave outside Treadle's database (see ``chaos_app``) must show no more
duplicate executions than the steps that were running, unrecorded, in the killed processes.

The random moments come from a seed printed at the start; ``TREADLE_CHAOS_SEED=<n>`` replays
the same schedule of starts and kills.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import chaos_app
import pytest

import treadle as tr

pytestmark = pytest.mark.chaos

CHAOS_DIR = Path(__file__).resolve().parent
WORKERS = 2
CONCURRENCY = 8
LEASE_SECONDS = 1.5
POLL_INTERVAL = 0.1
GRACE_SECONDS = 5.0
RUNS = 50
RUNS_AT_ONCE = 4
"""Runs are started as others finish, this many unfinished at a time, so that work keeps
arriving while the kills land."""
MIN_KILLS = 6
KILL_INTERVAL = (0.5, 1.5)
FINISH_TIMEOUT = 120.0
MAX_STEPS_IN_FLIGHT = CONCURRENCY * chaos_app.FAN_OUT
"""At most this many steps run at once in one worker: its runs, each with one gather."""


# -- worker processes ----------------------------------------------------------------------


def worker_command(database_url: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "treadle",
        "worker",
        "--app",
        "chaos_app",
        "--database",
        database_url,
        "--lease-seconds",
        str(LEASE_SECONDS),
        "--poll-interval",
        str(POLL_INTERVAL),
        "--concurrency",
        str(CONCURRENCY),
        "--grace-seconds",
        str(GRACE_SECONDS),
    ]


@dataclasses.dataclass(frozen=True)
class Kill:
    pid: int
    at: float
    """``time.time()`` just before SIGKILL was sent."""
    dead_at: float
    """``time.time()`` once the process had been reaped."""


class Workers:
    """Worker processes in numbered slots; a killed one is replaced in its slot."""

    def __init__(self, folder: Path, database_url: str, trace_path: Path, count: int) -> None:
        self._folder = folder
        self._command = worker_command(database_url)
        python_path = [str(CHAOS_DIR), os.environ.get("PYTHONPATH", "")]
        self._env = os.environ | {
            "PYTHONPATH": os.pathsep.join(p for p in python_path if p),
            chaos_app.LOG_ENV: str(trace_path),
        }
        self._outputs: list[Path] = []
        self._output_of: dict[int, Path] = {}
        self.slots = [self._spawn() for _ in range(count)]

    def _spawn(self) -> subprocess.Popen[bytes]:
        output = self._folder / f"worker-{len(self._outputs)}.log"
        self._outputs.append(output)
        with output.open("wb") as out:
            process = subprocess.Popen(
                self._command, cwd=self._folder, env=self._env, stdout=out, stderr=out
            )
        self._output_of[process.pid] = output
        return process

    def kill(self, slot: int, *, restart: bool = True) -> Kill:
        process = self.slots[slot]
        self.check_alive()
        at = time.time()
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        dead_at = time.time()
        if restart:
            self.slots[slot] = self._spawn()
        return Kill(process.pid, at, dead_at)

    def restart(self, slot: int) -> None:
        assert self.slots[slot].poll() is not None, "restart() is for a killed worker"
        self.slots[slot] = self._spawn()

    def check_alive(self) -> None:
        for process in self.slots:
            if process.poll() is not None and process.returncode != -signal.SIGKILL:
                pytest.fail(
                    f"worker {process.pid} exited on its own with code {process.returncode}\n"
                    + self.outputs()
                )

    def ready(self) -> bool:
        """Whether every worker is serving: each says so once its loop runs."""
        self.check_alive()
        return all(
            b" started: " in self._output_of[process.pid].read_bytes() for process in self.slots
        )

    def terminate(self) -> list[int | None]:
        """SIGTERM every worker; their exit codes (None for one that did not exit in time)."""
        wait_until(self.ready, 30, "the workers to be ready", self)
        for process in self.slots:
            process.send_signal(signal.SIGTERM)
        codes: list[int | None] = []
        for process in self.slots:
            try:
                codes.append(process.wait(GRACE_SECONDS + 15))
            except subprocess.TimeoutExpired:
                codes.append(None)
        return codes

    def close(self) -> None:
        for process in self.slots:
            if process.poll() is None:
                process.kill()
                process.wait(10)

    def errors(self) -> list[str]:
        """Error lines and tracebacks the workers wrote."""
        return [
            f"{path.name}: {line}"
            for path in self._outputs
            for line in path.read_text(errors="replace").splitlines()
            if "ERROR" in line or "Traceback" in line
        ]

    def outputs(self, lines: int = 30) -> str:
        parts = []
        for path in self._outputs:
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name} ---\n" + "\n".join(text))
        return "\n".join(parts)


# -- side-effect traces --------------------------------------------------------------------


@dataclasses.dataclass
class Execution:
    """One execution of a step, as its side-effect trace tells it."""

    run_id: str
    position: int
    pid: int
    token: str
    started: float
    ended: float | None = None


def read_traces(path: Path) -> dict[str, Execution]:
    executions: dict[str, Execution] = {}
    if not path.exists():
        return executions
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        assert len(fields) == 6, f"{path}:{number}: malformed trace line {line!r}"
        kind, run_id, position, pid, token, at = fields
        if kind == "start":
            assert token not in executions, f"{path}:{number}: token {token} started twice"
            executions[token] = Execution(run_id, int(position), int(pid), token, float(at))
        else:
            assert kind == "end", f"{path}:{number}: unknown trace kind {kind!r}"
            assert token in executions, f"{path}:{number}: end without start"
            executions[token].ended = float(at)
    return executions


# -- helpers -------------------------------------------------------------------------------


def chaos_seed() -> int:
    seed = int(os.environ.get("TREADLE_CHAOS_SEED", random.randrange(2**32)))
    print(f"chaos seed {seed} (TREADLE_CHAOS_SEED={seed} replays this schedule)")
    return seed


def wait_until(condition: Callable[[], bool], timeout: float, what: str, workers: Workers) -> None:
    give_up = time.monotonic() + timeout
    while not condition():
        workers.check_alive()
        if time.monotonic() > give_up:
            pytest.fail(f"gave up after {timeout} s waiting for {what}\n" + workers.outputs())
        time.sleep(0.05)


def pick_victim(workers: Workers, trace_path: Path, rng: random.Random) -> int:
    """A random worker slot among those running a step right now, or among all of them."""
    open_steps = collections.Counter(
        e.pid for e in read_traces(trace_path).values() if e.ended is None
    )
    busy = [slot for slot, p in enumerate(workers.slots) if open_steps[p.pid]]
    return rng.choice(busy or range(len(workers.slots)))


def plan_runs() -> list[tuple[str, tr.Workflow[..., Any], tuple[int, ...]]]:
    """Which workflow each run executes: a third each of chain, fan_out and sync_fan_out."""
    shapes: list[tuple[tr.Workflow[..., Any], tuple[int, ...]]] = [
        (chaos_app.chain, (chaos_app.STEPS,)),
        (chaos_app.fan_out, (chaos_app.STEPS, chaos_app.FAN_OUT)),
        (chaos_app.sync_fan_out, (chaos_app.STEPS, chaos_app.FAN_OUT)),
    ]
    return [(f"chaos-{index:02d}", *shapes[index % len(shapes)]) for index in range(RUNS)]


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path / 'chaos.db'}"


@pytest.fixture
def trace_path(tmp_path: Path) -> Path:
    return tmp_path / "side-effects.log"


@pytest.fixture
def engine(database_url: str) -> Iterator[tr.Engine]:
    with tr.Engine(database_url) as engine:
        yield engine


@pytest.fixture
def workers(
    tmp_path: Path, database_url: str, trace_path: Path, engine: tr.Engine
) -> Iterator[Workers]:
    workers = Workers(tmp_path, database_url, trace_path, WORKERS)
    try:
        yield workers
    finally:
        workers.close()


# -- the tests -----------------------------------------------------------------------------


def test_killed_workers_lose_no_run_and_double_only_steps_in_flight(
    engine: tr.Engine, workers: Workers, trace_path: Path
) -> None:
    began = time.monotonic()
    rng = random.Random(chaos_seed())
    kills: list[Kill] = []
    # Keep a steady load of runs going, and meanwhile kill a worker at random moments (one
    # with a step in flight, when there is one) until enough kills have landed.
    to_start = plan_runs()
    run_ids = [run_id for run_id, _, _ in to_start]
    next_kill = time.monotonic() + rng.uniform(*KILL_INTERVAL)
    while to_start or len(kills) < MIN_KILLS:
        counts = engine.counts()
        unfinished = sum(counts.get(s, 0) for s in ("pending", "running", "waiting"))
        for run_id, workflow, args in to_start[: max(0, RUNS_AT_ONCE - unfinished)]:
            engine.start(workflow, *args, id=run_id)
            to_start.pop(0)
        if time.monotonic() >= next_kill:
            kills.append(workers.kill(pick_victim(workers, trace_path, rng)))
            next_kill = time.monotonic() + rng.uniform(*KILL_INTERVAL)
        workers.check_alive()
        time.sleep(0.01)
    killing_ended = time.monotonic()

    def all_finished() -> bool:
        return all(engine.get(run_id).status.finished for run_id in run_ids)

    wait_until(
        all_finished, FINISH_TIMEOUT - (time.monotonic() - began), "all runs to finish", workers
    )
    finished = time.monotonic()
    exit_codes = workers.terminate()

    assert exit_codes == [0] * WORKERS, (
        f"workers did not exit 0 on SIGTERM: {exit_codes}\n" + workers.outputs()
    )
    assert not workers.errors(), "\n".join(workers.errors())

    # Every run succeeded, none is left pending, running or waiting.
    assert engine.counts() == {"succeeded": RUNS}, engine.counts()
    for run_id in run_ids:
        assert engine.get(run_id).result == list(range(chaos_app.STEPS)), run_id

    # Exactly one step_completed per position, and it names the execution it recorded.
    recorded: dict[tuple[str, int], str] = {}
    adopted_runs = 0
    for run_id in run_ids:
        events = engine.history(run_id)
        completed = [e for e in events if e.kind is tr.EventKind.STEP_COMPLETED]
        per_position = collections.Counter(e.position for e in completed)
        assert per_position == dict.fromkeys(range(chaos_app.STEPS), 1), (run_id, per_position)
        for event in completed:
            assert event.position is not None
            assert event.data["result"]["position"] == event.position
            recorded[(run_id, event.position)] = event.data["result"]["token"]
        workers_seen = {e.data["worker"] for e in events if e.kind is tr.EventKind.RUN_STARTED}
        adopted_runs += len(workers_seen) > 1

    # Side effects: every step ran, the recorded result comes from an execution that finished,
    # and every other execution is a duplicate that a kill explains.
    executions = read_traces(trace_path)
    by_step: dict[tuple[str, int], list[Execution]] = collections.defaultdict(list)
    for execution in executions.values():
        by_step[(execution.run_id, execution.position)].append(execution)
    assert set(by_step) == set(recorded), "side effects and history disagree on the steps"
    recorded_tokens = set(recorded.values())
    for key, token in recorded.items():
        assert token in executions, f"{key}: recorded result {token} left no side effect"
        assert executions[token].ended is not None, f"{key}: recorded result never ended"

    killed = {kill.pid: kill for kill in kills}
    wasted = [e for e in executions.values() if e.token not in recorded_tokens]
    problems = []
    for execution in wasted:
        kill = killed.get(execution.pid)
        if kill is None:
            problems.append(f"{execution}: ran in a worker that was never killed, not recorded")
            continue
        assert execution.started <= kill.dead_at
        if execution.ended is not None and kill.at - execution.ended > LEASE_SECONDS + 1.0:
            problems.append(
                f"{execution}: ended {kill.at - execution.ended:.2f} s before its worker was "
                "killed, yet its result was never recorded"
            )
        winner = executions[recorded[(execution.run_id, execution.position)]]
        if winner.started < kill.at:
            problems.append(
                f"{execution}: executed again by pid {winner.pid} at {winner.started:.3f}, "
                f"while the first worker was alive (killed at {kill.at:.3f})"
            )
    assert not problems, "\n".join(problems)

    duplicates = sum(len(runs) - 1 for runs in by_step.values())
    in_flight_at_kill = {
        kill.pid: sum(1 for e in executions.values() if e.pid == kill.pid)
        - sum(1 for token in recorded_tokens if executions[token].pid == kill.pid)
        for kill in kills
    }
    print(
        f"chaos: {len(kills)} kills in {killing_ended - began:.1f} s, all {RUNS} runs done "
        f"after {finished - began:.1f} s; {len(executions)} executions of "
        f"{len(recorded)} steps; {duplicates} duplicates; unrecorded steps per killed "
        f"worker {list(in_flight_at_kill.values())}; {adopted_runs} runs adopted by "
        "another worker"
    )
    assert duplicates <= sum(in_flight_at_kill.values())
    assert duplicates <= len(kills) * MAX_STEPS_IN_FLIGHT
    assert len(kills) >= MIN_KILLS
    assert adopted_runs >= 1, "no kill hit a run: the test did not test anything"


def test_run_in_durable_sleep_and_wait_survives_kills_and_completes_once(
    engine: tr.Engine, workers: Workers, trace_path: Path
) -> None:
    sleep_seconds = 2.0

    def waiting_at(position: int) -> Callable[[], bool]:
        def check() -> bool:
            events = engine.history(run_id)
            return engine.get(run_id).status is tr.RunStatus.WAITING and any(
                e.kind is tr.EventKind.TIMER_STARTED and e.position == position for e in events
            )

        return check

    run_id = engine.start(chaos_app.sleep_then_approve, sleep_seconds, id="sleeper")
    wait_until(waiting_at(1), 30, "the run to sleep", workers)
    # Kill every worker during the sleep and keep them down past its end, so the timer
    # is fired late by a worker that never saw the run.
    asleep_at = time.time()
    for slot in range(WORKERS):
        workers.kill(slot, restart=False)
    time.sleep(max(0.0, asleep_at + sleep_seconds + 0.5 - time.time()))
    for slot in range(WORKERS):
        workers.restart(slot)
    wait_until(waiting_at(3), 30, "the run to wait for its signal", workers)
    for slot in range(WORKERS):
        workers.kill(slot)
    engine.signal(run_id, "approve", {"ok": True})
    assert engine.result(run_id, timeout=30) == {"ok": True}
    exit_codes = workers.terminate()
    assert exit_codes == [0] * WORKERS, workers.outputs()
    assert not workers.errors(), "\n".join(workers.errors())

    events = engine.history(run_id)
    kinds = collections.Counter(e.kind for e in events)
    assert kinds[tr.EventKind.RUN_SUCCEEDED] == 1
    assert kinds[tr.EventKind.TIMER_FIRED] == 1
    assert kinds[tr.EventKind.SIGNAL_CONSUMED] == 1
    completed = collections.Counter(
        e.position for e in events if e.kind is tr.EventKind.STEP_COMPLETED
    )
    assert completed == {0: 1, 2: 1, 4: 1}
    executions = read_traces(trace_path)
    ran = collections.Counter(e.position for e in executions.values())
    assert ran == {0: 1, 2: 1, 4: 1}, "a step ran again after a kill"
    assert all(e.ended is not None for e in executions.values())
