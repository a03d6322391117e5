"""The net itself: places, transitions, weighted and reset arcs, initial and final marking.

A net is a value: frozen, validated once when it is built, and safe to share between the
analysis, the PNML writer and (later) the interpreter. Guards are names only at this layer;
what a guard means belongs to the runtime, so the analysis treats a guarded transition as
possibly enabled whenever its input places hold enough tokens (an over-approximation).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Iterable, Mapping

from treadle import errors

Marking = Mapping[str, int]
"""Tokens per place; places that are absent hold no token."""


def _frozen_counts(what: str, counts: Mapping[str, int], *, positive: bool) -> Mapping[str, int]:
    """Check a place -> count mapping and return a read-only copy without zero entries."""
    if not isinstance(counts, Mapping):
        raise errors.InvalidNetError(f"{what} must be a mapping of place names to integers")
    clean: dict[str, int] = {}
    for place, count in counts.items():
        if not isinstance(place, str) or not place:
            raise errors.InvalidNetError(f"{what}: place names must be non-empty strings")
        if isinstance(count, bool) or not isinstance(count, int):
            raise errors.InvalidNetError(f"{what}: {place!r} has {count!r}, not an integer")
        if positive and count < 1:
            raise errors.InvalidNetError(
                f"{what}: arc weight {count} on {place!r} must be a positive integer"
            )
        if count < 0:
            raise errors.InvalidNetError(f"{what}: {place!r} cannot hold {count} tokens")
        if count:
            clean[place] = count
    return types.MappingProxyType(clean)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Transition:
    """A transition: what it consumes, what it produces, what it empties.

    ``Transition(name="pay", inputs={"ordered": 1}, outputs={"paid": 1}, step="charge")``.
    """

    name: str
    """Unique among the net's places and transitions."""
    inputs: Mapping[str, int] = dataclasses.field(default_factory=dict)
    """Tokens consumed from each input place (arc weights, each at least 1)."""
    outputs: Mapping[str, int] = dataclasses.field(default_factory=dict)
    """Tokens produced in each output place (arc weights, each at least 1)."""
    resets: frozenset[str] = frozenset()
    """Places emptied when the transition fires (reset arcs: cancellation regions)."""
    guard: str | None = None
    """Name of a guard the runtime evaluates; the analysis assumes it may hold."""
    step: str | None = None
    """Name of the step this transition runs; ``None`` for a routing transition."""

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise errors.InvalidNetError(
                f"a transition name must be a non-empty string, not {self.name!r}"
            )
        where = f"transition {self.name!r}"
        object.__setattr__(
            self, "inputs", _frozen_counts(f"{where} inputs", self.inputs, positive=True)
        )
        object.__setattr__(
            self, "outputs", _frozen_counts(f"{where} outputs", self.outputs, positive=True)
        )
        resets = self.resets
        if isinstance(resets, str) or not isinstance(resets, Iterable):
            raise errors.InvalidNetError(f"{where}: resets must be a collection of place names")
        object.__setattr__(self, "resets", frozenset(resets))
        for name, value in (("guard", self.guard), ("step", self.step)):
            if value is not None and (not isinstance(value, str) or not value):
                raise errors.InvalidNetError(f"{where}: {name} must be a non-empty string or None")

    @property
    def routing(self) -> bool:
        """True when no step is bound: firing only moves tokens."""
        return self.step is None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Net:
    """A place/transition net with reset arcs, an initial and an optional final marking."""

    name: str = "net"
    """Shown in findings and written as the PNML net id."""
    places: tuple[str, ...]
    """Place names, in a fixed order that the compact marking encoding follows."""
    transitions: tuple[Transition, ...]
    """The transitions, in a fixed order (findings and witnesses follow it)."""
    initial: Marking = dataclasses.field(default_factory=dict)
    """Tokens at the start."""
    final: Marking | None = None
    """The marking a case ends in; a dead marking equal to it is not a deadlock."""

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise errors.InvalidNetError(
                f"a net name must be a non-empty string, not {self.name!r}"
            )
        object.__setattr__(self, "places", tuple(self.places))
        object.__setattr__(self, "transitions", tuple(self.transitions))
        seen: set[str] = set()
        for place in self.places:
            if not isinstance(place, str) or not place:
                raise errors.InvalidNetError(
                    f"a place name must be a non-empty string, not {place!r}"
                )
            if place in seen:
                raise errors.InvalidNetError(f"net {self.name!r}: duplicate place {place!r}")
            seen.add(place)
        places = frozenset(self.places)
        for transition in self.transitions:
            if not isinstance(transition, Transition):
                raise errors.InvalidNetError(
                    f"net {self.name!r}: {transition!r} is not a Transition"
                )
            if transition.name in seen:
                kind = "place" if transition.name in places else "transition"
                raise errors.InvalidNetError(
                    f"net {self.name!r}: transition {transition.name!r} has the name of "
                    f"another {kind}; names must be unique across places and transitions"
                )
            seen.add(transition.name)
            for arc, named in (
                ("input", transition.inputs),
                ("output", transition.outputs),
                ("reset", transition.resets),
            ):
                for place in named:
                    if place not in places:
                        raise errors.InvalidNetError(
                            f"net {self.name!r}: {arc} arc of transition {transition.name!r} "
                            f"names unknown place {place!r}; add it to places"
                        )
        object.__setattr__(self, "initial", self._marking("initial marking", self.initial))
        if self.final is not None:
            object.__setattr__(self, "final", self._marking("final marking", self.final))

    def _marking(self, what: str, marking: Marking) -> Marking:
        clean = _frozen_counts(f"net {self.name!r} {what}", marking, positive=False)
        for place in clean:
            if place not in self.places:
                raise errors.InvalidNetError(
                    f"net {self.name!r}: {what} names unknown place {place!r}"
                )
        return clean

    def transition(self, name: str) -> Transition:
        """The transition called ``name``."""
        for transition in self.transitions:
            if transition.name == name:
                return transition
        raise errors.InvalidNetError(f"net {self.name!r} has no transition {name!r}")

    @property
    def has_resets(self) -> bool:
        """Whether any transition has a reset arc (analysis is then exact only when bounded)."""
        return any(t.resets for t in self.transitions)

    def vector(self, marking: Marking) -> tuple[int, ...]:
        """``marking`` as a tuple of counts in place order."""
        return tuple(marking.get(place, 0) for place in self.places)

    def fire(self, marking: Marking, name: str) -> dict[str, int]:
        """The marking after firing ``name`` in ``marking`` (reference semantics, slow)."""
        transition = self.transition(name)
        counts = {place: marking.get(place, 0) for place in self.places}
        for place, weight in transition.inputs.items():
            if counts[place] < weight:
                raise errors.InvalidNetError(
                    f"transition {name!r} is not enabled: {place!r} holds {counts[place]} "
                    f"of the {weight} tokens it needs"
                )
            counts[place] -= weight
        for place in transition.resets:
            counts[place] = 0
        for place, weight in transition.outputs.items():
            counts[place] += weight
        return {place: count for place, count in counts.items() if count}

    @classmethod
    def from_pnml(cls, source: str | bytes) -> Net:
        """Read a place/transition net from a PNML document's text or bytes (ISO/IEC 15909-2)."""
        # pnml builds Nets, so importing it at the top of this module would be a cycle.
        from treadle.core.nets import pnml as pnml_io

        return pnml_io.read(source)

    def to_pnml(self) -> str:
        """This net as a PNML document (place/transition net type)."""
        from treadle.core.nets import pnml as pnml_io

        return pnml_io.write(self)


def show_marking(marking: Marking, places: Iterable[str] | None = None) -> str:
    """``[p1, 2*p3]``: how findings print a marking (place order when ``places`` is given)."""
    order = list(places) if places is not None else sorted(marking)
    parts = [
        place if marking.get(place, 0) == 1 else f"{marking[place]}*{place}"
        for place in order
        if marking.get(place, 0)
    ]
    return "[" + ", ".join(parts) + "]"
