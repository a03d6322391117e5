"""``treadle net show`` and ``treadle net change``, run as real processes.

A small app registers a net whose first step holds until a flag file exists, so that a run
stays in flight while the commands look at it and change it; a worker process runs it. Both
commands run against SQLite and PostgreSQL, and every kind of bad input must end with exit
code 2 and a message that says what was wrong.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_cli import CLI, WorkerProcess, wait_for

APP = """
from __future__ import annotations

import os
import time

import treadle as tr


@tr.step
def hold(flag: str) -> str:
    give_up = time.monotonic() + 30
    while not os.path.exists(flag) and time.monotonic() < give_up:
        time.sleep(0.05)
    return os.path.basename(flag)


@tr.step
def review(name: str) -> str:
    return f"reviewed {name}"


HELD = tr.Net(
    name="held",
    places=("i", "p", "o"),
    transitions=(
        tr.Transition(name="hold", inputs={"i": 1}, outputs={"p": 1}, step="hold"),
        tr.Transition(name="finish", inputs={"p": 1}, outputs={"o": 1}),
    ),
)
held = tr.workflow(HELD, steps={"hold": hold, "review": review})


@tr.workflow
async def plain(ctx: tr.Context, x: int) -> int:
    return x
"""

REVIEW_FIRST = {
    "remove_transitions": ["finish"],
    "add_transitions": [
        {"name": "finish_reviewed", "inputs": {"p": 1}, "outputs": {"o": 1}, "step": "review"}
    ],
}
DEAD_END = {
    "add_places": ["limbo"],
    "add_transitions": [{"name": "lose", "inputs": {"p": 1}, "outputs": {"limbo": 1}}],
}


@pytest.fixture(params=["sqlite", "postgres"])
def cli(request: pytest.FixtureRequest, tmp_path: Path) -> CLI:
    (tmp_path / "netapp.py").write_text(textwrap.dedent(APP))
    if request.param == "postgres":
        database: str = request.getfixturevalue("postgres_url")
    else:
        database = f"sqlite:///{tmp_path / 'treadle.db'}"
    return CLI(tmp_path, database)


@pytest.fixture
def worker(cli: CLI) -> Iterator[Callable[[], WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start() -> WorkerProcess:
        process = WorkerProcess(cli, "--app", "netapp")
        started.append(process)
        process.wait_started()
        return process

    yield start
    for process in started:
        assert process.stop() == 0, process.stderr()


def start_held(cli: CLI) -> tuple[str, Path]:
    """A run of the held net, and the flag file that lets its first step finish."""
    flag = cli.folder / f"flag-{time.monotonic_ns()}"
    return cli.start_run("netapp:held", json.dumps(str(flag))), flag


def net_state(cli: CLI, run_id: str) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(cli.ok("net", "show", run_id, "--app", "netapp", "--json"))
    return state


def refused(done: subprocess.CompletedProcess[str], *words: str) -> str:
    """The one-line error of a command that must exit 2; it must contain ``words``."""
    assert done.returncode == 2, f"exit {done.returncode}: {done.stdout}{done.stderr}"
    assert done.stdout == "", done.stdout
    for word in words:
        assert word in done.stderr, f"{word!r} not in {done.stderr!r}"
    return done.stderr


def test_net_show_prints_the_case_while_it_runs_and_once_it_ended(
    cli: CLI, worker: Callable[[], WorkerProcess]
) -> None:
    run_id, flag = start_held(cli)
    worker()
    wait_for(lambda: net_state(cli, run_id)["running"] == ["hold"], 15, "'hold' to run")
    text = cli.ok("net", "show", run_id, "--app", "netapp")
    first, *transitions = text.splitlines()
    assert first == (
        f"run {run_id} (held v1) running: 0 firings, 0 changes, marking [i], running hold"
    )
    assert transitions == [
        "net held: 3 places, 2 transitions, initial [i], final [o]",
        "  hold    [i] -> [p]  step hold",
        "  finish  [p] -> [o]  (routing)",
    ]
    state = net_state(cli, run_id)
    assert state["status"] == "running" and state["marking"] == {"i": 1}
    assert [t["name"] for t in state["net"]["transitions"]] == ["hold", "finish"]

    flag.touch()
    wait_for(lambda: net_state(cli, run_id)["status"] == "succeeded", 15, "the run to end")
    state = net_state(cli, run_id)
    assert (state["firings"], state["marking"], state["running"]) == (2, {"o": 1}, [])
    assert "2 firings, 0 changes, marking [o], running nothing" in cli.ok(
        "net", "show", run_id, "--app", "netapp"
    )
    (cli.folder / "change.json").write_text(json.dumps(REVIEW_FIRST))
    late = cli("net", "change", run_id, "--app", "netapp", "--file", "change.json")
    refused(late, f"run {run_id} is already succeeded; its net can no longer change")


def test_net_change_is_checked_sent_and_applied_at_the_next_boundary(
    cli: CLI, worker: Callable[[], WorkerProcess]
) -> None:
    run_id, flag = start_held(cli)
    worker()
    wait_for(lambda: net_state(cli, run_id)["running"] == ["hold"], 15, "'hold' to run")

    # A change to the transition that is running is refused: its firing holds the token.
    (cli.folder / "busy.json").write_text(json.dumps({"remove_transitions": ["hold"]}))
    busy = cli("net", "change", run_id, "--app", "netapp", "--file", "busy.json")
    refused(busy, "transition 'hold' is running: remove it once its firing has completed")

    # One the analysis refuses, read from standard input: the findings say why.
    dead_end = subprocess.run(
        cli.command("net", "change", run_id, "--app", "netapp", "--file", "-"),
        cwd=cli.folder,
        env=cli.env,
        input=json.dumps(DEAD_END),
        capture_output=True,
        text=True,
        timeout=30,
    )
    message = refused(dead_end, f"the change to run {run_id} was refused", "from its marking [i]")
    assert "deadlock at [limbo]: reached by hold, lose" in message

    (cli.folder / "change.json").write_text(json.dumps(REVIEW_FIRST))
    sent = cli.ok("net", "change", run_id, "--app", "netapp", "--file", "change.json")
    assert sent.splitlines()[0] == (
        f"sent the change to run {run_id}; it applies at the next firing boundary"
    )
    assert "  finish_reviewed  [p] -> [o]  step review" in sent
    time.sleep(1.2)  # the run looks for changes at its firing boundaries, at most once a second
    flag.touch()
    wait_for(lambda: net_state(cli, run_id)["status"] == "succeeded", 15, "the run to end")
    assert cli.json("show", run_id)["run"]["result"] == f"reviewed {flag.name}"
    state = net_state(cli, run_id)
    assert state["changes"] == 1
    assert [t["name"] for t in state["net"]["transitions"]] == ["hold", "finish_reviewed"]
    assert "finish_reviewed  [p] -> [o]  step review" in cli.ok(
        "net", "show", run_id, "--app", "netapp"
    )


def test_net_commands_refuse_bad_input_and_say_why(cli: CLI) -> None:
    cli.ok("migrate")
    run_id, _ = start_held(cli)  # no worker: the run waits at its initial marking
    plain = cli.start_run("netapp:plain", "1")
    change = cli.folder / "change.json"
    change.write_text(json.dumps(REVIEW_FIRST))

    for command in (("show",), ("change", "--file", str(change))):
        refused(
            cli("net", *command, "no-such-run", "--app", "netapp"),
            "no run has the id 'no-such-run'",
        )
        refused(
            cli("net", *command, plain, "--app", "netapp"),
            "workflow 'plain' is a durable function, not a flow or net",
        )
    # The module that registers the run's workflow is needed to know its net.
    (cli.folder / "other.py").write_text("import treadle as tr\n")
    refused(
        cli("net", "show", run_id, "--app", "other"),
        "workflow 'held' version '1' is not registered in this process",
        "--app MODULE",
    )
    assert cli("net", "show", run_id).returncode == 2  # --app is required

    files = {
        "": "is empty: write the change as a JSON object",
        '{"add_places": ["x"],}': "is not JSON: Expecting property name enclosed in double "
        "quotes at line 1, column 22",
        '{"add_placez": ["x"]}': "a net change has no field add_placez",
        '["add_places"]': "a net change is a JSON object",
        '{"add_transitions": [{"inputs": {"p": 1}}]}': "a transition is a JSON object with a name",
        '{"add_arcs": [{"source": "p", "target": "finish", "weight": 0}]}': "weight 0 must "
        "be an int >= 1",
        "{}": "the NetChange changes nothing",
    }
    for text, why in files.items():
        change.write_text(text)
        refused(
            cli("net", "change", run_id, "--app", "netapp", "--file", str(change)),
            f"error: the change file {change}",
            why,
        )
    missing = cli("net", "change", run_id, "--app", "netapp", "--file", "nowhere.json")
    assert missing.returncode == 2 and "nowhere.json" in missing.stderr

    # Well-formed changes that the run's net cannot take.
    change.write_text(json.dumps(DEAD_END))
    message = refused(
        cli("net", "change", run_id, "--app", "netapp", "--file", str(change)),
        f"the change to run {run_id} was refused",
        "from its marking [i] the changed net fails the analysis",
    )
    assert "deadlock at [limbo]" in message
    change.write_text(json.dumps({"remove_transitions": ["ship"]}))
    refused(
        cli("net", "change", run_id, "--app", "netapp", "--file", str(change)),
        "net 'held' has no transition 'ship' to remove",
    )
    change.write_text(
        json.dumps(
            {
                "add_transitions": [
                    {"name": "x", "inputs": {"p": 1}, "outputs": {"o": 1}, "step": "nope"}
                ]
            }
        )
    )
    refused(
        cli("net", "change", run_id, "--app", "netapp", "--file", str(change)),
        "transition 'x' runs step 'nope', which is not bound",
    )
    # Nothing was sent: the run's history has no change signal.
    history = cli.json("show", run_id)["history"]
    assert not [e for e in history if e.get("name") == "treadle.net_change"]
