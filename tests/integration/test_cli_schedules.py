"""``treadle schedule``, run as real processes against a SQLite file, with a real worker
process firing the schedule."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import treadle as tr

APP = """
import treadle as tr


@tr.workflow
async def beat(ctx: tr.Context, label: str) -> str:
    return label
"""


class CLI:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "beatapp.py").write_text(textwrap.dedent(APP))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TREADLE_")}
        self.env["PYTHONPATH"] = str(folder)
        self.env["TREADLE_DATABASE"] = f"sqlite:///{folder / 'treadle.db'}"

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "treadle", *args]

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )

    def ok(self, *args: str) -> str:
        done = self(*args)
        assert done.returncode == 0, f"treadle {' '.join(args)}: {done.stderr}{done.stdout}"
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))


def until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    give_up = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > give_up:
            pytest.fail(f"gave up after {timeout} s waiting for {what}")
        time.sleep(0.1)
    return value


@pytest.fixture
def cli(tmp_path: Path) -> CLI:
    return CLI(tmp_path)


@pytest.fixture
def worker(cli: CLI) -> Iterator[subprocess.Popen[bytes]]:
    log = cli.folder / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            cli.command("worker", "--app", "beatapp", "--poll-interval", "0.1"),
            cwd=cli.folder,
            env=cli.env,
            stdout=out,
            stderr=out,
        )
    try:
        until(lambda: " started: " in log.read_text(), 30, "the worker to start")
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0, log.read_text()


def test_add_list_show_pause_resume_delete(cli: CLI, worker: subprocess.Popen[bytes]) -> None:
    added = cli.ok("schedule", "add", "beat", "beatapp:beat", "* * * * * *", '["hi"]')
    assert added.startswith("schedule beat: beat at '* * * * * *' (UTC), next fire ")
    with tr.Engine(cli.env["TREADLE_DATABASE"], migrate=False) as engine:
        runs = until(
            lambda: [r for r in engine.list(workflow="beat").runs if r.status.finished],
            15,
            "a scheduled run to finish",
        )
        assert runs[0].result == "hi"
    table = cli.ok("schedule", "list")
    for header in ("id", "workflow", "cron", "time zone", "state", "next fire", "last run"):
        assert header in table
    assert "beat v1" in table and "active" in table
    (listed,) = cli.json("schedule", "list")
    assert listed["last_run_id"] is not None and listed["args"] == ["hi"]
    shown = cli.json("schedule", "show", "beat")
    assert shown["catch_up"] == "latest" and shown["timezone"] == "UTC"
    assert cli.ok("schedule", "pause", "beat").strip() == "paused schedule beat"
    assert "paused" in cli.ok("schedule", "list")
    assert cli.ok("schedule", "resume", "beat").startswith("resumed schedule beat: next fire ")
    updated = cli.json(
        "schedule",
        "add",
        "beat",
        "beatapp:beat",
        "0 9 * * 1-5",
        '["weekday"]',
        "--tz",
        "Europe/Paris",
        "--queue",
        "reports",
        "--catch-up",
        "none",
    )
    assert (updated["cron"], updated["timezone"], updated["queue"]) == (
        "0 9 * * 1-5",
        "Europe/Paris",
        "reports",
    )
    assert (updated["catch_up"], updated["args"]) == ("none", ["weekday"])
    assert cli.ok("schedule", "delete", "beat").strip() == "deleted schedule beat"
    assert cli.ok("schedule", "list").strip() == "no schedules"


BAD_INPUT = [
    (["add", "s", "beatapp:beat", "* * *", '["x"]'], "has 3 fields"),
    (["add", "s", "beatapp:beat", "* * * * *", '["x"]', "--tz", "Moon/Base"], "time zone"),
    (["add", "s", "beatapp:beat", "* * * * *", '{"label": "x"}'], "JSON array"),
    (["add", "s", "beatapp:nope", "* * * * *"], "has no workflow 'nope'"),
    (["pause", "missing"], "no schedule has the id 'missing'"),
]


def test_bad_input_exits_2_with_one_line(cli: CLI) -> None:
    tr.Engine(cli.env["TREADLE_DATABASE"]).close()  # the schema, made without a process
    for args, message in BAD_INPUT:
        done = cli("schedule", *args)
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr.startswith("error: ") and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_listing_without_a_database_says_so(cli: CLI) -> None:
    done = cli("schedule", "list")
    assert done.returncode == 2 and "no database at" in done.stderr
    assert not (cli.folder / "treadle.db").exists()
