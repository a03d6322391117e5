"""What the chaos tests share: worker processes to kill, pause and restart, the side-effect
traces that ``chaos_app`` steps leave, and the checks every chaos test ends with.

The checks are the promise of DESIGN.md: every run succeeded, its history holds exactly one
``step_completed`` per step, and no step's side effect ran more often than once plus the
number of hits (a worker killed or paused, the database restarted) that caught it running.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import chaos_app
import psycopg
import pytest

import treadle as tr

CHAOS_DIR = Path(__file__).resolve().parent
CONCURRENCY = 8
LEASE_SECONDS = 1.5
POLL_INTERVAL = 0.1
GRACE_SECONDS = 5.0


# -- worker processes ----------------------------------------------------------------------


def worker_command(
    database_url: str, concurrency: int = CONCURRENCY, apps: Sequence[str] = ("chaos_app",)
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "treadle",
        "worker",
        *(word for app in apps for word in ("--app", app)),
        "--database",
        database_url,
        "--lease-seconds",
        str(LEASE_SECONDS),
        "--poll-interval",
        str(POLL_INTERVAL),
        "--concurrency",
        str(concurrency),
        "--grace-seconds",
        str(GRACE_SECONDS),
    ]


@dataclasses.dataclass(frozen=True)
class Hit:
    """Something that may make a step run again: a worker killed or paused, or the database
    restarted. Times are ``time.time()``."""

    what: str
    began: float
    ended: float
    """When the hit was over: the killed worker reaped, the paused one continued, the
    database back."""
    pid: int | None = None
    """The worker hit, or ``None`` when all of them were (the database went away)."""
    aftermath: float = 0.0
    """For how long after ``ended`` a worker may still start a step that the hit wastes: one
    that learns only at its next write that its lease expired meanwhile."""


class Workers:
    """Worker processes in numbered slots; a killed one is replaced in its slot."""

    def __init__(
        self,
        folder: Path,
        database_url: str,
        trace_path: Path,
        count: int,
        *,
        concurrency: int = CONCURRENCY,
        env: dict[str, str] | None = None,
        apps: Sequence[str] = ("chaos_app",),
    ) -> None:
        self._folder = folder
        self._command = worker_command(database_url, concurrency, apps)
        python_path = [str(CHAOS_DIR), os.environ.get("PYTHONPATH", "")]
        self._env = (
            os.environ
            | {
                "PYTHONPATH": os.pathsep.join(p for p in python_path if p),
                chaos_app.LOG_ENV: str(trace_path),
            }
            | (env or {})
        )
        self._outputs: list[Path] = []
        self._output_of: dict[int, Path] = {}
        self.slots: list[subprocess.Popen[bytes]] = []
        for _ in range(count):
            self.add()

    def _spawn(self) -> subprocess.Popen[bytes]:
        output = self._folder / f"worker-{len(self._outputs)}.log"
        self._outputs.append(output)
        with output.open("wb") as out:
            process = subprocess.Popen(
                self._command, cwd=self._folder, env=self._env, stdout=out, stderr=out
            )
        self._output_of[process.pid] = output
        return process

    def add(self) -> subprocess.Popen[bytes]:
        """Start one more worker, in a new slot."""
        self.slots.append(self._spawn())
        return self.slots[-1]

    def kill(self, slot: int, *, restart: bool = True) -> Hit:
        process = self.slots[slot]
        self.check_alive()
        at = time.time()
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        dead_at = time.time()
        if restart:
            self.slots[slot] = self._spawn()
        return Hit("SIGKILL", at, dead_at, process.pid)

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

    def started(self, process: subprocess.Popen[bytes]) -> bool:
        """Whether the worker is serving: it says so once its loop runs."""
        return b" started: " in self._output_of[process.pid].read_bytes()

    def ready(self) -> bool:
        """Whether every worker is serving."""
        self.check_alive()
        return all(self.started(process) for process in self.slots)

    def output_of(self, process: subprocess.Popen[bytes]) -> str:
        return self._output_of[process.pid].read_text(errors="replace")

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
                os.kill(process.pid, signal.SIGCONT)  # a paused worker cannot die otherwise
                process.kill()
                process.wait(10)

    def errors(self, *, allowed: Iterable[str] = ()) -> list[str]:
        """The first lines of error records and tracebacks the workers wrote, but for records
        that hold one of the ``allowed`` texts."""
        found = []
        for path in self._outputs:
            for record in _records(path.read_text(errors="replace")):
                if "ERROR" not in record[0] and not any("Traceback" in x for x in record):
                    continue
                if not any(text in line for line in record for text in allowed):
                    found.append(f"{path.name}: {record[0]}")
        return found

    def count(self, text: str) -> list[int]:
        """How many lines of each worker's output (one per worker started) hold ``text``."""
        return [
            sum(text in line for line in path.read_text(errors="replace").splitlines())
            for path in self._outputs
        ]

    def outputs(self, lines: int = 30) -> str:
        parts = []
        for path in self._outputs:
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name} ---\n" + "\n".join(text))
        return "\n".join(parts)


def _records(output: str) -> list[list[str]]:
    """A worker's output as records: a log line with the lines that continue it (a
    traceback), or a line the command printed."""
    records: list[list[str]] = []
    for line in output.splitlines():
        if not records or line[:4].isdigit() or line.startswith("worker "):
            records.append([line])
        else:
            records[-1].append(line)
    return records


def no_transaction_open(database_url: str) -> bool:
    """Whether no connection to the database is inside a transaction right now (this one
    aside): a worker paused at such a moment holds no lock that the others would wait for."""
    if database_url.startswith("sqlite:///"):
        connection = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0.2)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            connection.close()
    with psycopg.connect(database_url, autocommit=True) as connection:
        busy = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state NOT IN ('idle')"
        ).fetchone()
    return busy is not None and busy[0] == 0


def pause(process: subprocess.Popen[bytes], database_url: str) -> float:
    """SIGSTOP the worker at a moment it holds no transaction; return ``time.time()`` of the
    stop that stuck.

    A worker paused inside a transaction would hold the others up until it continues (SQLite's
    write lock, PostgreSQL's row locks), which is not what a pause past a lease is about.
    """
    for _ in range(100):
        at = time.time()
        process.send_signal(signal.SIGSTOP)
        time.sleep(0.05)  # a statement already sent finishes on the server meanwhile
        if no_transaction_open(database_url):
            return at
        process.send_signal(signal.SIGCONT)
        time.sleep(random.uniform(0.01, 0.05))
    pytest.fail("the worker was inside a transaction at each of 100 tries to pause it")


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


def pick_victim(workers: Workers, trace_path: Path, rng: random.Random) -> int | None:
    """A random worker slot among those running a step right now, or among all of them;
    ``None`` while that would leave no worker serving.

    Only workers that serve already are picked, and only while another one serves too: on a
    loaded machine a new worker takes seconds to start, and killing the others meanwhile
    would stop all work instead of interrupting it.
    """
    workers.check_alive()
    serving = [slot for slot, p in enumerate(workers.slots) if workers.started(p)]
    if len(serving) < 2:
        return None
    open_steps = collections.Counter(
        e.pid for e in read_traces(trace_path).values() if e.ended is None
    )
    busy = [slot for slot in serving if open_steps[workers.slots[slot].pid]]
    return rng.choice(busy or serving)


def plan_runs(
    runs: int, steps: int, width: int
) -> list[tuple[str, tr.Workflow[..., Any], tuple[int, ...]]]:
    """Which workflow each run executes: a third each of chain, fan_out and sync_fan_out."""
    shapes: list[tuple[tr.Workflow[..., Any], tuple[int, ...]]] = [
        (chaos_app.chain, (steps,)),
        (chaos_app.fan_out, (steps, width)),
        (chaos_app.sync_fan_out, (steps, width)),
    ]
    return [(f"chaos-{index:03d}", *shapes[index % len(shapes)]) for index in range(runs)]


# -- the checks ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Outcome:
    steps: int
    """Steps recorded, over all runs."""
    executions: int
    """Executions of those steps, as their side effects tell."""
    duplicates: int
    """Executions beyond one per step, each explained by a hit."""
    adopted_runs: int
    """Runs that more than one worker executed."""
    wasted: dict[int, int]
    """Executions whose result was not recorded, by worker process id."""

    def summary(self) -> str:
        return (
            f"{self.executions} executions of {self.steps} steps; {self.duplicates} "
            f"duplicates; {self.adopted_runs} runs adopted by another worker"
        )


def check_runs(
    engine: tr.Engine,
    run_ids: list[str],
    steps: int,
    trace_path: Path,
    hits: list[Hit],
) -> Outcome:
    """Every run succeeded with one ``step_completed`` per step, and every execution of a
    step beyond the one recorded is explained by a hit that caught it, one per hit."""
    # Every run succeeded, none is left pending, running or waiting.
    assert engine.counts() == {"succeeded": len(run_ids)}, engine.counts()
    for run_id in run_ids:
        assert engine.get(run_id).result == list(range(steps)), run_id

    # Exactly one step_completed per position, and it names the execution it recorded.
    recorded: dict[tuple[str, int], str] = {}
    adopted_runs = 0
    for run_id in run_ids:
        events = engine.history(run_id)
        completed = [e for e in events if e.kind is tr.EventKind.STEP_COMPLETED]
        per_position = collections.Counter(e.position for e in completed)
        assert per_position == dict.fromkeys(range(steps), 1), (run_id, per_position)
        for event in completed:
            assert event.position is not None
            assert event.data["result"]["position"] == event.position
            recorded[(run_id, event.position)] = event.data["result"]["token"]
        workers_seen = {e.data["worker"] for e in events if e.kind is tr.EventKind.RUN_STARTED}
        adopted_runs += len(workers_seen) > 1

    # Side effects: every step ran, the recorded result comes from an execution that finished.
    executions = read_traces(trace_path)
    by_step: dict[tuple[str, int], list[Execution]] = collections.defaultdict(list)
    for execution in executions.values():
        by_step[(execution.run_id, execution.position)].append(execution)
    assert set(by_step) == set(recorded), "side effects and history disagree on the steps"
    for key, token in recorded.items():
        assert token in executions, f"{key}: recorded result {token} left no side effect"
        assert executions[token].ended is not None, f"{key}: recorded result never ended"

    # Every other execution is a duplicate that a hit explains, and a hit explains at most
    # one duplicate of each step: a step ran at most once plus the hits that caught it.
    problems = []
    wasted_all: list[Execution] = []
    for key, runs in by_step.items():
        winner = executions[recorded[key]]
        wasted = [e for e in runs if e.token != winner.token]
        if not wasted:
            continue
        wasted_all += wasted
        candidates = [[h for h in hits if explains(h, e, winner)] for e in wasted]
        for execution, found in zip(wasted, candidates, strict=True):
            if not found:
                problems.append(
                    f"{execution}: not recorded, and no kill, pause or restart explains it "
                    f"(the recorded execution is pid {winner.pid}'s, started at "
                    f"{winner.started:.3f}; hits: {hits})"
                )
        if all(candidates) and not _one_hit_each(candidates):
            problems.append(f"{key}: ran {len(runs)} times, more than once plus its hits")
    assert not problems, "\n".join(problems)

    return Outcome(
        steps=len(recorded),
        executions=len(executions),
        duplicates=len(executions) - len(recorded),
        adopted_runs=adopted_runs,
        wasted=dict(collections.Counter(e.pid for e in wasted_all)),
    )


def explains(hit: Hit, execution: Execution, winner: Execution) -> bool:
    """Whether ``hit`` can be why ``execution`` was wasted and ``winner`` ran the step again."""
    return (
        (hit.pid is None or hit.pid == execution.pid)
        # It was running, or about to record its result, when the hit came...
        and execution.started <= hit.ended + hit.aftermath
        and (execution.ended is None or execution.ended >= hit.began - LEASE_SECONDS - 1.0)
        # ...and the step ran again only after the hit: never while the first was healthy.
        and winner.started >= hit.began
    )


def _one_hit_each(candidates: list[list[Hit]]) -> bool:
    """Whether each wasted execution can be given a hit of its own (a bipartite matching)."""
    owner: dict[int, int] = {}  # id of a hit -> index of the execution it explains

    def assign(index: int, seen: set[int]) -> bool:
        for hit in candidates[index]:
            if id(hit) in seen:
                continue
            seen.add(id(hit))
            if id(hit) not in owner or assign(owner[id(hit)], seen):
                owner[id(hit)] = index
                return True
        return False

    return all(assign(index, set()) for index in range(len(candidates)))
