"""The seven workflow nets of ``shared/wfnets.md``: verdicts, failing conditions, witnesses."""

from __future__ import annotations

import nets_samples as wf
import pytest

from treadle.core.nets import analysis, findings, model

Kind = findings.Kind


@pytest.mark.parametrize(
    ("net", "states", "sound", "failing"),
    [
        (wf.N1, 6, True, ()),
        (wf.N2, 9, False, ("option_to_complete", "proper_completion")),
        (wf.N3, 3, False, ("option_to_complete", "no_dead_transitions")),
        (wf.N4, 4, False, ("no_dead_transitions",)),
        (wf.N5, 0, False, ("bounded",)),
        (wf.N6, 4, True, ()),
        (wf.N7, 3, True, ()),
    ],
    ids=lambda value: value.name if isinstance(value, model.Net) else None,
)
def test_verdicts(net: model.Net, states: int, sound: bool, failing: tuple[str, ...]) -> None:
    report = analysis.analyse(net)
    assert report.soundness is not None
    assert report.soundness.sound is sound
    assert report.soundness.failing == failing
    assert report.states == states
    assert report.ok is sound


def test_n2_witnesses_are_shortest_and_replay() -> None:
    report = analysis.analyse(wf.N2)
    improper = next(f for f in report.findings if f.kind is Kind.PROPER_COMPLETION)
    assert improper.witness is not None and len(improper.witness) == 3  # split, a|b, end
    marking: dict[str, int] = {"i": 1}
    for name in improper.witness:
        marking = wf.N2.fire(marking, name)
    assert improper.marking == marking
    assert marking["o"] == 1 and len(marking) == 2
    assert report.deadlocks == ({"o": 2},)


def test_n3_names_both_deadlocks_and_the_dead_join() -> None:
    report = analysis.analyse(wf.N3)
    text = report.format("n3.pnml")
    assert "n3.pnml: error: deadlock at [p1]: reached by a" in text
    assert "n3.pnml: error: deadlock at [p2]: reached by b" in text
    assert "n3.pnml: error: dead transition join" in text
    assert report.dead_transitions == ("join",)


def test_n4_is_unsound_only_by_its_dead_transition() -> None:
    report = analysis.analyse(wf.N4)
    assert [f.kind for f in report.findings] == [Kind.DEAD_TRANSITION]
    assert report.findings[0].subject == "both"


def test_n5_terminates_through_coverability() -> None:
    report = analysis.analyse(wf.N5, max_states=10**9)  # a plain search would never end
    assert report.bounded is False
    proofs = [f for f in report.findings if f.kind is Kind.UNBOUNDED]
    assert proofs[0].subject == "p2"
    assert proofs[0].witness == ("start",)
    assert proofs[0].loop == ("spawn",)
    assert {f.subject for f in proofs} == {"p2", "o"}


def test_soundness_can_be_asked_of_a_net_that_is_not_a_workflow_net() -> None:
    net = model.Net(
        name="two-sources",
        places=("a", "b", "o"),
        transitions=(model.Transition(name="t", inputs={"a": 1, "b": 1}, outputs={"o": 1}),),
        initial={"a": 1, "b": 1},
        final={"o": 1},
    )
    report = analysis.analyse(net, workflow=True)
    assert report.findings[0].kind is Kind.NOT_WORKFLOW_NET
    assert "one source place" in report.findings[0].message
    assert analysis.analyse(net).findings == ()  # not asked: an ordinary net with no problem


def test_format_findings_reads_like_a_compiler() -> None:
    finding = findings.Finding(
        kind=Kind.DEADLOCK,
        severity=findings.Severity.ERROR,
        message="deadlock at [p1, p2]",
        witness=("a", "b"),
    )
    assert findings.format_findings([finding], "net.pnml") == (
        "net.pnml: error: deadlock at [p1, p2]: reached by a, b"
    )
