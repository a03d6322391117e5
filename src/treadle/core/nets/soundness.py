"""Workflow-net soundness (van der Aalst): option to complete, proper completion, no dead
transitions, from one source place to one sink place.

Sound implies bounded, so boundedness is settled first by coverability: an unbounded net
is unsound without building a reachability graph that would never end. The remaining
conditions are read off the state space: a backward search from the final marking gives the
markings that can still complete, and breadth-first levels give the shortest witnesses.
"""

from __future__ import annotations

import dataclasses

from treadle.core.nets import explore, findings, model

F = findings


@dataclasses.dataclass(frozen=True, kw_only=True)
class Soundness:
    """The verdict on a workflow net; None for a condition the analysis could not settle."""

    source: str
    sink: str
    bounded: bool | None
    option_to_complete: bool | None
    proper_completion: bool | None
    no_dead_transitions: bool | None

    @property
    def sound(self) -> bool | None:
        conditions = (
            self.bounded,
            self.option_to_complete,
            self.proper_completion,
            self.no_dead_transitions,
        )
        if False in conditions:
            return False
        return None if None in conditions else True

    @property
    def failing(self) -> tuple[str, ...]:
        """Names of the conditions that fail, e.g. ``("proper_completion",)``."""
        return tuple(
            name
            for name in (
                "bounded",
                "option_to_complete",
                "proper_completion",
                "no_dead_transitions",
            )
            if getattr(self, name) is False
        )


def structure(net: model.Net) -> tuple[str, str] | str:
    """``(source, sink)`` when ``net`` is a workflow net, else why it is not."""
    produced = {p for t in net.transitions for p in t.outputs}
    consumed = {p for t in net.transitions for p in t.inputs}
    sources = [p for p in net.places if p not in produced]
    sinks = [p for p in net.places if p not in consumed]
    if len(sources) != 1:
        return f"a workflow net has one source place, this one has {len(sources)}: {sources}"
    if len(sinks) != 1:
        return f"a workflow net has one sink place, this one has {len(sinks)}: {sinks}"
    forward: dict[str, set[str]] = {node: set() for node in net.places}
    backward: dict[str, set[str]] = {node: set() for node in net.places}
    for t in net.transitions:
        forward[t.name], backward[t.name] = set(t.outputs), set(t.inputs)
        for p in t.inputs:
            forward[p].add(t.name)
        for p in t.outputs:
            backward[p].add(t.name)
    off = (_reach(forward, sources[0]) & _reach(backward, sinks[0])) ^ set(forward)
    if off:
        return f"{sorted(off)} are not on a path from {sources[0]!r} to {sinks[0]!r}"
    return sources[0], sinks[0]


def _reach(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in edges[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def can_complete(space: explore.StateSpace, final: int) -> set[int]:
    """The explored markings from which ``final`` is reachable (a backward search)."""
    visited = space.visited()
    if final not in visited:
        return set()
    moves = space.layout.moves
    plain = [m for m in moves if m.keep == -1]
    # A reset forgets the count it clears, so its predecessors are found forwards, once.
    undo: dict[int, list[int]] = {}
    for move in (m for m in moves if m.keep != -1):
        for marking in visited:
            if move.enabled(marking):
                undo.setdefault(move.fire(marking), []).append(marking)
    done, frontier = {final}, [final]
    while frontier:
        found: set[int] = set()
        for move in plain:
            before = filter(visited.__contains__, map((-move.delta).__add__, frontier))
            found.update(filter(move.enabled, before))
        for marking in frontier:
            found.update(undo.get(marking, ()))
        found -= done
        done |= found
        frontier = list(found)
    return done


def check(
    net: model.Net, space: explore.StateSpace, source: str, sink: str
) -> tuple[Soundness, list[F.Finding]]:
    """Soundness conditions 1-3 on a complete state space of ``net`` from [source]."""
    final = space.packed({sink: 1})
    done = can_complete(space, final)
    sink_field = space.layout.offset(space.layout.places.index(sink))
    field_mask = ((1 << space.layout.width) - 1) << sink_field
    stuck: tuple[int, int] | None = None
    improper: tuple[int, int] | None = None
    for depth, level in enumerate(space.levels):
        if stuck is None:
            cannot = [m for m in level if m not in done]
            if cannot:
                stuck = depth, min(cannot)
        if improper is None:
            wrong = [m for m in level if m & field_mask and m != final]
            if wrong:
                improper = depth, min(wrong)
        if stuck is not None and improper is not None:
            break
    results: list[F.Finding] = []
    show = net.places
    if stuck is not None:
        marking = space.marking(stuck[1])
        shown = model.show_marking(marking, show)
        results.append(
            F.Finding(
                kind=F.Kind.OPTION_TO_COMPLETE,
                severity=F.Severity.ERROR,
                message=(f"not sound: [{sink}] cannot be reached from {shown}"),
                witness=space.witness(*stuck),
                marking=marking,
            )
        )
    if improper is not None:
        marking = space.marking(improper[1])
        results.append(
            F.Finding(
                kind=F.Kind.PROPER_COMPLETION,
                severity=F.Severity.ERROR,
                message=(
                    f"not sound: {sink!r} is marked with other tokens left in "
                    f"{model.show_marking(marking, show)}"
                ),
                witness=space.witness(*improper),
                marking=marking,
            )
        )
    dead = [t.name for t in net.transitions if t.name not in space.enabled_somewhere]
    verdict = Soundness(
        source=source,
        sink=sink,
        bounded=True,
        option_to_complete=stuck is None,
        proper_completion=improper is None,
        no_dead_transitions=not dead,
    )
    return verdict, results
