"""``analyse(net)``: every check on one net, gathered into one report.

Order matters: coverability first (cheap on small nets, and it proves unboundedness, after
which a reachability graph would never end), then the breadth-first state space, then the
workflow-net conditions when the net has the shape of one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from treadle.core.nets import coverability, explore, findings, model, soundness

F = findings

MAX_WITNESSES = 10
"""Findings of one kind reported with a witness before the rest are summed up."""

COVERABILITY_NODES = 2_000
"""Karp-Miller budget before the state space: enough for workflow-sized nets, and cheap."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Report:
    """The analysis of one net."""

    net: str
    states: int
    """Reachable markings (a lower bound when ``complete`` is False)."""
    edges: int
    complete: bool
    """True when every reachable marking was explored."""
    bounded: bool | None
    """None when neither coverability nor the state space settled it."""
    place_bounds: Mapping[str, int | None]
    """Most tokens each place can hold; None for an unbounded place (ω) or when unknown."""
    deadlocks: tuple[Mapping[str, int], ...]
    dead_transitions: tuple[str, ...]
    soundness: soundness.Soundness | None
    """The verdict when the net is a workflow net (or was asked to be checked as one)."""
    findings: tuple[F.Finding, ...]
    unbounded_places: tuple[str, ...] = ()
    """Places that coverability proved unbounded (their ``place_bounds`` entry is None)."""

    @property
    def ok(self) -> bool:
        return not any(f.severity is F.Severity.ERROR for f in self.findings)

    def format(self, source: str | None = None) -> str:
        return F.format_findings(self.findings, source or self.net)


def analyse(
    net: model.Net,
    *,
    max_states: int = explore.DEFAULT_MAX_STATES,
    max_nodes: int = COVERABILITY_NODES,
    workflow: bool | None = None,
    explorer: explore.Explorer = explore.explore,
) -> Report:
    """Analyse ``net``. ``workflow=None`` checks soundness when the net has a WF-net's shape,
    ``True`` asks for it (and reports a net that is not one), ``False`` skips it.

    ``explorer`` is the reachability search: the pure ``explore.explore`` by default, or one
    that returns the same ``StateSpace`` faster (``treadle.accel.analyse`` passes its own;
    ``core`` never imports it).

    A workflow net is analysed from [source] to [sink], whatever initial and final marking
    it declares, because that is what soundness is defined on.
    """
    found: list[F.Finding] = []
    shape = soundness.structure(net) if workflow is not False else None
    wf: tuple[str, str] | None = None
    if isinstance(shape, tuple):
        wf = shape
        net = dataclasses.replace(net, initial={shape[0]: 1}, final={shape[1]: 1})
    elif workflow and shape is not None:
        found.append(
            F.Finding(
                kind=F.Kind.NOT_WORKFLOW_NET,
                severity=F.Severity.ERROR,
                message=f"not a workflow net: {shape}",
            )
        )
    cover = coverability.coverability(net, max_nodes=max_nodes)
    if cover.unbounded:
        for proof in cover.unbounded:
            found.append(
                F.Finding(
                    kind=F.Kind.UNBOUNDED,
                    severity=F.Severity.ERROR,
                    message=(
                        "unbounded: "
                        + ", ".join(proof.places)
                        + " can grow without limit"
                        + (f" once {', '.join(proof.pumped)} are pumped" if proof.pumped else "")
                    ),
                    witness=proof.prefix,
                    loop=proof.loop,
                    subject=proof.places[0],
                )
            )
        verdict = None
        if wf is not None:
            verdict = soundness.Soundness(
                source=wf[0],
                sink=wf[1],
                bounded=False,
                option_to_complete=None,
                proper_completion=None,
                no_dead_transitions=None,
            )
        return Report(
            net=net.name,
            states=0,
            edges=0,
            complete=False,
            bounded=False,
            place_bounds=dict(cover.bounds) or dict.fromkeys(net.places),
            deadlocks=(),
            dead_transitions=(),
            soundness=verdict,
            findings=tuple(found),
            unbounded_places=cover.unbounded_places,
        )
    space = explorer(net, max_states=max_states)
    show = net.places
    deadlocks = sorted(
        (depth, packed)
        for depth, packed in space.dead
        if net.final is None or space.marking(packed) != dict(net.final)
    )
    for depth, packed in deadlocks[:MAX_WITNESSES]:
        marking = space.marking(packed)
        found.append(
            F.Finding(
                kind=F.Kind.DEADLOCK,
                severity=F.Severity.ERROR,
                message=f"deadlock at {model.show_marking(marking, show)}",
                witness=space.witness(depth, packed),
                marking=marking,
            )
        )
    if len(deadlocks) > MAX_WITNESSES:
        found.append(
            F.Finding(
                kind=F.Kind.MORE,
                severity=F.Severity.NOTE,
                message=f"and {len(deadlocks) - MAX_WITNESSES} more deadlocks",
            )
        )
    dead: tuple[str, ...] = ()
    if space.complete:
        dead = tuple(t.name for t in net.transitions if t.name not in space.enabled_somewhere)
        for name in dead:
            found.append(
                F.Finding(
                    kind=F.Kind.DEAD_TRANSITION,
                    severity=F.Severity.ERROR,
                    message=f"dead transition {name}: no reachable marking enables it",
                    subject=name,
                )
            )
    else:
        found.append(
            F.Finding(
                kind=F.Kind.STATE_BOUND,
                severity=F.Severity.WARNING,
                message=(
                    f"state bound hit after {space.states} markings; results are partial "
                    f"(raise max_states)"
                ),
            )
        )
        if cover.bounded is None:
            found.append(
                F.Finding(
                    kind=F.Kind.BOUNDEDNESS_UNKNOWN,
                    severity=F.Severity.NOTE,
                    message=(
                        f"boundedness unknown: coverability stopped after {cover.nodes} nodes"
                    ),
                )
            )
    verdict = None
    if wf is not None and space.complete:
        verdict, more = soundness.check(net, space, *wf)
        found.extend(more)
    elif wf is not None:
        verdict = soundness.Soundness(
            source=wf[0],
            sink=wf[1],
            bounded=cover.bounded,
            option_to_complete=None,
            proper_completion=None,
            no_dead_transitions=None,
        )
    return Report(
        net=net.name,
        states=space.states,
        edges=space.edges,
        complete=space.complete,
        bounded=True if space.complete else cover.bounded,
        place_bounds={p: (b if space.complete else None) for p, b in space.place_bounds.items()},
        deadlocks=tuple(space.marking(packed) for _, packed in deadlocks),
        dead_transitions=dead,
        soundness=verdict,
        findings=tuple(found),
    )
