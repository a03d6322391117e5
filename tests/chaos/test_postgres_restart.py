"""Chaos: the PostgreSQL server restarts while steps are in flight, and nothing is lost.

The shared test server is never touched: this test starts a throwaway server of its own from
the installed PostgreSQL binaries (as ``scripts/postgres-for-tests`` does), runs worker
processes and a client against it under a steady load of runs, and stops the server (fast
shutdown: every connection is cut) for a second in the middle. Afterwards every run must have
succeeded with one ``step_completed`` per step, no step may have run more than twice, and
each worker must have logged the outage once and reconnected.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from supervisor import (
    LEASE_SECONDS,
    Hit,
    Workers,
    check_runs,
    plan_runs,
    read_traces,
    wait_until,
)

import treadle as tr

pytestmark = pytest.mark.chaos

WORKERS = 3
RUNS = 90
STEPS = 10
WIDTH = 5
RUNS_AT_ONCE = 12
RESTART_AFTER = RUNS // 3
"""Runs started before the restart."""
DOWN_SECONDS = 1.0
"""How long the server stays down: long enough for every worker to find it gone."""
FINISH_TIMEOUT = 60.0
EXPECTED_ERRORS = [
    # A write in flight when the server went away fails; its run is left to its lease and
    # taken over from its last recorded step. Logged once per run it hit.
    "the database refused a write; the run will be retried",
    # When a run loses its lease inside ``ctx.gather``, the gather raises on the first
    # branch that is fenced without looking at the others, and asyncio reports their
    # exceptions as never retrieved: noise, not a lost write.
    "exception=Fenced()",
]


def _binaries() -> Path:
    """The folder of ``pg_ctl``: on the PATH, else the newest Debian-style install."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    folders = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2].split(".")[0])
    )
    if not folders:
        pytest.fail(
            "this test starts a PostgreSQL server of its own and found no server binaries "
            "(pg_ctl, initdb): install PostgreSQL (e.g. apt-get install postgresql)",
            pytrace=False,
        )
    return Path(folders[-1])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ThrowawayServer:
    """A PostgreSQL server in a temporary folder, on a free port, for one test."""

    def __init__(self) -> None:
        self._bin = _binaries()
        self._folder = Path(tempfile.mkdtemp(prefix="treadle-pg-"))
        self._data = self._folder / "data"
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            # PostgreSQL refuses to run as root: the folder and the server are postgres's.
            os.chown(self._folder, pwd.getpwnam("postgres").pw_uid, -1)
            self._as_owner = ["runuser", "-u", "postgres", "--"]
        self.port = _free_port()
        self._options = (
            f"-p {self.port} -k {self._folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        )
        self._run("initdb", "-D", str(self._data), "-A", "trust", "-U", "postgres")
        self._pg_ctl("start", "-o", self._options)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/treadle"
        with psycopg.connect(self.url.replace("/treadle", "/postgres"), autocommit=True) as pg:
            pg.execute("CREATE DATABASE treadle")

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(
            [*self._as_owner, str(self._bin / program), *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def _pg_ctl(self, action: str, *args: str) -> None:
        log = str(self._folder / "server.log")
        self._run("pg_ctl", "-D", str(self._data), "-l", log, "-w", *args, action)

    def restart(self, down: float, mode: str) -> tuple[float, float]:
        """Stop (``fast``: connections cut, the log flushed; ``immediate``: a crash, commits
        not yet flushed are gone), ``down`` seconds away, start again; return
        ``time.time()`` before the stop and once the server accepts connections again."""
        began = time.time()
        self._pg_ctl("stop", "-m", mode)
        time.sleep(down)
        self._pg_ctl("start", "-o", self._options)
        return began, time.time()

    def close(self) -> None:
        try:
            self._pg_ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)


@pytest.fixture
def server() -> Iterator[ThrowawayServer]:
    server = ThrowawayServer()
    try:
        yield server
    finally:
        server.close()


# A crash loses the journal appends and claims that had not reached the disk (they do not
# wait for it): their steps run again, and nothing that a client was told is lost.
@pytest.mark.parametrize("shutdown", ["fast", "immediate"])
def test_postgres_restarted_mid_run_loses_and_doubles_nothing(
    server: ThrowawayServer, tmp_path: Path, shutdown: str
) -> None:
    trace_path = tmp_path / "side-effects.log"
    with tr.Engine(server.url) as engine:
        workers = Workers(tmp_path, server.url, trace_path, WORKERS)
        try:
            wait_until(workers.ready, 30, "the workers to start", workers)
            began = time.monotonic()
            to_start = plan_runs(RUNS, STEPS, WIDTH)
            run_ids = [run_id for run_id, _, _ in to_start]
            restart: tuple[float, float] | None = None
            in_flight = 0
            while to_start:
                counts = engine.counts()
                unfinished = sum(counts.get(s, 0) for s in ("pending", "running", "waiting"))
                for run_id, workflow, args in to_start[: max(0, RUNS_AT_ONCE - unfinished)]:
                    engine.start(workflow, *args, id=run_id)
                    to_start.pop(0)
                if restart is None and len(run_ids) - len(to_start) >= RESTART_AFTER:
                    in_flight = sum(e.ended is None for e in read_traces(trace_path).values())
                    if in_flight:
                        restart = server.restart(DOWN_SECONDS, shutdown)
                workers.check_alive()
                time.sleep(0.01)
            assert restart is not None, "no step was in flight while the runs were started"

            def all_finished() -> bool:
                return all(engine.get(run_id).status.finished for run_id in run_ids)

            wait_until(all_finished, FINISH_TIMEOUT, "all runs to finish", workers)
            finished = time.monotonic()
            exit_codes = workers.terminate()
            assert exit_codes == [0] * WORKERS, workers.outputs()

            # Each worker noticed the outage once, and came back.
            assert workers.count("lost PostgreSQL") == [1] * WORKERS, workers.outputs()
            assert workers.count("reconnected to PostgreSQL") == [1] * WORKERS
            errors = workers.errors(allowed=EXPECTED_ERRORS)
            assert not errors, "\n".join(errors)

            hit = Hit("restart", *restart, aftermath=LEASE_SECONDS + 3.0)
            outcome = check_runs(engine, run_ids, STEPS, trace_path, [hit])
        finally:
            workers.close()
    print(
        f"chaos: PostgreSQL stopped ({shutdown}) with {in_flight} steps in flight, down for "
        f"{restart[1] - restart[0]:.1f} s; all {RUNS} runs of {STEPS} steps done after "
        f"{finished - began:.1f} s; {outcome.summary()}"
    )
