"""The token game with data: what a net run fires next, and what its tokens carry.

The analysis counts tokens; a run also moves data with them. Each place holds its tokens'
data oldest first. A net advances in *rounds*: ``plan`` walks the transitions in declaration
order and takes every firing the current tokens allow (a transition fires as many times as
its input places hold tokens for, each time on the oldest ones), so that conflicts are always
resolved the same way: the transition declared first wins. The runtime then runs the steps
of a round's firings at the same time and, when they have all finished, lets each firing
produce its tokens, again in declaration order. A round has the effect of firing its
transitions one after the other in that order (``sequential_markings``), so every marking a
run records is one the analysis explored.

What a transition does with data is its ``Behaviour``. ``NetBehaviour`` is a plain net's:
the step receives one argument per consumed token, its result is the data of every token it
produces, and a routing transition passes its input on. Flows compile to behaviours of their
own (``treadle.core.flows``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from treadle.core.nets import model


class _Nothing:
    """The data of a token that carries nothing: the input of a run started without one."""

    _instance: _Nothing | None = None

    def __new__(cls) -> _Nothing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOTHING"


NOTHING: Final = _Nothing()
"""Token data that is left out of step arguments (a run started with no input)."""

Consumed = Mapping[str, Sequence[Any]]
"""The data of the tokens one firing takes: input place -> data, oldest first, in the order of
the transition's input arcs."""


def data_of(consumed: Consumed) -> list[Any]:
    """The consumed data as one list, in input-arc order, without ``NOTHING``."""
    return [value for values in consumed.values() for value in values if value is not NOTHING]


class Behaviour:
    """What one transition does with data; the methods must be deterministic (replay calls
    them again and expects the same answers)."""

    def accepts(self, consumed: Consumed) -> bool:
        """The guard: whether the transition may fire on these tokens."""
        return True

    def calls(self, consumed: Consumed) -> list[tuple[Any, ...]]:
        """The arguments of each call of the transition's step: none for a routing firing,
        one call for a task, one per item for a multi-instance transition."""
        return []

    def produce(
        self, transition: model.Transition, consumed: Consumed, results: Sequence[Any]
    ) -> dict[str, Any]:
        """The data of the tokens produced in each output place, given the calls' results."""
        value = pass_on(consumed)
        return dict.fromkeys(transition.outputs, value)


def pass_on(consumed: Consumed) -> Any:
    """A routing transition's output: the one token's data, a list of several, or None."""
    values = data_of(consumed)
    if not values:
        return None
    return values[0] if len(values) == 1 else values


@dataclasses.dataclass(frozen=True, kw_only=True)
class NetBehaviour(Behaviour):
    """A plain net's transition: a guard and a step over the consumed tokens' data."""

    guard: Callable[..., Any] | None = None
    """Called with one argument per consumed token; the transition fires when it is true."""
    step: bool = False
    """Whether a step runs (with one argument per consumed token) or the data passes on."""

    def accepts(self, consumed: Consumed) -> bool:
        return self.guard is None or bool(self.guard(*data_of(consumed)))

    def calls(self, consumed: Consumed) -> list[tuple[Any, ...]]:
        return [tuple(data_of(consumed))] if self.step else []

    def produce(
        self, transition: model.Transition, consumed: Consumed, results: Sequence[Any]
    ) -> dict[str, Any]:
        if not self.step:
            return super().produce(transition, consumed, results)
        return dict.fromkeys(transition.outputs, results[0])


ROUTING: Final = Behaviour()


@dataclasses.dataclass(frozen=True, slots=True)
class Firing:
    """One firing planned in a round: the transition and the data of the tokens it took."""

    transition: model.Transition
    consumed: Consumed


class Tokens:
    """A marking with data: each place's tokens, oldest first."""

    def __init__(self, places: Iterable[str], marking: model.Marking, data: Any) -> None:
        self._places: dict[str, list[Any]] = {place: [] for place in places}
        for place, count in marking.items():
            self._places[place] = [data] * count

    def counts(self) -> dict[str, int]:
        """The marking: tokens per place, empty places left out."""
        return {place: len(held) for place, held in self._places.items() if held}

    def held(self, place: str) -> Sequence[Any]:
        return self._places.get(place, [])

    def reshape(self, places: Iterable[str]) -> None:
        """Follow a change of the net's places: new ones start empty, removed ones (empty,
        the change checked it) go."""
        self._places = {place: self._places.get(place, []) for place in places}

    def plan(self, net: model.Net, behaviours: Mapping[str, Behaviour]) -> list[Firing]:
        """Take the tokens of every firing of one round, in declaration order.

        A transition fires again while its input places hold enough tokens and its guard
        accepts the oldest ones; a transition without input places fires at most once a
        round. A transition with reset arcs joins a round only if no other firing of the
        round touches the places it empties (and the other way round), so the round still
        equals firing its transitions one by one in declaration order.
        """
        firings: list[Firing] = []
        touched: set[str] = set()
        emptied: set[str] = set()
        for transition in net.transitions:
            behaviour = behaviours.get(transition.name, ROUTING)
            arcs = set(transition.inputs) | set(transition.outputs)
            while True:
                if transition.resets & touched or arcs & emptied:
                    break
                if any(len(self._places[p]) < w for p, w in transition.inputs.items()):
                    break
                consumed = {p: self._places[p][:w] for p, w in transition.inputs.items()}
                if not behaviour.accepts(consumed):
                    break
                for place, weight in transition.inputs.items():
                    del self._places[place][:weight]
                firings.append(Firing(transition, consumed))
                touched |= arcs
                emptied |= transition.resets
                if not transition.inputs:
                    break
        return firings

    def complete(self, firing: Firing, produced: Mapping[str, Any]) -> None:
        """Apply a finished firing: empty its reset places, add its output tokens."""
        transition = firing.transition
        for place in transition.resets:
            self._places[place] = []
        for place, weight in transition.outputs.items():
            self._places[place].extend([produced.get(place)] * weight)

    def result(self) -> Any:
        """The data of the tokens left: the one token's data, or place -> list of data."""
        marked = {place: held for place, held in self._places.items() if held}
        if sum(map(len, marked.values())) == 1:
            (only,) = marked.values()
            return None if only[0] is NOTHING else only[0]
        return {
            place: [None if value is NOTHING else value for value in held]
            for place, held in marked.items()
        }


def sequential_markings(before: model.Marking, firings: Sequence[Firing]) -> list[dict[str, int]]:
    """The marking after each firing of a round, firing them one by one in order from
    ``before`` (the marking at the start of the round)."""
    counts = dict(before)
    after: list[dict[str, int]] = []
    for firing in firings:
        transition = firing.transition
        for place, weight in transition.inputs.items():
            counts[place] = counts.get(place, 0) - weight
        for place in transition.resets:
            counts[place] = 0
        for place, weight in transition.outputs.items():
            counts[place] = counts.get(place, 0) + weight
        after.append({place: count for place, count in counts.items() if count})
    return after
