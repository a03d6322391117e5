"""The benchmark scripts run and print one JSON line each (tiny sizes: this checks, not times)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"

SMALL = [
    ("w1_sequential_steps.py", ["--steps", "20"]),
    ("w2_throughput.py", ["--runs", "20"]),
    ("w2_throughput.py", ["--runs", "20", "--submit", "one"]),
    ("w3_latency.py", ["--runs", "5"]),
    ("w4_fan_out.py", ["--width", "20"]),
]


def test_every_workload_script_is_covered() -> None:
    assert {p.name for p in BENCHMARKS.glob("w*.py")} == {script for script, _ in SMALL}


@pytest.mark.parametrize(("script", "options"), SMALL)
def test_benchmark_prints_one_json_line(
    script: str, options: list[str], tmp_path: pathlib.Path
) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    done = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / script),
            "--database",
            url,
            "--repeat",
            "1",
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    figures = json.loads(lines[0])
    assert figures["workload"] == script[:2].upper()
    assert figures["backend"] == "sqlite"
    numbers = [v for k, v in figures.items() if k.endswith(("_ms", "_step", "second", "seconds"))]
    assert numbers and all(isinstance(v, float) and v > 0 for v in numbers)


def test_the_net_benchmark_prints_one_json_line_per_net(tmp_path: pathlib.Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "nets_reachability.py"), "--net", "ERK-PT-000001"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip())
    assert figures["net"] == "ERK-PT-000001"
    assert figures["markings"] == 13 and figures["matches_oracle"] is True
