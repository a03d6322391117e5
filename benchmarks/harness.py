"""What every benchmark script shares: a fresh database, worker processes, JSON output."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import treadle as tr

HERE = os.path.dirname(os.path.abspath(__file__))


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--database",
        help="database URL; default: a new SQLite file in a temporary folder",
    )
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--concurrency", type=int, default=100, help="runs per worker at once")
    p.add_argument("--repeat", type=int, default=3, help="measure this many times")
    return p


@contextlib.contextmanager
def database(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="treadle-bench-") as folder:
        yield f"sqlite:///{os.path.join(folder, 'bench.db')}"


@contextlib.contextmanager
def workers(url: str, count: int, concurrency: int) -> Iterator[list[subprocess.Popen[str]]]:
    """Start ``count`` ``treadle worker`` processes and wait until each says it started."""
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    command = [
        sys.executable,
        "-m",
        "treadle",
        "worker",
        "--app",
        "bench_app",
        "--database",
        url,
        "--concurrency",
        str(concurrency),
        "--poll-interval",
        "0.5",
        "--log-level",
        "warning",
    ]
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(count)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            line = process.stdout.readline()
            if "started" not in line:
                raise RuntimeError(f"a worker did not start: {line!r}")
        yield processes
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(30)


def engine(url: str) -> tr.Engine:
    return tr.Engine(url)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def report(workload: str, url: str, **figures: Any) -> None:
    """Print one JSON line: the workload, where it ran, and its figures."""
    backend = url.split(":", 1)[0]
    line = {
        "workload": workload,
        "backend": backend,
        "durability": "synchronous=full" if "synchronous=full" in url else "default",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        **figures,
        **(server_costs(url) if backend.startswith("postgres") else {}),
    }
    print(json.dumps(line), flush=True)


def server_costs(url: str) -> dict[str, float]:
    """What the server costs on this machine right now, measured with psycopg alone: a
    round trip (``SELECT 1``) back to back, the same after 2 ms of idling (what a process
    that waits between requests pays: on a virtual machine waking an idle CPU can cost more
    than the query), and a committed one-row insert that waits for the log flush.
    Latency-bound figures move with these, so they are printed beside them."""
    import psycopg

    dsn = url.split("?", 1)[0]
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS bench_calibration (v int)")
        try:
            busy = [_timed(lambda: connection.execute("SELECT 1").fetchone()) for _ in range(300)]
            idle = []
            for _ in range(100):
                time.sleep(0.002)
                idle.append(_timed(lambda: connection.execute("SELECT 1").fetchone()))
            commits = [
                _timed(lambda: connection.execute("INSERT INTO bench_calibration VALUES (1)"))
                for _ in range(100)
            ]
        finally:
            connection.execute("DROP TABLE bench_calibration")
    return {
        "server_round_trip_us": round(statistics.median(busy) * 1e6, 1),
        "server_round_trip_after_idle_us": round(statistics.median(idle) * 1e6, 1),
        "server_commit_us": round(statistics.median(commits) * 1e6, 1),
    }


def _timed(action: Any) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def median(values: list[float]) -> float:
    return statistics.median(values)
