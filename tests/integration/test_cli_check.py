"""``treadle check``, run as a real process on modules, PNML files and bad input.

What is tested is what a user types: the findings and their witnesses, one summary line per
definition, ``--json`` (one object per line), ``--max-states``, ``--workflow``, and the exit
codes (0 clean, 1 an error finding, 2 bad input).
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import treadle as tr

ROOT = Path(__file__).resolve().parents[2]
MCC = ROOT.parent / "shared" / "mcc"
EXAMPLES = ROOT / "examples"
PROCESS_TIMEOUT = 120.0

NETS = """
from __future__ import annotations

import treadle as tr

T = tr.Transition


def ones(names):
    return dict.fromkeys(names.split(","), 1)


def wf(name, arcs, places):
    return tr.Net(
        name=name,
        places=tuple(places.split(",")),
        transitions=tuple(
            T(name=t, inputs=ones(pre), outputs=ones(post)) for t, (pre, post) in arcs.items()
        ),
        initial={"i": 1},
        final={"o": 1},
    )


sound = wf(
    "and_split_join",
    {"split": ("i", "p1,p2"), "a": ("p1", "p3"), "b": ("p2", "p4"), "join": ("p3,p4", "o")},
    "i,p1,p2,p3,p4,o",
)
deadlock = wf("xor_and", {"a": ("i", "p1"), "b": ("i", "p2"), "join": ("p1,p2", "o")}, "i,p1,p2,o")
unbounded = wf(
    "spawn",
    {"start": ("i", "p1"), "spawn": ("p1", "p1,p2"), "stop": ("p1", "o"), "child": ("p2", "o")},
    "i,p1,p2,o",
)
"""

SOUND_ONLY = """
from nets import sound
"""

DEADLOCK_ONLY = """
from nets import deadlock as order
"""

UNBOUNDED_ONLY = """
from nets import unbounded
"""

WORKFLOWS = """
from __future__ import annotations

import treadle as tr


@tr.step
def charge(order_id: str, amount: int) -> str:
    return f"receipt-{order_id}"


@tr.workflow
async def billing(ctx: tr.Context, order_id: str) -> str:
    return await ctx.step(charge, order_id, 10)
"""

MANY = """
from __future__ import annotations

import treadle as tr
import workflows  # registers billing (and its step) on import

from nets import sound, deadlock


class Flowish:
    '''Stands in for a flow: it compiles to a net.'''

    def to_net(self):
        return sound


class NetWorkflow:
    '''Stands in for a registered net workflow: it holds its net.'''

    net = deadlock


flow = Flowish()
held = NetWorkflow()
also_sound = sound  # the same object twice is checked once


@tr.workflow
async def fulfil(ctx: tr.Context, order_id: str) -> str:
    return await ctx.step(workflows.charge, order_id)
"""

BAD_FLOW = """
import treadle as tr

from nets import sound


class Flowish:
    def to_net(self):
        return tr.Net(places=("a",), transitions=(tr.Transition(name="t", inputs={"b": 1}),))


flow = Flowish()
"""

FLOWS = """
from __future__ import annotations

import treadle as tr

from nets import sound, deadlock


@tr.step
def fetch(source: str) -> list[int]:
    return [1, 2, 3]


@tr.step
def total(values: list[int]) -> int:
    return sum(values)


pipeline = tr.Flow("pipeline")
pipeline.task(total, after=pipeline.task(fetch))

registered_flow = tr.workflow(pipeline, name="pipeline_run")
registered_net = tr.workflow(sound, name="sound_run")
risky = tr.workflow(deadlock, name="risky_run", allow_unsound=True)


def register_later():
    return tr.workflow(sound, name="registered_in_a_function")


register_later()
"""

REFUSED = """
import treadle as tr

from nets import deadlock

refused = tr.workflow(deadlock, name="refused_run")
"""

NOTHING = """
VALUE = 1
"""

BROKEN = """
raise RuntimeError("the settings file is missing")
"""


class Check:
    """Runs ``python -m treadle check`` in a folder that holds the test modules."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TREADLE_")}
        self.env["PYTHONPATH"] = str(folder)

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "treadle", "check", *args],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=PROCESS_TIMEOUT,
        )

    def json(self, *args: str, code: int) -> list[dict[str, Any]]:
        done = self(*args, "--json")
        assert done.returncode == code, done.stdout + done.stderr
        assert done.stderr == ""
        return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.fixture
def check(tmp_path: Path) -> Check:
    for name, text in {
        "nets": NETS,
        "sound_only": SOUND_ONLY,
        "deadlock_only": DEADLOCK_ONLY,
        "unbounded_only": UNBOUNDED_ONLY,
        "workflows": WORKFLOWS,
        "many": MANY,
        "nothing": NOTHING,
        "bad_flow": BAD_FLOW,
        "flows": FLOWS,
        "refused": REFUSED,
        "broken": BROKEN,
    }.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(text))
    return Check(tmp_path)


def mcc(name: str) -> Path:
    path = MCC / f"{name}.pnml"
    # The MCC nets are read from shared/ beside the clone, never copied: missing is a failure.
    assert path.exists(), f"{path} is missing: shared/mcc must sit beside the repository"
    return path


def oracle() -> dict[str, dict[str, int]]:
    figures: dict[str, dict[str, int]] = json.loads((MCC / "oracle.json").read_text())
    return figures


# -- verdicts ------------------------------------------------------------------------------------


def test_a_sound_workflow_net_exits_0(check: Check) -> None:
    done = check("sound_only")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == (
        "sound_only:sound: net and_split_join: 6 markings, 6 edges, bounded, sound workflow "
        "net: ok\n"
    )
    assert done.stderr == ""


def test_a_deadlock_exits_1_and_prints_its_witness(check: Check) -> None:
    done = check("deadlock_only.py")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[:2] == [
        "deadlock_only.py:order: error: deadlock at [p1]: reached by a",
        "deadlock_only.py:order: error: deadlock at [p2]: reached by b",
    ]
    assert (
        "deadlock_only.py:order: error: dead transition join: no reachable marking enables it"
        in lines
    )
    assert lines[-1].endswith(
        "unsound workflow net (failing: option_to_complete, no_dead_transitions): 4 errors"
    )
    [data] = check.json("deadlock_only.py", code=1)
    assert data["source"] == "deadlock_only.py:order"
    assert data["deadlocks"] == [
        {"marking": {"p1": 1}, "witness": ["a"]},
        {"marking": {"p2": 1}, "witness": ["b"]},
    ]
    assert data["dead_transitions"] == ["join"]
    assert data["soundness"]["sound"] is False


def test_an_unbounded_net_is_proven_so_with_a_pumping_witness(check: Check) -> None:
    done = check("unbounded_only")
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "unbounded_only:unbounded: error: unbounded: p2 can grow without limit: reached by "
        "start; then repeat spawn",
        "unbounded_only:unbounded: error: unbounded: o can grow without limit once p2 are "
        "pumped: reached by start, spawn; then repeat child",
        "unbounded_only:unbounded: net spawn: state space not explored, unbounded (p2, o), "
        "unsound workflow net (failing: bounded): 2 errors",
    ]
    [data] = check.json("unbounded_only", code=1)
    assert data["bounded"] is False and data["unbounded_places"] == ["p2", "o"]
    assert data["states"] is None and data["state_bound_hit"] is False


@pytest.mark.parametrize("name", ["Dekker-PT-010", "Philosophers-PT-000005", "SwimmingPool-PT-01"])
def test_an_mcc_pnml_file_matches_the_published_state_space(check: Check, name: str) -> None:
    expected = oracle()[name]
    done = check(str(mcc(name)), "--json")
    assert done.returncode in (0, 1), done.stderr
    [data] = [json.loads(line) for line in done.stdout.splitlines()]
    assert data["source"] == str(mcc(name))
    assert data["name"] == name
    assert data["complete"] is True and data["state_bound_hit"] is False
    assert data["states"] == expected["states"]
    assert data["edges"] == expected["transitions"]
    assert data["bounded"] is True
    assert max(data["place_bounds"].values()) == expected["max_token_in_place"]
    assert done.returncode == (1 if data["errors"] else 0)


def test_philosophers_deadlock_in_text_with_a_full_witness(check: Check) -> None:
    done = check(str(mcc("Philosophers-PT-000005")))
    assert done.returncode == 1
    first = done.stdout.splitlines()[0]
    source = str(mcc("Philosophers-PT-000005"))
    assert first.startswith(f"{source}: error: deadlock at [")
    witness = first.split(": reached by ")[1].split(", ")
    assert len(witness) == 5  # every philosopher takes one fork
    assert done.stdout.splitlines()[-1] == (
        f"{source}: net Philosophers-PT-000005: 243 markings, 945 edges, bounded: 2 errors"
    )


def test_the_state_bound_is_a_warning_and_exit_0(check: Check) -> None:
    source = str(mcc("Dekker-PT-010"))
    done = check(source, "--max-states", "100")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{source}: warning: state bound hit after ")
    assert lines[-1].endswith(": ok, 1 warning")
    [data] = check.json(source, "--max-states", "100", code=0)
    assert data["state_bound_hit"] is True and data["complete"] is False
    assert data["max_states"] == 100
    assert 100 <= data["states"] < oracle()["Dekker-PT-010"]["states"]


def test_a_module_with_several_definitions(check: Check) -> None:
    reports = check.json("many", code=1)
    assert [(r["source"], r["kind"], r["ok"]) for r in reports] == [
        ("many:sound", "net", True),
        ("many:deadlock", "net", False),
        ("many:flow", "net", True),
        ("many:held", "net", False),
        ("many:fulfil", "function", False),
        ("workflows:billing", "function", True),  # registered by importing many
    ]
    fulfil = reports[4]
    assert fulfil["steps"] == ["charge"]
    assert fulfil["findings"][0]["kind"] == "arguments"
    assert fulfil["findings"][0]["file"].endswith("many.py")
    done = check("many")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert "many.py:" in "\n".join(lines)  # a workflow's finding points at its file and line
    assert lines[-1] == "checked 6 definitions: 9 errors, 0 warnings"


def test_several_targets_in_order_each_once(check: Check) -> None:
    example = str(EXAMPLES / "check_expense_approval.pnml")
    reports = check.json("sound_only", example, "sound_only", code=1)
    assert [r["source"] for r in reports] == ["sound_only:sound", example]


def test_the_example_pnml_file_is_unsound(check: Check) -> None:
    example = str(EXAMPLES / "check_expense_approval.pnml")
    [data] = check.json(example, code=1)
    assert data["name"] == "expense_approval"
    assert data["soundness"]["failing"] == ["option_to_complete", "proper_completion"]
    done = check(example)
    assert (
        f"{example}: error: not sound: 'archived' is marked with other tokens left in "
        "[legal_review, archived]: reached by split, finance_ok, archive"
    ) in done.stdout.splitlines()


def test_no_workflow_skips_soundness_and_workflow_insists(check: Check) -> None:
    [skipped] = check.json("sound_only", "--no-workflow", code=0)
    assert skipped["soundness"] is None
    source = str(mcc("Philosophers-PT-000005"))
    [insisted] = check.json(source, "--workflow", code=1)
    assert insisted["findings"][0]["kind"] == "not_workflow_net"


def test_colour_only_on_a_terminal(check: Check) -> None:
    piped = check("deadlock_only")
    assert "\x1b[" not in piped.stdout
    leader, follower = pty.openpty()
    try:
        process = subprocess.run(
            [sys.executable, "-m", "treadle", "check", "deadlock_only"],
            cwd=check.folder,
            env=check.env,
            stdout=follower,
            stderr=subprocess.DEVNULL,
            timeout=PROCESS_TIMEOUT,
        )
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: all output was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    assert process.returncode == 1
    text = shown.decode()
    assert "\x1b[" in text
    assert "deadlock at [p1]" in text


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["missing.pnml"], "there is no PNML file 'missing.pnml'"),
        (["missing.py"], "there is no Python file 'missing.py'"),
        (["no_such_module"], "No module named 'no_such_module'"),
        (["broken"], "RuntimeError: the settings file is missing"),
        (["nothing"], "nothing defines nothing to check"),
        (["sound_only", "--max-states", "0"], "--max-states"),
    ],
)
def test_bad_input_exits_2_and_says_how_to_fix_it(check: Check, args: list[str], says: str) -> None:
    done = check(*args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert says in done.stderr
    assert done.stdout == ""


def test_xml_that_is_not_pnml_exits_2(check: Check) -> None:
    (check.folder / "page.xml").write_text("<html><body>not a net</body></html>")
    (check.folder / "garbage.pnml").write_bytes(b"\x00\x01 not xml")
    for name, says in (("page.xml", "no <net> element"), ("garbage.pnml", "not well-formed XML")):
        done = check(name)
        assert done.returncode == 2
        assert done.stderr.startswith(f"error: {name}: {says}")
        assert "PNML place/transition net" in done.stderr


def test_a_bad_target_fails_before_any_net_is_checked(check: Check) -> None:
    done = check("sound_only", "missing.pnml")
    assert done.returncode == 2
    assert done.stdout == ""  # the good target was not reported: nothing ran


def test_flows_and_registered_net_workflows_are_checked_as_nets(check: Check) -> None:
    reports = check.json("flows", code=1)
    assert [(r["source"], r["name"], r["kind"], r["ok"]) for r in reports] == [
        ("flows:sound", "and_split_join", "net", True),
        ("flows:deadlock", "xor_and", "net", False),
        ("flows:pipeline", "pipeline", "net", True),
        ("flows:registered_flow", "pipeline", "net", True),
        ("flows:registered_net", "and_split_join", "net", True),
        ("flows:risky", "xor_and", "net", False),
        ("flows:registered_in_a_function", "and_split_join", "net", True),
    ]
    pipeline = reports[2]
    assert pipeline["workflow_net"] is True and pipeline["soundness"]["sound"] is True
    assert pipeline["states"] == reports[3]["states"]


def test_a_net_that_tr_workflow_refuses_at_import_is_an_error_not_bad_input(
    check: Check,
) -> None:
    done = check("refused")
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "refused: error: deadlock at [p1]: reached by a"
    assert lines[-1] == (
        "refused: import stopped: tr.workflow refused an unsound definition (pass "
        "allow_unsound=True to check the rest of the module): 4 errors"
    )


def test_a_flow_that_does_not_compile_fails_before_anything_is_checked(check: Check) -> None:
    done = check("bad_flow")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "names unknown place 'b'; add it to places" in done.stderr


def test_the_python_api_and_the_command_agree(check: Check) -> None:
    source = str(mcc("Philosophers-PT-000005"))
    [data] = check.json(source, code=1)
    report = tr.check(Path(source))
    assert {"source": source, **report.to_json()} == data
