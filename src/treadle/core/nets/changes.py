"""Changing the topology of a running net case, and checking the change first.

A ``NetChange`` adds or removes places, transitions and arcs. ``apply`` builds the changed net
(a new value: nets are frozen); ``check`` analyses it *from the case's current marking*, with
the same searches as a new definition, and returns the errors that refuse the change:

- places that can grow without limit;
- reachable markings that enable nothing and are not the final marking (deadlocks);
- reachable markings from which the final marking cannot be reached any more (the option to
  complete), and markings with the final marking's places marked beside other tokens;
- added transitions that can never fire from here, and removed places that hold tokens.

Transitions that already did their work are dead from a later marking by nature, so the
dead transitions of the rest of the net are not held against a change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from treadle import errors
from treadle.core.nets import analysis, explore, findings, model, soundness

F = findings


@dataclasses.dataclass(frozen=True, kw_only=True)
class Arc:
    """An arc from a place to a transition (an input) or from a transition to a place."""

    source: str
    target: str
    weight: int = 1

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        for name in (self.source, self.target):
            if not isinstance(name, str) or not name:
                raise errors.InvalidNetError(f"an arc joins two names, not {name!r}")
        if isinstance(self.weight, bool) or not isinstance(self.weight, int) or self.weight < 1:
            raise errors.InvalidNetError(
                f"arc {self.source} -> {self.target}: weight {self.weight!r} must be an int >= 1"
            )


@dataclasses.dataclass(frozen=True, kw_only=True)
class NetChange:
    """Places, transitions and arcs to add to or remove from a running net case.

    Removals apply first, then additions. Removing a transition removes its arcs; a removed
    place must hold no token and no remaining arc may name it.
    """

    add_places: tuple[str, ...] = ()
    remove_places: tuple[str, ...] = ()
    add_transitions: tuple[model.Transition, ...] = ()
    """New transitions; their ``step`` and ``guard`` must be names the workflow binds."""
    remove_transitions: tuple[str, ...] = ()
    add_arcs: tuple[Arc, ...] = ()
    """Arcs added to existing (or added) transitions; an arc that exists adds its weight."""
    remove_arcs: tuple[Arc, ...] = ()
    """Arcs removed from remaining transitions (the weight is ignored)."""

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        for name in ("add_places", "remove_places", "remove_transitions"):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, Iterable):
                raise errors.InvalidNetError(f"NetChange {name} must be a list of names")
            value = tuple(value)
            if not all(isinstance(item, str) and item for item in value):
                raise errors.InvalidNetError(f"NetChange {name} must hold non-empty names")
            object.__setattr__(self, name, value)
        for name, kind in (
            ("add_transitions", model.Transition),
            ("add_arcs", Arc),
            ("remove_arcs", Arc),
        ):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, Iterable):
                raise errors.InvalidNetError(f"NetChange {name} must be a list")
            value = tuple(value)
            for item in value:
                if not isinstance(item, kind):
                    raise errors.InvalidNetError(
                        f"NetChange {name} holds {item!r}, not a {kind.__name__}"
                    )
            object.__setattr__(self, name, value)
        if not any(getattr(self, f.name) for f in dataclasses.fields(self)):
            raise errors.InvalidNetError("the NetChange changes nothing")

    def to_json(self) -> dict[str, Any]:
        """The change as JSON-ready data (what ``from_json`` reads, and the CLI's file)."""
        return {
            "add_places": list(self.add_places),
            "remove_places": list(self.remove_places),
            "add_transitions": [transition_json(t) for t in self.add_transitions],
            "remove_transitions": list(self.remove_transitions),
            "add_arcs": [dataclasses.asdict(arc) for arc in self.add_arcs],
            "remove_arcs": [dataclasses.asdict(arc) for arc in self.remove_arcs],
        }

    @classmethod
    def from_json(cls, data: Any) -> NetChange:
        """Read a change written as JSON data (see ``to_json``); unknown keys are refused."""
        if not isinstance(data, Mapping):
            raise errors.InvalidNetError("a net change is a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise errors.InvalidNetError(
                f"a net change has no field {', '.join(unknown)}; use {', '.join(sorted(known))}"
            )
        return cls(
            add_places=tuple(data.get("add_places", ())),
            remove_places=tuple(data.get("remove_places", ())),
            add_transitions=tuple(transition_from_json(t) for t in _items(data, "add_transitions")),
            remove_transitions=tuple(data.get("remove_transitions", ())),
            add_arcs=tuple(_arc(a) for a in _items(data, "add_arcs")),
            remove_arcs=tuple(_arc(a) for a in _items(data, "remove_arcs")),
        )


def _items(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise errors.InvalidNetError(f"net change field {key} must be a list")
    return value


def _arc(data: Any) -> Arc:
    if not isinstance(data, Mapping) or set(data) - {"source", "target", "weight"}:
        raise errors.InvalidNetError(
            f'an arc is written {{"source": ..., "target": ..., "weight": 1}}, not {data!r}'
        )
    return Arc(
        source=data.get("source", ""), target=data.get("target", ""), weight=data.get("weight", 1)
    )


def transition_json(transition: model.Transition) -> dict[str, Any]:
    return {
        "name": transition.name,
        "inputs": dict(transition.inputs),
        "outputs": dict(transition.outputs),
        "resets": sorted(transition.resets),
        "guard": transition.guard,
        "step": transition.step,
    }


def transition_from_json(data: Any) -> model.Transition:
    fields = {"name", "inputs", "outputs", "resets", "guard", "step"}
    if not isinstance(data, Mapping) or set(data) - fields or "name" not in data:
        raise errors.InvalidNetError(
            f"a transition is a JSON object with a name and some of {sorted(fields - {'name'})}"
        )
    return model.Transition(
        name=data["name"],
        inputs=data.get("inputs") or {},
        outputs=data.get("outputs") or {},
        resets=frozenset(data.get("resets") or ()),
        guard=data.get("guard"),
        step=data.get("step"),
    )


def apply(net: model.Net, change: NetChange) -> model.Net:
    """The net with ``change`` made; raises ``InvalidNetError`` naming what does not fit."""
    where = f"net {net.name!r}"
    names = {t.name for t in net.transitions}
    for name in change.remove_transitions:
        if name not in names:
            raise errors.InvalidNetError(f"{where} has no transition {name!r} to remove")
    for place in change.remove_places:
        if place not in net.places:
            raise errors.InvalidNetError(f"{where} has no place {place!r} to remove")
    kept = [t for t in net.transitions if t.name not in change.remove_transitions]
    for arc in change.remove_arcs:
        kept = _without_arc(kept, arc, where)
    places = [p for p in net.places if p not in change.remove_places] + list(change.add_places)
    transitions = kept + list(change.add_transitions)
    for arc in change.add_arcs:
        transitions = _with_arc(transitions, arc, set(places), where)
    for place in change.remove_places:
        users = [t.name for t in transitions if place in t.inputs or place in t.outputs]
        users += [t.name for t in transitions if place in t.resets]
        if users:
            raise errors.InvalidNetError(
                f"{where}: place {place!r} cannot go while transitions {users} have arcs to it; "
                "remove those arcs or transitions in the same change"
            )
    removed = set(change.remove_places)
    final = None if net.final is None else {p: n for p, n in net.final.items() if p not in removed}
    return model.Net(
        name=net.name,
        places=tuple(places),
        transitions=tuple(transitions),
        initial={p: n for p, n in net.initial.items() if p not in removed},
        final=final,
    )


def _without_arc(
    transitions: list[model.Transition], arc: Arc, where: str
) -> list[model.Transition]:
    for index, t in enumerate(transitions):
        if t.name == arc.target and arc.source in t.inputs:
            inputs = {p: w for p, w in t.inputs.items() if p != arc.source}
            transitions[index] = dataclasses.replace(t, inputs=inputs)
            return transitions
        if t.name == arc.source and arc.target in t.outputs:
            outputs = {p: w for p, w in t.outputs.items() if p != arc.target}
            transitions[index] = dataclasses.replace(t, outputs=outputs)
            return transitions
    raise errors.InvalidNetError(f"{where} has no arc {arc.source} -> {arc.target} to remove")


def _with_arc(
    transitions: list[model.Transition], arc: Arc, places: set[str], where: str
) -> list[model.Transition]:
    for index, t in enumerate(transitions):
        if t.name == arc.target and arc.source in places:
            inputs = dict(t.inputs)
            inputs[arc.source] = inputs.get(arc.source, 0) + arc.weight
            transitions[index] = dataclasses.replace(t, inputs=inputs)
            return transitions
        if t.name == arc.source and arc.target in places:
            outputs = dict(t.outputs)
            outputs[arc.target] = outputs.get(arc.target, 0) + arc.weight
            transitions[index] = dataclasses.replace(t, outputs=outputs)
            return transitions
    raise errors.InvalidNetError(
        f"{where}: arc {arc.source} -> {arc.target} must join a place and a transition of the "
        "changed net"
    )


def running_conflicts(change: NetChange, running: Iterable[str]) -> list[str]:
    """Why ``change`` cannot be made while the named transitions have firings running
    (empty: it can). A running firing has taken its tokens and will produce its own: its
    transition must stay as it is until it has completed."""
    busy = set(running)
    problems: list[str] = []
    for name in change.remove_transitions:
        if name in busy:
            problems.append(
                f"transition {name!r} is running: remove it once its firing has completed"
            )
    for arc in (*change.add_arcs, *change.remove_arcs):
        for name in (arc.source, arc.target):
            if name in busy:
                problems.append(
                    f"transition {name!r} is running: change its arc {arc.source} -> "
                    f"{arc.target} once its firing has completed"
                )
    return problems


def check(
    net: model.Net,
    marking: model.Marking,
    *,
    added: Sequence[str] = (),
    removed_places: Sequence[str] = (),
    max_states: int = explore.DEFAULT_MAX_STATES,
) -> tuple[F.Finding, ...]:
    """The errors that refuse running ``net`` on from ``marking`` (empty: the change may go).

    ``added`` names the transitions the change adds (each must be able to fire from here);
    ``removed_places`` the places it removes (each must be empty in ``marking``).
    """
    found: list[F.Finding] = []
    for place in removed_places:
        if marking.get(place, 0):
            found.append(
                F.Finding(
                    kind=F.Kind.PROPER_COMPLETION,
                    severity=F.Severity.ERROR,
                    message=f"place {place} holds {marking[place]} tokens and cannot be removed",
                    subject=place,
                )
            )
    if found:
        return tuple(found)
    here = dataclasses.replace(net, initial={p: n for p, n in marking.items() if p in net.places})
    report = analysis.analyse(here, max_states=max_states, workflow=False)
    for finding in report.findings:
        if finding.kind is F.Kind.DEAD_TRANSITION and finding.subject not in added:
            continue
        if finding.kind is F.Kind.DEADLOCK and net.final is None:
            continue  # without a final marking, a run ends wherever nothing is enabled
        if finding.severity is F.Severity.NOTE:
            continue
        found.append(
            dataclasses.replace(finding, severity=F.Severity.ERROR)
            if finding.kind is F.Kind.STATE_BOUND
            else finding
        )
    if net.final is not None and report.bounded and report.complete:
        found.extend(_completion(here, dict(net.final), max_states))
    return tuple(found)


def _completion(net: model.Net, final: dict[str, int], max_states: int) -> list[F.Finding]:
    """Option to complete and proper completion, from the net's initial marking."""
    space = explore.explore(net, max_states=max_states)
    target = space.packed(final)
    done = soundness.can_complete(space, target)
    out: list[F.Finding] = []
    stuck = _shallowest(space, lambda m: m not in done)
    if stuck is not None:
        depth, packed = stuck
        marking = space.marking(packed)
        out.append(
            F.Finding(
                kind=F.Kind.OPTION_TO_COMPLETE,
                severity=F.Severity.ERROR,
                message=(
                    f"the final marking {model.show_marking(final, net.places)} cannot be "
                    f"reached from {model.show_marking(marking, net.places)}"
                ),
                witness=space.witness(depth, packed),
                marking=marking,
            )
        )
    overfull = _shallowest(
        space,
        lambda m: m != target and all(space.marking(m).get(p, 0) >= n for p, n in final.items()),
    )
    if overfull is not None:
        depth, packed = overfull
        marking = space.marking(packed)
        out.append(
            F.Finding(
                kind=F.Kind.PROPER_COMPLETION,
                severity=F.Severity.ERROR,
                message=(
                    f"the final marking is reached with other tokens left in "
                    f"{model.show_marking(marking, net.places)}"
                ),
                witness=space.witness(depth, packed),
                marking=marking,
            )
        )
    return out


def _shallowest(space: explore.StateSpace, keep: Callable[[int], bool]) -> tuple[int, int] | None:
    """The first marking, level by level, that ``keep`` accepts (so the one with the shortest
    witness), as ``(depth, packed)``; None when there is none."""
    for depth, level in enumerate(space.levels):
        found = [m for m in level if keep(m)]
        if found:
            return depth, min(found)
    return None
