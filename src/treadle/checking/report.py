"""``CheckReport``: what ``tr.check`` found about one definition, as text and as JSON."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

from treadle.checking import functions
from treadle.core import nets
from treadle.core.nets import findings

Severity = findings.Severity
NetFinding = findings.Finding
Finding = findings.Finding | functions.Finding
"""A finding of the net analysis (with a firing sequence) or of a durable function's check."""


class DefinitionKind(enum.StrEnum):
    """How a definition was checked."""

    NET = "net"  # as a Petri net: a tr.Net, a PNML file, a flow or a net-backed workflow
    FUNCTION = "function"  # as a durable function: statically, without running it


@dataclasses.dataclass(frozen=True, kw_only=True)
class CheckReport:
    """What checking one definition found: ``ok`` is False when a finding is an error."""

    name: str
    """The net's or the workflow's name."""
    kind: DefinitionKind
    findings: tuple[Finding, ...]
    """Errors, warnings and notes, in the order the checks found them."""
    analysis: nets.Report | None = None
    """The state-space analysis, for a net: markings, bounds, deadlocks, soundness."""
    function: functions.FunctionCheck | None = None
    """The static check, for a durable function: the steps and child workflows it calls."""
    max_states: int | None = None
    """The state bound the net was explored with."""
    unbounded_places: tuple[str, ...] = ()
    """Places proven unbounded by coverability (their ``place_bounds`` entry is None)."""

    @property
    def ok(self) -> bool:
        """True when no finding is an error (warnings and notes are allowed)."""
        return self.errors == 0

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.WARNING)

    @property
    def state_bound_hit(self) -> bool:
        """True when the search stopped at ``max_states``: the net results are partial."""
        return any(
            isinstance(f, NetFinding) and f.kind is findings.Kind.STATE_BOUND for f in self.findings
        )

    @property
    def states(self) -> int | None:
        """Reachable markings (a lower bound when the bound was hit); None when not explored.

        A net proven unbounded is never explored: its state space has no end.
        """
        if self.analysis is None:
            return None
        if self.analysis.complete or self.state_bound_hit:
            return self.analysis.states
        return None

    def format(self, source: str | None = None) -> str:
        """One line per finding, ``order.pnml: error: deadlock at [p1]: reached by a, b``."""
        return "\n".join(f.format(source or self.name) for f in self.findings)

    def summary(self, source: str | None = None) -> str:
        """One line: what was checked, what the search found, and the verdict.

        ``net order: 8 markings, 10 edges, bounded, sound workflow net: ok``; ``source``, when
        given, goes in front as it does in the findings.
        """
        if self.analysis is not None:
            text = f"net {self.name}: " + ", ".join(self._net_facts())
        elif self.function is not None:
            done = self.function
            text = (
                f"durable function {self.name} v{done.version}: {done.calls} "
                f"{_plural(done.calls, 'call')} to steps and child workflows checked"
            )
        else:
            text = self.name
        verdict = "ok" if self.ok else f"{self.errors} {_plural(self.errors, 'error')}"
        if self.warnings:
            verdict += f", {self.warnings} {_plural(self.warnings, 'warning')}"
        return f"{source}: {text}: {verdict}" if source else f"{text}: {verdict}"

    def _net_facts(self) -> list[str]:
        report = self.analysis
        assert report is not None
        facts: list[str] = []
        states = self.states
        if states is None:
            facts.append("state space not explored")
        elif self.state_bound_hit:
            facts.append(f"state bound hit after {states:,} markings")
        else:
            facts.append(f"{states:,} {_plural(states, 'marking')}, {report.edges:,} edges")
        if report.bounded is True:
            facts.append("bounded")
        elif report.bounded is False:
            places = ", ".join(self.unbounded_places)
            facts.append(f"unbounded ({places})" if places else "unbounded")
        else:
            facts.append("boundedness unknown")
        if report.soundness is not None:
            sound = report.soundness.sound
            if sound is True:
                facts.append("sound workflow net")
            elif sound is False:
                failing = ", ".join(report.soundness.failing)
                facts.append(f"unsound workflow net (failing: {failing})")
            else:
                facts.append("workflow net, soundness unknown")
        return facts

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready values; ``docs/checking.md`` describes every field."""
        data: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind.value,
            "ok": self.ok,
            "errors": self.errors,
            "warnings": self.warnings,
        }
        if self.analysis is not None:
            data.update(self._net_json(self.analysis))
        if self.function is not None:
            done = self.function
            data.update(
                version=done.version,
                file=done.file,
                line=done.line,
                calls=done.calls,
                steps=list(done.steps),
                children=list(done.children),
            )
        data["findings"] = [finding_json(f) for f in self.findings]
        return data

    def _net_json(self, report: nets.Report) -> dict[str, Any]:
        witnesses = {
            _key(f.marking): list(f.witness)
            for f in self.findings
            if isinstance(f, NetFinding)
            and f.kind is findings.Kind.DEADLOCK
            and f.marking is not None
            and f.witness is not None
        }
        verdict = report.soundness
        return {
            "states": self.states,
            "edges": report.edges if self.states is not None else None,
            "complete": report.complete,
            "state_bound_hit": self.state_bound_hit,
            "max_states": self.max_states,
            "bounded": report.bounded,
            "unbounded_places": list(self.unbounded_places),
            "place_bounds": dict(report.place_bounds),
            "deadlocks": [
                {"marking": dict(marking), "witness": witnesses.get(_key(marking))}
                for marking in report.deadlocks
            ],
            "dead_transitions": list(report.dead_transitions),
            "workflow_net": verdict is not None,
            "soundness": None
            if verdict is None
            else {
                "sound": verdict.sound,
                "source": verdict.source,
                "sink": verdict.sink,
                "bounded": verdict.bounded,
                "option_to_complete": verdict.option_to_complete,
                "proper_completion": verdict.proper_completion,
                "no_dead_transitions": verdict.no_dead_transitions,
                "failing": list(verdict.failing),
            },
        }


def finding_json(finding: Finding) -> dict[str, Any]:
    """One finding as JSON: the same keys for net and function findings."""
    data: dict[str, Any] = {
        "kind": finding.kind.value,
        "severity": finding.severity.value,
        "message": finding.message,
        "subject": finding.subject,
        "witness": None,
        "loop": [],
        "marking": None,
        "file": None,
        "line": None,
    }
    if isinstance(finding, NetFinding):
        data["witness"] = None if finding.witness is None else list(finding.witness)
        data["loop"] = list(finding.loop)
        data["marking"] = None if finding.marking is None else dict(finding.marking)
    else:
        data["file"] = finding.file
        data["line"] = finding.line
    return data


def _key(marking: Mapping[str, int]) -> frozenset[tuple[str, int]]:
    return frozenset((place, count) for place, count in marking.items() if count)


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"
