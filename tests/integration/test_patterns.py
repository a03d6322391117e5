"""The workflow control-flow patterns (docs/patterns.md): every example in examples/patterns
runs as a script, and each scenario behaves as the pattern says.

The scripts run as subprocesses, a few at a time, in the background while the scenario
tests run. A scenario test imports the example, runs its ``demo`` on a database of this
module with a worker in this process, and checks what the history recorded: which tasks
completed, in which order and when, which runs were cancelled. Task times are in the
examples' time unit (0.1 s); the checks compare recorded times, never wall-clock guesses.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import itertools
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import treadle as tr

ROOT = Path(__file__).resolve().parents[2]
PATTERNS = ROOT / "examples" / "patterns"
SCRIPTS = sorted(PATTERNS.glob("wcp*.py"))
DOC = ROOT / "docs" / "patterns.md"

# The examples import their shared module by name, as they do when run as scripts.
if str(PATTERNS) not in sys.path:
    sys.path.insert(0, str(PATTERNS))

import pattern_kit as kit  # noqa: E402

Completion = kit.Completion


# -- the scripts --------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def script_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, concurrent.futures.Future[subprocess.CompletedProcess[str]]]]:
    """Every script, started with the module's first test on a pool of four, so that they run
    while the scenario tests do: most of their time is waiting."""
    folder = tmp_path_factory.mktemp("pattern_scripts")

    def run(script: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script)],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=60,
        )

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        yield {script.name: pool.submit(run, script) for script in SCRIPTS}


def test_every_pattern_has_an_example_or_a_reason() -> None:
    """docs/patterns.md rates all 43 patterns; each supported one links an existing script."""
    text = DOC.read_text()
    rows = re.findall(r"^\| (\d+) \| [^|]+ \| (yes|partly|no) \| ([^|]*) \|", text, re.M)
    assert [int(number) for number, _, _ in rows] == list(range(1, 44))
    linked = set()
    for number, rating, example in rows:
        names = re.findall(r"\(\.\./examples/patterns/(wcp\w+\.py)\)", example)
        if rating == "no":
            assert f"### WCP-{number} " in text, f"WCP-{number} is rated no without a reason"
        else:
            assert names, f"WCP-{number} is rated {rating} but links no example"
        linked.update(names)
    assert linked == {script.name for script in SCRIPTS}


# -- the scenarios ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tr.Engine]:
    database = tmp_path_factory.mktemp("patterns") / "patterns.db"
    with tr.Engine(f"sqlite:///{database}") as engine, engine.worker(poll_interval=0.05):
        yield engine


def demo(engine: tr.Engine, name: str) -> dict[str, str]:
    module: ModuleType = importlib.import_module(name)
    runs: dict[str, str] = module.demo(engine)
    return runs


def done(engine: tr.Engine, run_id: str) -> list[Completion]:
    return kit.completions(engine, run_id)


def one(completions: list[Completion], label: str) -> Completion:
    found = [c for c in completions if kit.label(c) == label]
    assert len(found) == 1, f"{label} completed {len(found)} times: {completions}"
    return found[0]


def labels(completions: list[Completion]) -> list[str]:
    return [kit.label(c) for c in completions]


def status(engine: tr.Engine, run_id: str) -> tr.RunStatus:
    return engine.get(run_id).status


def result(engine: tr.Engine, run_id: str) -> Any:
    return engine.get(run_id).result


def kinds(engine: tr.Engine, run_id: str, kind: tr.EventKind) -> list[tr.Event]:
    return [event for event in engine.history(run_id) if event.kind is kind]


def test_wcp01_sequence(engine: tr.Engine) -> None:
    for run_id in demo(engine, "wcp01_sequence").values():  # the function, then the flow
        a, b, c = tasks = done(engine, run_id)
        assert labels(tasks) == ["A", "B", "C"]
        assert a.finished <= b.started and b.finished <= c.started


def test_wcp02_parallel_split(engine: tr.Engine) -> None:
    (run_id,) = demo(engine, "wcp02_parallel_split").values()
    tasks = done(engine, run_id)
    assert labels(tasks)[0] == "A" and sorted(labels(tasks)[1:]) == ["B", "C"]
    b, c = one(tasks, "B"), one(tasks, "C")
    assert max(b.started, c.started) < min(b.finished, c.finished)  # both started first


def test_wcp03_synchronization(engine: tr.Engine) -> None:
    for run_id in demo(engine, "wcp03_synchronization").values():  # the function, the flow
        tasks = done(engine, run_id)
        b, c, d = one(tasks, "B"), one(tasks, "C"), one(tasks, "D")
        assert b.finished < c.finished <= d.started


def test_wcp04_05_exclusive_choice_and_simple_merge(engine: tr.Engine) -> None:
    runs = demo(engine, "wcp04_05_exclusive_choice")
    for prefix in ("", "as a flow, "):
        assert labels(done(engine, runs[f"{prefix}x=1"])) == ["A", "B", "D"]
        assert labels(done(engine, runs[f"{prefix}x=-1"])) == ["A", "C", "D"]


def test_wcp06_07_multi_choice_and_synchronizing_merge(engine: tr.Engine) -> None:
    runs = demo(engine, "wcp06_07_multi_choice")
    for prefix, first in (("", []), ("as a flow, ", ["A"])):  # the flow's A passes c1, c2 on
        both = done(engine, runs[f"{prefix}c1=True, c2=True"])
        assert sorted(labels(both)) == sorted([*first, "B", "C", "D"])
        assert one(both, "D").started >= max(one(both, "B").finished, one(both, "C").finished)
        only_b = done(engine, runs[f"{prefix}c1=True, c2=False"])
        assert labels(only_b) == [*first, "B", "D"]
        assert one(only_b, "D").started - one(only_b, "B").finished < 4 * kit.UNIT  # not C's 5
        assert labels(done(engine, runs[f"{prefix}c1=False, c2=True"])) == [*first, "C", "D"]


def test_wcp08_multi_merge(engine: tr.Engine) -> None:
    (run_id,) = demo(engine, "wcp08_multi_merge").values()
    tasks = done(engine, run_id)
    b, c = one(tasks, "B"), one(tasks, "C")
    d_b, d_c = one(tasks, "D#B"), one(tasks, "D#C")  # D twice, once per arrival
    assert b.finished <= d_b.started < c.finished  # not synchronized with C
    assert c.finished <= d_c.started


def test_wcp09_30_structured_partial_join(engine: tr.Engine) -> None:
    runs = demo(engine, "wcp09_30_structured_partial_join")
    discriminator, partial = runs.values()
    tasks = done(engine, discriminator)
    d = one(tasks, "D#B")  # once, triggered by the first arrival only
    assert one(tasks, "B").finished <= d.started < one(tasks, "C").finished
    assert result(engine, discriminator)["arrivals"] == ["B", "C"]  # C let in, no second D
    tasks = done(engine, partial)
    d = one(tasks, "D#B+C")
    assert one(tasks, "C").finished <= d.started < one(tasks, "E").finished
    assert result(engine, partial)["arrivals"] == ["B", "C", "E"]
    assert [label for label in labels(tasks) if label.startswith("D")] == ["D#B+C"]


def test_wcp10_arbitrary_cycles(engine: tr.Engine) -> None:
    runs = demo(engine, "wcp10_arbitrary_cycles")
    out_through_c, out_through_b = runs.values()
    assert labels(done(engine, out_through_c)) == ["A", "B", "C", "B", "C", "E"]
    assert labels(done(engine, out_through_b)) == ["A", "B", "C", "B", "D"]


def test_wcp11_implicit_termination(engine: tr.Engine) -> None:
    (run_id,) = demo(engine, "wcp11_implicit_termination").values()
    tasks = done(engine, run_id)
    assert labels(tasks) == ["A", "B", "C"]
    info = engine.get(run_id)
    assert info.status is tr.RunStatus.SUCCEEDED
    assert info.finished_at is not None and info.finished_at >= one(tasks, "C").finished


def test_wcp12_mi_without_synchronization(engine: tr.Engine) -> None:
    (run_id,) = demo(engine, "wcp12_mi_without_synchronization").values()
    tasks = done(engine, run_id)
    instances = [c for c in tasks if c.task == "B"]
    assert sorted(labels(instances)) == ["B#0", "B#1", "B#2"]
    parent_end = engine.get(run_id).finished_at
    assert parent_end is not None
    assert one(tasks, "C").finished < parent_end < min(c.finished for c in instances)


def test_wcp13_14_mi_with_a_priori_knowledge(engine: tr.Engine) -> None:
    runs = demo(engine, "wcp13_14_mi_a_priori")
    for run_id, count in zip(runs.values(), (3, 4, 0, 4, 0), strict=True):
        tasks = done(engine, run_id)
        assert sorted(labels(tasks)) == [f"B#{i}" for i in range(count)] + ["C"]
        assert labels(tasks)[-1] == "C"
        assert all(c.finished <= one(tasks, "C").started for c in tasks if c.task == "B")


def test_wcp15_mi_without_a_priori_run_time_knowledge(engine: tr.Engine) -> None:
    (run_id,) = demo(engine, "wcp15_mi_without_a_priori_knowledge").values()
    tasks = done(engine, run_id)
    instances = {c.result: c for c in tasks if c.task == "B"}
    assert sorted(instances) == ["B#0", "B#1", "B#2"]
    assert instances["B#2"].started < instances["B#0"].finished  # added while they ran
    assert one(tasks, "C").started >= max(c.finished for c in instances.values())


def test_wcp16_deferred_choice(engine: tr.Engine) -> None:
    runs = demo(engine, "wcp16_deferred_choice")
    chosen, silent = runs.values()
    assert labels(done(engine, chosen)) == ["C"]
    taken = kinds(engine, chosen, tr.EventKind.SIGNAL_CONSUMED)
    assert [event.name for event in taken] == ["E2"]  # E1, if stored, stays unused
    assert labels(done(engine, silent)) == ["D"]
    assert kinds(engine, silent, tr.EventKind.WAIT_TIMED_OUT)


def test_wcp17_40_interleaved_routing(engine: tr.Engine) -> None:
    runs = demo(engine, "wcp17_40_interleaved_routing")
    for label, run_id in runs.items():
        tasks = done(engine, run_id)
        assert sorted(labels(tasks)) == ["B", "C", "D"]
        for earlier, later in itertools.pairwise(tasks):
            assert earlier.finished <= later.started, f"{label}: {earlier} overlaps {later}"
        if label.startswith("WCP-17"):
            assert labels(tasks).index("B") < labels(tasks).index("D")


def test_wcp18_milestone(engine: tr.Engine) -> None:
    (run_id,) = demo(engine, "wcp18_milestone").values()
    assert result(engine, run_id) == [
        "B refused: the milestone is before",
        "B",
        "B refused: the milestone is expired",
    ]
    assert labels(done(engine, run_id)).count("B") == 1


def test_wcp19_cancel_task(engine: tr.Engine) -> None:
    (run_id,) = demo(engine, "wcp19_cancel_task").values()
    assert labels(done(engine, run_id)) == ["A", "C"]
    (b,) = kit.children(engine, run_id)
    assert b.status is tr.RunStatus.CANCELLED
    assert status(engine, run_id) is tr.RunStatus.SUCCEEDED


def test_wcp20_cancel_case(engine: tr.Engine) -> None:
    (run_id,) = demo(engine, "wcp20_cancel_case").values()
    assert status(engine, run_id) is tr.RunStatus.CANCELLED
    assert done(engine, run_id) == []  # B and C were running: their results were dropped
    assert kinds(engine, run_id, tr.EventKind.STEP_COMPLETED) == []


def test_wcp21_structured_loop(engine: tr.Engine) -> None:
    runs = demo(engine, "wcp21_structured_loop")
    while_run, repeat_run, flow_run = runs.values()
    assert labels(done(engine, while_run)) == ["B#0", "B#1", "B#2"]
    assert labels(done(engine, repeat_run)) == ["B#0"]
    assert labels(done(engine, flow_run)) == ["B", "B", "B"]
    assert result(engine, flow_run) == 3


def test_wcp22_recursion(engine: tr.Engine) -> None:
    (run_id,) = demo(engine, "wcp22_recursion").values()
    assert result(engine, run_id) == 24
    nested = kit.family(engine, run_id)
    assert len(nested) == 4
    infos = [engine.get(rid) for rid in nested]
    assert [info.args for info in infos] == [[4], [3], [2], [1]]
    assert [info.parent_id for info in infos[1:]] == nested[:-1]


def test_wcp23_24_transient_and_persistent_triggers(engine: tr.Engine) -> None:
    runs = demo(engine, "wcp23_24_triggers")
    persistent, transient = runs.values()
    assert labels(done(engine, persistent)) == ["A", "B#early"]
    assert result(engine, transient) == {"B": "B#fresh", "discarded": ["early"]}
    assert labels(done(engine, transient)) == ["A", "B#fresh"]


def test_wcp25_cancel_region(engine: tr.Engine) -> None:
    (run_id,) = demo(engine, "wcp25_cancel_region").values()
    assert labels(done(engine, run_id)) == ["D"]  # B and C withdrawn, D unaffected
    (region,) = kit.children(engine, run_id)
    assert region.status is tr.RunStatus.CANCELLED
    assert result(engine, run_id) == {"region": "cancelled", "D": "D"}


def test_wcp26_27_cancel_and_complete_mi_activity(engine: tr.Engine) -> None:
    runs = demo(engine, "wcp26_27_cancel_complete_mi")
    cancelled, completed = runs.values()
    assert labels(done(engine, cancelled)) == ["C"]
    (activity,) = kit.children(engine, cancelled)
    instances = kit.children(engine, activity.id)
    assert len(instances) == 5
    assert {i.status for i in instances} == {tr.RunStatus.CANCELLED}

    tasks = done(engine, completed)
    assert labels(tasks) == ["B#0", "B#1", "C"]
    (activity,) = kit.children(engine, completed)
    assert activity.status is tr.RunStatus.SUCCEEDED  # completed, not cancelled
    assert [i.status.value for i in kit.children(engine, activity.id)] == (
        ["succeeded"] * 2 + ["cancelled"] * 3
    )
    assert result(engine, completed)["B"] == ["B#0", "B#1", None, None, None]


def test_wcp28_31_blocking_partial_join(engine: tr.Engine) -> None:
    runs = demo(engine, "wcp28_31_blocking_partial_join")
    discriminator, partial = runs.values()
    # The next round's B arrives before this round's C: it is held, then fires round 2.
    order = labels(done(engine, discriminator))
    assert order.count("D#0") == 1 and order.count("D#1") == 1
    assert order.index("D#0") < order.index("B#1") < order.index("C#0") < order.index("D#1")
    assert result(engine, discriminator) == {"fired": ["D#0", "D#1"]}

    order = labels(done(engine, partial))
    assert order.count("D#0") == 1 and order.count("D#1") == 1
    assert order.index("C#1") < order.index("E#0") < order.index("D#1")
    assert sorted(label for label in order if not label.startswith("D")) == [
        "B#0",
        "B#1",
        "C#0",
        "C#1",
        "E#0",
        "E#1",
    ]


def test_wcp29_32_cancelling_partial_join(engine: tr.Engine) -> None:
    runs = demo(engine, "wcp29_32_cancelling_partial_join")
    discriminator, partial = runs.values()
    assert labels(done(engine, discriminator)) == ["B", "D#B"]  # C never completes
    b, c = kit.children(engine, discriminator)
    assert [b.status.value, c.status.value] == ["succeeded", "cancelled"]
    (decided,) = kinds(engine, discriminator, tr.EventKind.FIRST_DECIDED)
    assert decided.data["winners"] == [0] and decided.data["cancelled"] == [c.id]
    assert labels(done(engine, partial)) == ["B", "C", "D#B+C"]
    assert [c.status.value for c in kit.children(engine, partial)] == [
        "succeeded",
        "succeeded",
        "cancelled",
    ]


def test_wcp33_generalised_and_join(engine: tr.Engine) -> None:
    (run_id,) = demo(engine, "wcp33_generalised_and_join").values()
    tasks = done(engine, run_id)
    assert labels(tasks) == ["B#0", "B#1", "C#0", "D#1"]
    assert result(engine, run_id) == {"fired": 1, "left": {"B": 1}}


def test_wcp34_35_partial_join_for_mi(engine: tr.Engine) -> None:
    runs = demo(engine, "wcp34_35_mi_partial_join")
    static, cancelling = runs.values()
    tasks = done(engine, static)
    instances = sorted((c for c in tasks if c.task == "B"), key=lambda c: c.finished)
    assert len(instances) == 5  # the other two finished too, ignored
    assert instances[2].finished <= one(tasks, "C").started < instances[3].finished

    tasks = done(engine, cancelling)
    assert labels(tasks) == ["B#0", "B#1", "B#2", "C"]
    assert [c.status.value for c in kit.children(engine, cancelling)] == (
        ["succeeded"] * 3 + ["cancelled"] * 2
    )


def test_wcp36_dynamic_partial_join_for_mi(engine: tr.Engine) -> None:
    (run_id,) = demo(engine, "wcp36_dynamic_partial_join_mi").values()
    tasks = done(engine, run_id)
    instances = sorted((c for c in tasks if c.task == "B"), key=lambda c: c.finished)
    assert len(kit.children(engine, run_id)) == 4  # 2 at the start, 2 added
    assert instances[2].finished <= one(tasks, "C").started < instances[3].finished
    assert result(engine, run_id)["started"] == 4


def test_wcp37_local_synchronizing_merge(engine: tr.Engine) -> None:
    runs = demo(engine, "wcp37_local_synchronizing_merge")
    for run_id, live in zip(runs.values(), (["B", "C"], ["B"], ["C"]), strict=True):
        tasks = done(engine, run_id)
        expected = sorted([*live, *(f"E#{branch}" for branch in live), "D"])
        assert sorted(labels(tasks)) == expected
        d = one(tasks, "D")
        assert all(c.finished <= d.started for c in tasks if c is not d)


def test_wcp38_general_synchronizing_merge(engine: tr.Engine) -> None:
    runs = demo(engine, "wcp38_general_synchronizing_merge")
    expected = [["B", "C#0", "C#1", "C#2", "D"], ["B", "D"], ["C#0", "C#1", "D"]]
    for run_id, want in zip(runs.values(), expected, strict=True):
        tasks = done(engine, run_id)
        assert sorted(labels(tasks)) == want
        d = one(tasks, "D")
        assert all(c.finished <= d.started for c in tasks if c is not d)


def test_wcp39_critical_section(engine: tr.Engine) -> None:
    (run_id,) = demo(engine, "wcp39_critical_section").values()
    tasks = done(engine, run_id)
    b, c, d, e = (one(tasks, name) for name in "BCDE")
    region_1, region_2 = (b.started, c.finished), (d.started, d.finished)
    assert region_1[1] <= region_2[0] or region_2[1] <= region_1[0]
    assert e.started < min(region_1[1], region_2[1])  # E ran alongside a region


def test_wcp41_42_thread_split_and_merge(engine: tr.Engine) -> None:
    (run_id,) = demo(engine, "wcp41_42_thread_split_merge").values()
    tasks = done(engine, run_id)
    threads = [c for c in tasks if c.task == "B"]
    assert sorted(labels(threads)) == ["B#0", "B#1", "B#2"]
    assert max(t.started for t in threads) < min(t.finished for t in threads)
    assert one(tasks, "D").started >= max(t.finished for t in threads)


def test_wcp43_explicit_termination(engine: tr.Engine) -> None:
    (run_id,) = demo(engine, "wcp43_explicit_termination").values()
    assert status(engine, run_id) is tr.RunStatus.SUCCEEDED
    assert labels(done(engine, run_id)) == ["C"]
    (b,) = kit.children(engine, run_id)
    assert b.status is tr.RunStatus.CANCELLED
    assert b.error is not None and b.error["message"] == f"cancelled by parent run {run_id}"


# -- the scripts, once more: their outcomes -----------------------------------------------------


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_script_runs(
    script: Path,
    script_runs: dict[str, concurrent.futures.Future[subprocess.CompletedProcess[str]]],
) -> None:
    done = script_runs[script.name].result()
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{script.name} exited {done.returncode}:\n{output}"
    assert "  trace: " in done.stdout, f"{script.name} printed no trace:\n{output}"
    assert "failed" not in done.stdout, output
