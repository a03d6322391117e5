"""The ``treadle`` command, run as real processes against real SQLite files.

Every test starts ``python -m treadle ...`` as a subprocess, with a small app module written
to its own folder, so what is tested is what a user types: argument parsing, the output,
the exit codes, and workers that stop cleanly on SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from treadle.store import migrations

APP = """
from __future__ import annotations

import os

import treadle as tr


@tr.step
def add(a: int, b: int) -> int:
    return a + b


@tr.workflow
async def total(ctx: tr.Context, a: int, b: int = 1) -> dict[str, int]:
    first = await ctx.step(add, a, b)
    second = await ctx.step(add, first, 10)
    return {"sum": first, "plus_ten": second}


@tr.step(retry=tr.Retry(attempts=1))
def check_flag(path: str) -> str:
    if os.path.exists(path):
        raise ValueError(f"flag {os.path.basename(path)} is up")
    return "clear"


@tr.workflow
async def flaky(ctx: tr.Context, path: str) -> str:
    return await ctx.step(check_flag, path)


@tr.workflow
async def approval(ctx: tr.Context, who: str) -> dict[str, object]:
    decision = await ctx.wait_for("approve")
    return {"who": who, "decision": decision}


def plain(x: int) -> int:
    return x
"""

BROKEN_APP = """
raise RuntimeError("the settings file is missing")
"""

PROCESS_TIMEOUT = 30.0


class CLI:
    """Runs ``python -m treadle`` in the app folder, against one database by default."""

    def __init__(self, folder: Path, database: str) -> None:
        self.folder = folder
        self.database = database
        self.env = {
            key: value for key, value in os.environ.items() if not key.startswith("TREADLE_")
        }
        self.env["PYTHONPATH"] = str(folder)
        self.env["TREADLE_DATABASE"] = database

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "treadle", *args]

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=PROCESS_TIMEOUT,
        )

    def ok(self, *args: str) -> str:
        done = self(*args)
        assert done.returncode == 0, f"treadle {' '.join(args)}: {done.stderr}{done.stdout}"
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def start_run(self, target: str, *args: str) -> str:
        return self.ok("run", target, *args).strip()


class WorkerProcess:
    """A ``treadle worker`` subprocess whose output goes to files, so it can never block."""

    def __init__(self, cli: CLI, *options: str) -> None:
        self.out = cli.folder / f"worker-{time.monotonic_ns()}.out"
        self.err = self.out.with_suffix(".err")
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(
                cli.command("worker", "--lease-seconds", "2", "--poll-interval", "0.2", *options),
                cwd=cli.folder,
                env=cli.env,
                stdout=out,
                stderr=err,
            )

    def wait_started(self, timeout: float = 15.0) -> str:
        line = wait_for(lambda: _first_line(self.out, "started"), timeout, "worker start")
        assert isinstance(line, str)
        return line

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then the exit code; a worker that does not stop in time is killed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def stderr(self) -> str:
        return self.err.read_text()


def _first_line(path: Path, word: str) -> str | None:
    for line in path.read_text().splitlines():
        if word in line:
            return line
    return None


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def dump(path: Path) -> list[str]:
    """The database's schema and rows as SQL, to compare content before and after."""
    connection = sqlite3.connect(path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def make_cli(folder: Path) -> CLI:
    (folder / "cliapp.py").write_text(textwrap.dedent(APP))
    (folder / "brokenapp.py").write_text(textwrap.dedent(BROKEN_APP))
    return CLI(folder, f"sqlite:///{folder / 'treadle.db'}")


@pytest.fixture
def cli(tmp_path: Path) -> CLI:
    return make_cli(tmp_path)


@pytest.fixture(scope="module")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the schema and one run, made once and copied into tests that need it."""
    template = make_cli(tmp_path_factory.mktemp("template"))
    template.ok("migrate")
    template.start_run("cliapp:total", "1", "--id", "existing")
    return template.folder / "treadle.db"  # the processes have ended: no WAL file is left


@pytest.fixture
def migrated(cli: CLI, template_database: Path) -> CLI:
    shutil.copyfile(template_database, cli.folder / "treadle.db")
    return cli


@pytest.fixture
def start_worker(cli: CLI) -> Iterator[Callable[..., WorkerProcess]]:
    workers: list[WorkerProcess] = []

    def start(*options: str, app: str = "cliapp") -> WorkerProcess:
        worker = WorkerProcess(cli, "--app", app, *options)
        workers.append(worker)
        worker.wait_started()
        return worker

    yield start
    for worker in workers:
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.stop()


def status_of(cli: CLI, run_id: str) -> str:
    status: str = cli.json("show", run_id)["run"]["status"]
    return status


# -- the database --------------------------------------------------------------------------------


def test_migrate_creates_the_schema_then_finds_it_up_to_date(cli: CLI) -> None:
    database = cli.folder / "treadle.db"
    assert not database.exists()
    first = cli.ok("migrate")
    assert f"0 -> {migrations.latest('sqlite')}" in first
    assert database.exists()
    again = cli.ok("migrate", "--database", cli.database)
    assert "up to date" in again


def test_help_documents_the_exit_codes(cli: CLI) -> None:
    text = cli.ok("--help")
    assert "Exit codes" in text
    for code in ("0", "1", "2", "3", "4"):
        assert f"{code}:" in text
    assert "worker must be running" in cli.ok("run", "--help").replace("\n", " ").replace("  ", " ")


# -- workers and runs -----------------------------------------------------------------------------


def test_a_run_started_without_a_worker_is_executed_when_one_starts(
    cli: CLI, start_worker: Callable[..., WorkerProcess]
) -> None:
    run_id = cli.start_run("cliapp:total", "2", "--kwargs", '{"b": 5}')
    assert status_of(cli, run_id) == "pending"
    assert (cli.folder / "treadle.db").exists()  # `run` creates the database

    worker = start_worker(app=str(cli.folder / "cliapp.py"))  # a file path works too
    line = worker.wait_started()
    assert "queues default" in line and cli.database in line and "total v1" in line
    wait_for(lambda: status_of(cli, run_id) == "succeeded", 15, "the run to succeed")
    run = cli.json("show", run_id)["run"]
    assert run["result"] == {"sum": 7, "plus_ten": 17}
    assert run["args"] == [2] and run["kwargs"] == {"b": 5}

    assert worker.stop(timeout=5) == 0


def test_run_each_starts_a_run_per_line_of_a_file_or_of_standard_input(
    cli: CLI, start_worker: Callable[..., WorkerProcess]
) -> None:
    calls = cli.folder / "calls.jsonl"
    calls.write_text('[1]\n\n{"a": 2, "b": 3}\n[4, 5]\n')
    run_ids = cli.ok("run", "cliapp:total", "--each", str(calls)).split()
    assert len(set(run_ids)) == 3
    piped = subprocess.run(
        cli.command("run", "cliapp:total", "--each", "-", "--json"),
        input="[7]\n",
        cwd=cli.folder,
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
    )
    assert piped.returncode == 0, piped.stderr
    (piped_id,) = json.loads(piped.stdout)
    start_worker()
    for run_id in [*run_ids, piped_id]:
        wait_for(lambda r=run_id: status_of(cli, r) == "succeeded", 15, "the runs to succeed")
    sums = [cli.json("show", run_id)["run"]["result"]["sum"] for run_id in [*run_ids, piped_id]]
    assert sums == [2, 5, 9, 8]


@pytest.mark.parametrize(
    ("lines", "extra", "message"),
    [
        ("[1]\n42\n", [], "line 2 of"),
        ("[1]\nnot json\n", [], "line 2 of"),
        ('[1]\n["a", "b", "c"]\n', [], "call 1: workflow 'total' cannot take"),
        ("[1]\n", ["5"], "give it no ARG"),
        ("[1]\n", ["--wait"], "give it no ARG"),
    ],
)
def test_run_each_refuses_bad_lines_and_starts_nothing(
    cli: CLI, lines: str, extra: list[str], message: str
) -> None:
    calls = cli.folder / "calls.jsonl"
    calls.write_text(lines)
    done = cli("run", "cliapp:total", "--each", str(calls), *extra)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    if (cli.folder / "treadle.db").exists():  # made once the lines were read
        assert cli.json("runs") == []
    missing = cli("run", "cliapp:total", "--each", str(cli.folder / "nope.jsonl"))
    assert missing.returncode == 2 and "could not read" in missing.stderr


def test_run_wait_prints_the_result_or_the_error_and_exits_accordingly(
    cli: CLI, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker("--log-format", "json", "--log-level", "info")

    done = cli("run", "cliapp:total", "1", "--wait", "--timeout", "20")
    assert done.returncode == 0, done.stderr
    run_id, result = done.stdout.strip().splitlines()
    assert json.loads(result) == {"sum": 2, "plus_ten": 12}
    assert status_of(cli, run_id) == "succeeded"

    as_json = cli.json("run", "cliapp:total", "4", "--wait")
    assert as_json["status"] == "succeeded" and as_json["result"]["sum"] == 5

    flag = cli.folder / "red-flag"
    flag.touch()
    failed = cli("run", "cliapp:flaky", json.dumps(str(flag)), "--wait")
    assert failed.returncode == 1
    assert "ValueError" in failed.stderr and "flag red-flag is up" in failed.stderr
    assert failed.stderr.startswith("error: ") and "Traceback" not in failed.stderr

    waiting = cli("run", "cliapp:approval", '"ada"', "--id", "approval-1", "--timeout", "0.5")
    assert waiting.returncode == 3
    assert "still" in waiting.stderr and "approval-1" in waiting.stderr
    assert status_of(cli, "approval-1") == "waiting"  # it goes on

    assert worker.stop(timeout=5) == 0
    # --log-format json: every log line the worker wrote is one JSON object.
    records = [json.loads(line) for line in worker.stderr().splitlines() if line.strip()]
    assert records, "the worker logged nothing at info level"
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any(r["logger"] == "treadle.worker" and "started" in r["message"] for r in records)


def test_signal_cancel_and_retry(cli: CLI, start_worker: Callable[..., WorkerProcess]) -> None:
    start_worker()
    cli.start_run("cliapp:approval", '"ada"', "--id", "approve-me")
    wait_for(lambda: status_of(cli, "approve-me") == "waiting", 15, "the run to wait")
    assert "approve" in cli.ok("signal", "approve-me", "approve", '{"ok": true}')
    # Starting the same id again starts nothing and, with --wait, follows the first run.
    followed = cli("run", "cliapp:approval", '"bob"', "--id", "approve-me", "--wait")
    assert followed.returncode == 0, followed.stderr
    assert "exists already" in followed.stderr
    assert json.loads(followed.stdout.splitlines()[-1]) == {
        "who": "ada",
        "decision": {"ok": True},
    }

    cli.start_run("cliapp:approval", '"eve"', "--id", "cancel-me")
    assert "cancelled" in cli.ok("cancel", "cancel-me")
    assert status_of(cli, "cancel-me") == "cancelled"
    again = cli("cancel", "cancel-me")
    assert again.returncode == 2 and "nothing to cancel" in again.stderr
    late = cli("signal", "cancel-me", "approve", "true")
    assert late.returncode == 2 and "no more signals" in late.stderr

    flag = cli.folder / "flag"
    flag.touch()
    failed = cli("run", "cliapp:flaky", json.dumps(str(flag)), "--id", "retry-me", "--wait")
    assert failed.returncode == 1
    not_yet = cli("retry", "approve-me")
    assert not_yet.returncode == 2 and "only failed or timed-out" in not_yet.stderr
    flag.unlink()
    assert "pending again" in cli.ok("retry", "retry-me")
    wait_for(lambda: status_of(cli, "retry-me") == "succeeded", 15, "the retried run")
    assert cli.json("show", "retry-me")["run"]["result"] == "clear"


def test_runs_and_show_as_tables_and_json(
    cli: CLI, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker()
    ids = [cli.start_run("cliapp:total", str(n)) for n in range(3)]
    flag = cli.folder / "flag"
    flag.touch()
    failed_id = cli.start_run("cliapp:flaky", json.dumps(str(flag)))
    wait_for(
        lambda: all(run["status"] in ("succeeded", "failed") for run in cli.json("runs")),
        15,
        "the runs to finish",
    )
    assert worker.stop(timeout=5) == 0

    table = cli.ok("runs")
    for header in ("id", "workflow", "version", "status", "created", "duration", "queue"):
        assert header in table
    lines = [line for line in table.splitlines() if any(i in line for i in ids)]
    assert len(lines) == 3 and all("succeeded" in line and "total" in line for line in lines)
    assert failed_id in table and "failed" in table

    listed = cli.json("runs")
    assert [run["id"] for run in listed] == [failed_id, *reversed(ids)]  # newest first
    assert set(listed[0]) >= {"id", "workflow", "version", "status", "queue", "created_at"}
    assert [run["id"] for run in cli.json("runs", "--status", "failed")] == [failed_id]
    assert len(cli.json("runs", "--workflow", "total")) == 3

    first_page = cli.ok("runs", "--limit", "2")
    cursor = first_page.strip().splitlines()[-1].split("--before ")[1]
    second = cli.json("runs", "--limit", "2", "--before", cursor)
    assert [run["id"] for run in second] == list(reversed(ids))[1:]

    detail = cli.ok("show", ids[0])
    for text in ("history", "run_created", "run_started", "step_completed", "run_succeeded"):
        assert text in detail
    assert '"plus_ten": 11' in detail and "add" in detail
    shown = cli.json("show", failed_id)
    assert shown["run"]["error"]["message"] == "flag flag is up"
    kinds = [event["kind"] for event in shown["history"]]
    assert kinds[0] == "run_created" and kinds[-1] == "run_failed" and "step_failed" in kinds
    assert "ValueError" in cli.ok("show", failed_id)


# -- bad input: a clear message, the right exit code, and nothing changed ------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "nosuchmodule:total"], "cannot import"),
        (["run", "brokenapp:total"], "the settings file is missing"),
        (["run", "cliapp:nope"], "no workflow 'nope'"),
        (["run", "cliapp:plain"], "not a workflow"),
        (["run", "cliapp"], "MODULE:WORKFLOW"),
        (["run", "cliapp:total", "hello"], "'\"text\"'"),
        (["run", "cliapp:total", "1", "--kwargs", "[1]"], "JSON object"),
        (["run", "cliapp:total", "1", "2", "3"], "cannot take these arguments"),
        (["worker", "--app", "nosuchmodule"], "nosuchmodule"),
        (["worker", "--app", "brokenapp"], "RuntimeError: the settings file is missing"),
        (["worker", "--app", "cliapp", "--concurrency", "0"], "concurrency"),
        (["show", "no-such-run"], "no run has the id"),
        (["signal", "no-such-run", "go"], "no run has the id"),
        (["signal", "no-such-run", "go", "yes"], "'\"text\"'"),
        (["cancel", "no-such-run"], "no run has the id"),
        (["retry", "no-such-run"], "no run has the id"),
        (["runs", "--status", "bogus"], "unknown status"),
        (["run", "cliapp:total", "1", "--id", "has space"], "white space"),
    ],
)
def test_bad_input_exits_2_and_leaves_the_database_unchanged(
    migrated: CLI, args: list[str], message: str
) -> None:
    cli = migrated
    before = dump(cli.folder / "treadle.db")
    assert any("'existing'" in line for line in before)
    done = cli(*args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert dump(cli.folder / "treadle.db") == before


@pytest.mark.parametrize(
    "args",
    [["runs"], ["show", "x"], ["signal", "x", "go"], ["cancel", "x"], ["retry", "x"]],
)
def test_commands_on_existing_runs_do_not_create_a_database(cli: CLI, args: list[str]) -> None:
    done = cli(*args, "--database", f"sqlite:///{cli.folder / 'typo.db'}")
    assert done.returncode == 2
    assert "no database at" in done.stderr and "treadle migrate" in done.stderr
    assert not (cli.folder / "typo.db").exists()


@pytest.mark.parametrize(
    "args",
    [["runs"], ["show", "x"], ["cancel", "x"], ["migrate"], ["run", "cliapp:total", "1"]],
)
def test_a_file_that_is_not_a_database_exits_4_untouched(cli: CLI, args: list[str]) -> None:
    notes = cli.folder / "notes.txt"
    notes.write_text("shopping list\n")
    done = cli(*args, "--database", f"sqlite:///{notes}")
    assert done.returncode == 4, done.stderr
    assert done.stderr.startswith("error: ") and "not a SQLite database" in done.stderr
    assert "Traceback" not in done.stderr
    assert notes.read_text() == "shopping list\n"


@pytest.mark.parametrize(
    "args", [["runs"], ["show", "x"], ["migrate"], ["run", "cliapp:total", "1"]]
)
def test_another_applications_database_exits_4_with_its_data_unchanged(
    cli: CLI, args: list[str]
) -> None:
    other = cli.folder / "shop.db"
    connection = sqlite3.connect(other)
    with connection:
        connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        connection.execute("INSERT INTO customers (name) VALUES ('Ada')")
    connection.close()
    before = dump(other)
    done = cli(*args, "--database", f"sqlite:///{other}")
    assert done.returncode == 4, done.stderr
    assert "another application" in done.stderr and "customers" in done.stderr
    assert dump(other) == before


def test_a_worker_on_a_file_that_is_not_a_database_exits_4(cli: CLI) -> None:
    notes = cli.folder / "notes.txt"
    notes.write_text("shopping list\n")
    done = cli("worker", "--app", "cliapp", "--database", f"sqlite:///{notes}")
    assert done.returncode == 4, done.stderr
    assert "not a SQLite database" in done.stderr
    assert notes.read_text() == "shopping list\n"
