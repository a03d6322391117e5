"""``tr.check`` on nets: which inputs it takes, and how its report reads as text and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import treadle as tr
from treadle.checking import report as reports

T = tr.Transition


def wf(name: str, arcs: dict[str, tuple[str, str]], places: str) -> tr.Net:
    """A workflow net from ``{"a": ("i", "p1,p2")}``: transition a takes i, gives p1 and p2."""
    return tr.Net(
        name=name,
        places=tuple(places.split(",")),
        transitions=tuple(
            T(
                name=t,
                inputs=dict.fromkeys(pre.split(","), 1) if pre else {},
                outputs=dict.fromkeys(post.split(","), 1) if post else {},
            )
            for t, (pre, post) in arcs.items()
        ),
        initial={"i": 1},
        final={"o": 1},
    )


SOUND = wf(
    "and_split_join",
    {"split": ("i", "p1,p2"), "a": ("p1", "p3"), "b": ("p2", "p4"), "join": ("p3,p4", "o")},
    "i,p1,p2,p3,p4,o",
)
DEADLOCK = wf("xor_and", {"a": ("i", "p1"), "b": ("i", "p2"), "join": ("p1,p2", "o")}, "i,p1,p2,o")
UNBOUNDED = wf(
    "spawn",
    {"start": ("i", "p1"), "spawn": ("p1", "p1,p2"), "stop": ("p1", "o"), "child": ("p2", "o")},
    "i,p1,p2,o",
)
NOT_WORKFLOW = tr.Net(
    name="cycle",
    places=("a", "b"),
    transitions=(
        T(name="ab", inputs={"a": 1}, outputs={"b": 1}),
        T(name="ba", inputs={"b": 1}, outputs={"a": 1}),
    ),
    initial={"a": 1},
)


def as_json(report: tr.CheckReport) -> Any:
    """The report's JSON after a real round trip: only JSON types survive."""
    return json.loads(json.dumps(report.to_json(), allow_nan=False))


# -- what tr.check takes ---------------------------------------------------------------------------


class Compiles:
    """Stands in for a flow: anything with ``to_net()``."""

    def __init__(self, net: tr.Net) -> None:
        self.name = "compiled"
        self._net = net

    def to_net(self) -> tr.Net:
        return self._net


class Holds:
    """Stands in for a registered net workflow: it exposes ``.net``."""

    def __init__(self, net: tr.Net) -> None:
        self.net = net


def test_a_net_a_to_net_object_and_a_net_holder_give_the_same_analysis() -> None:
    direct = tr.check(DEADLOCK)
    for wrapped in (Compiles(DEADLOCK), Holds(DEADLOCK)):
        report = tr.check(wrapped)
        assert report.kind is reports.DefinitionKind.NET
        assert report.to_json() == direct.to_json()


def test_flows_and_registered_nets_are_checked_as_their_nets() -> None:
    local = tr.Registry()
    registered = tr.workflow(DEADLOCK, name="risky", registry=local, allow_unsound=True)
    assert tr.check(registered).to_json() == tr.check(DEADLOCK).to_json()
    # What the registry alone holds of it (a workflow around the body function) is a net too.
    bare = tr.Workflow(registered.definition)
    assert tr.check(bare).to_json() == tr.check(DEADLOCK).to_json()

    @tr.step
    def fetch(source: str) -> list[int]:
        return [1, 2]

    @tr.step
    def total(values: list[int]) -> int:
        return sum(values)

    flow = tr.Flow("pipeline")
    flow.task(total, after=flow.task(fetch))
    report = tr.check(flow)
    assert report.kind is reports.DefinitionKind.NET and report.ok
    assert report.to_json() == tr.check(flow.to_net()).to_json()


def test_a_pnml_path_is_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "order.pnml"
    path.write_text(DEADLOCK.to_pnml())
    from_path = tr.check(path)
    from_text = tr.check(str(path))
    assert from_path.to_json() == from_text.to_json() == tr.check(DEADLOCK).to_json()


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (42, "cannot check int"),
        ("order.txt", "cannot check str"),
        (tr.Net, "cannot check type"),
        (Compiles, "cannot check type"),
    ],
)
def test_anything_else_is_a_usage_error_that_lists_what_is_accepted(
    value: object, says: str
) -> None:
    with pytest.raises(tr.UsageError, match=says) as caught:
        tr.check(value)
    assert "tr.Net" in str(caught.value) and ".pnml" in str(caught.value)


def test_to_net_must_return_a_net() -> None:
    class Wrong:
        def to_net(self) -> object:
            return "not a net"

    with pytest.raises(tr.UsageError, match=r"Wrong.to_net\(\) returned str, not a tr.Net"):
        tr.check(Wrong())


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "10"])
def test_max_states_must_be_a_positive_int(bad: object) -> None:
    with pytest.raises(tr.UsageError, match="max_states must be a positive int"):
        tr.check(SOUND, max_states=bad)  # type: ignore[arg-type]


def test_workflow_must_be_a_bool_or_none() -> None:
    with pytest.raises(tr.UsageError, match="workflow must be True, False or None"):
        tr.check(SOUND, workflow="yes")  # type: ignore[arg-type]


def test_a_missing_pnml_file_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(tr.UsageError, match="there is no PNML file") as caught:
        tr.check(tmp_path / "missing.pnml")
    assert str(tmp_path) in str(caught.value)


def test_a_file_that_is_not_pnml_is_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "page.pnml"
    path.write_text("<html><body/></html>")
    with pytest.raises(tr.UsageError, match=r"page.pnml: no <net> element") as caught:
        tr.check(path)
    assert isinstance(caught.value, tr.UsageError)
    assert "place/transition net" in str(caught.value)


# -- the report --------------------------------------------------------------------------------


def test_a_sound_workflow_net() -> None:
    report = tr.check(SOUND)
    assert report.ok and report.errors == 0 and report.findings == ()
    assert (
        report.summary()
        == "net and_split_join: 6 markings, 6 edges, bounded, sound workflow net: ok"
    )
    data = as_json(report)
    assert data["states"] == 6 and data["complete"] is True and data["state_bound_hit"] is False
    assert data["bounded"] is True and data["unbounded_places"] == []
    assert data["place_bounds"] == {"i": 1, "p1": 1, "p2": 1, "p3": 1, "p4": 1, "o": 1}
    assert data["deadlocks"] == [] and data["dead_transitions"] == []
    assert data["workflow_net"] is True
    assert data["soundness"] == {
        "sound": True,
        "source": "i",
        "sink": "o",
        "bounded": True,
        "option_to_complete": True,
        "proper_completion": True,
        "no_dead_transitions": True,
        "failing": [],
    }


def test_deadlocks_come_with_their_witnesses_in_text_and_json() -> None:
    report = tr.check(DEADLOCK)
    assert not report.ok and report.errors == 4
    assert report.format("order.pnml").splitlines() == [
        "order.pnml: error: deadlock at [p1]: reached by a",
        "order.pnml: error: deadlock at [p2]: reached by b",
        "order.pnml: error: dead transition join: no reachable marking enables it",
        "order.pnml: error: not sound: [o] cannot be reached from [i]: reached by the initial "
        "marking",
    ]
    assert report.summary("order.pnml") == (
        "order.pnml: net xor_and: 3 markings, 2 edges, bounded, unsound workflow net "
        "(failing: option_to_complete, no_dead_transitions): 4 errors"
    )
    data = as_json(report)
    assert data["deadlocks"] == [
        {"marking": {"p1": 1}, "witness": ["a"]},
        {"marking": {"p2": 1}, "witness": ["b"]},
    ]
    assert data["dead_transitions"] == ["join"]
    assert data["soundness"]["sound"] is False
    assert data["soundness"]["failing"] == ["option_to_complete", "no_dead_transitions"]
    kinds = [(f["kind"], f["severity"]) for f in data["findings"]]
    assert kinds == [
        ("deadlock", "error"),
        ("deadlock", "error"),
        ("dead_transition", "error"),
        ("option_to_complete", "error"),
    ]
    assert data["findings"][0] == {
        "kind": "deadlock",
        "severity": "error",
        "message": "deadlock at [p1]",
        "subject": None,
        "witness": ["a"],
        "loop": [],
        "marking": {"p1": 1},
        "file": None,
        "line": None,
    }


def test_deadlocks_past_the_reported_witnesses_are_listed_without_one() -> None:
    # Twelve independent choices, each ending in its own dead marking.
    net = tr.Net(
        name="fan",
        places=("start", *(f"end{i}" for i in range(12))),
        transitions=tuple(
            T(name=f"go{i}", inputs={"start": 1}, outputs={f"end{i}": 1}) for i in range(12)
        ),
        initial={"start": 1},
    )
    data = as_json(tr.check(net, workflow=False))
    assert len(data["deadlocks"]) == 12
    with_witness = [d for d in data["deadlocks"] if d["witness"] is not None]
    assert len(with_witness) == 10  # analysis.MAX_WITNESSES
    assert all(len(d["witness"]) == 1 for d in with_witness)
    assert data["findings"][-1]["kind"] == "more"
    assert data["findings"][-1]["message"] == "and 2 more deadlocks"


def test_an_unbounded_net_names_its_places_and_its_pumping_loop() -> None:
    report = tr.check(UNBOUNDED)
    assert report.unbounded_places == ("p2", "o")
    assert report.states is None
    assert report.format().splitlines()[0] == (
        "spawn: error: unbounded: p2 can grow without limit: reached by start; then repeat spawn"
    )
    assert report.summary() == (
        "net spawn: state space not explored, unbounded (p2, o), unsound workflow net "
        "(failing: bounded): 2 errors"
    )
    data = as_json(report)
    assert data["states"] is None and data["edges"] is None
    assert data["state_bound_hit"] is False and data["complete"] is False
    assert data["bounded"] is False and data["unbounded_places"] == ["p2", "o"]
    # Coverability bounds the other places even though the net is unbounded.
    assert {place for place, bound in data["place_bounds"].items() if bound is None} == {"p2", "o"}
    assert all(
        bound == 1 for place, bound in data["place_bounds"].items() if place not in ("p2", "o")
    )
    assert data["findings"][0]["witness"] == ["start"]
    assert data["findings"][0]["loop"] == ["spawn"]
    assert data["soundness"]["sound"] is False and data["soundness"]["failing"] == ["bounded"]
    assert data["soundness"]["option_to_complete"] is None


def test_the_state_bound_is_a_warning_and_the_counts_are_a_lower_bound() -> None:
    chain = tr.Net(
        name="counter",
        places=("p", "q"),
        transitions=(T(name="move", inputs={"p": 1}, outputs={"q": 1}),),
        initial={"p": 50},
    )
    # workflow=False: as a workflow net it would start from [p], one token.
    report = tr.check(chain, max_states=10, workflow=False)
    assert report.ok and report.warnings == 1 and report.state_bound_hit
    assert report.summary().startswith("net counter: state bound hit after ")
    assert report.summary().endswith(": ok, 1 warning")
    data = as_json(report)
    assert data["state_bound_hit"] is True and data["complete"] is False
    assert data["max_states"] == 10
    assert 10 <= data["states"] < 51
    assert data["place_bounds"] == {"p": None, "q": None}  # partial: not claimed
    assert data["dead_transitions"] == []  # not claimed either
    full = as_json(tr.check(chain, workflow=False))
    assert full["states"] == 51 and full["place_bounds"] == {"p": 50, "q": 50}


def test_workflow_false_skips_soundness_and_true_insists_on_it() -> None:
    assert as_json(tr.check(DEADLOCK, workflow=False))["soundness"] is None
    assert as_json(tr.check(DEADLOCK, workflow=False))["workflow_net"] is False
    report = tr.check(NOT_WORKFLOW, workflow=True)
    assert not report.ok
    assert report.findings[0].kind.value == "not_workflow_net"
    assert tr.check(NOT_WORKFLOW).ok  # a live cycle: no finding unless soundness is asked


def test_every_finding_line_parses_as_file_severity_message() -> None:
    for net in (SOUND, DEADLOCK, UNBOUNDED, NOT_WORKFLOW):
        for line in tr.check(net, workflow=True).format("x.pnml").splitlines():
            source, severity, _ = line.split(": ", 2)
            assert source == "x.pnml" and severity in ("error", "warning", "note")
