"""The token game with data: what a net run fires next, and what its tokens carry.

The analysis counts tokens; a run also moves data with them. Each place holds its tokens'
data oldest first.

A run plays the game with ``Case``: a firing *starts* as soon as its transition is enabled,
taking its input tokens (the oldest ones), and *completes* when its steps have finished,
producing its output tokens. In between it is running: its tokens are reserved for it, and
they still count in the marking, since as far as the net is concerned the transition has not
fired yet. Firings complete one at a time, in whatever order their steps finish, so the
markings a run goes through are those of firing its transitions one by one in the order they
completed: every one is a marking the analysis explored. When several transitions are enabled
at once and compete for a token, the one declared first takes it, always.

``Tokens.plan`` is the older, round-based view of the same game: every firing the current
tokens allow, in declaration order; ``sequential_markings`` are the markings of firing them
one after another.

What a transition does with data is its ``Behaviour``. ``NetBehaviour`` is a plain net's:
the step receives one argument per consumed token, its result is the data of every token it
produces, and a routing transition passes its input on. Flows compile to behaviours of their
own (``treadle.core.flows``).
"""

from __future__ import annotations

import dataclasses
import heapq
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
    """One firing: the transition and the data of the tokens it took."""

    transition: model.Transition
    consumed: Consumed
    number: int = 0
    """Which firing of its run this is, counting from 0 in the order firings started."""


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

    @property
    def places(self) -> Mapping[str, Sequence[Any]]:
        """Each place's tokens' data, oldest first."""
        return self._places

    def reshape(self, places: Iterable[str]) -> None:
        """Follow a change of the net's places: new ones start empty, removed ones (empty,
        the change checked it) go."""
        self._places = {place: self._places.get(place, []) for place in places}

    def take(self, transition: model.Transition, behaviour: Behaviour) -> Consumed | None:
        """Take the oldest tokens of one firing of ``transition``, if its input places hold
        enough and its guard accepts them; ``None`` (and nothing taken) otherwise."""
        if any(len(self._places[p]) < w for p, w in transition.inputs.items()):
            return None
        consumed = {p: self._places[p][:w] for p, w in transition.inputs.items()}
        if not behaviour.accepts(consumed):
            return None
        for place, weight in transition.inputs.items():
            del self._places[place][:weight]
        return consumed

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
                consumed = self.take(transition, behaviour)
                if consumed is None:
                    break
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


class Case:
    """The token game of one run that fires every transition as soon as it is enabled.

    ``start`` takes the tokens of the next firing to start, ``complete`` produces the tokens
    of a running one; ``marking`` counts the tokens of running firings in their input places.
    Every decision is a function of the net, the tokens' data and the order of the calls, so
    a replay that starts and completes the same firings in the same order gets the same
    answers.

    ``start`` answers as a scan of every transition in declaration order would, without
    scanning them all: a transition found disabled stays so until the tokens of one of its
    input places change (a completion adds some, another firing takes the oldest) or a
    running firing that blocked it completes, so only those are looked at again, lowest
    declaration index first. A run of hundreds of parallel firings costs in proportion to
    their number, not its square.
    """

    def __init__(self, net: model.Net, behaviours: Mapping[str, Behaviour], data: Any) -> None:
        self.tokens = Tokens(net.places, net.initial, data)
        self.running: dict[int, Firing] = {}
        """The firings started and not completed, by number."""
        self.started = 0
        # What running firings block, as counts that drop out at zero (so that an empty one
        # costs nothing to ask): tokens they took per place, places they will empty (reset
        # arcs), and those of them that have no input place.
        self._held: dict[str, int] = {}
        self._emptied: dict[str, int] = {}
        self._sources: dict[str, int] = {}
        self._counts: dict[str, int] = dict(net.initial)
        """The marking, kept up to date rather than counted for every firing."""
        self.change(net, behaviours)

    def change(self, net: model.Net, behaviours: Mapping[str, Behaviour]) -> None:
        """Go on with a changed net (running firings keep the transitions they started as)."""
        self.net = net
        self.behaviours: dict[str, Behaviour] = dict(behaviours)
        self.tokens.reshape(net.places)
        self._counts = {p: n for p, n in self._counts.items() if p in self.tokens.places}
        self._consumers: dict[str, list[int]] = {}
        self._resetters: dict[str, list[int]] = {}
        for index, transition in enumerate(net.transitions):
            for place in transition.inputs:
                self._consumers.setdefault(place, []).append(index)
            for place in transition.resets:
                self._resetters.setdefault(place, []).append(index)
        self._index = {t.name: i for i, t in enumerate(net.transitions)}
        # Everything is looked at once, in declaration order.
        self._candidates = list(range(len(net.transitions)))
        self._queued = set(self._candidates)

    def behaviour(self, transition: model.Transition) -> Behaviour:
        return self.behaviours.get(transition.name, ROUTING)

    def marking(self) -> dict[str, int]:
        """Tokens per place, those reserved by running firings included (empty places left
        out): the marking of the net, in which the running firings have not fired yet."""
        return dict(self._counts)

    def start(self) -> Firing | None:
        """Take the tokens of the next firing to start, or ``None`` when none can.

        That is the first transition, in declaration order, whose input places hold enough
        free tokens and whose guard accepts the oldest of them (so a conflict always goes to
        the transition declared first). A transition without input places starts again only
        once its running firing has completed. A transition with reset arcs does not start
        while a running firing holds tokens of a place it empties, and nothing that takes
        tokens from a place a running firing will empty starts either: those tokens would be
        gone when it completes, and the order of completions would not be a firing sequence
        of the net.
        """
        transitions = self.net.transitions
        while self._candidates:
            index = heapq.heappop(self._candidates)
            self._queued.discard(index)
            transition = transitions[index]
            if not transition.inputs and transition.name in self._sources:
                continue
            if transition.resets and any(p in self._held for p in transition.resets):
                continue
            if self._emptied and any(p in self._emptied for p in transition.inputs):
                continue
            consumed = self.tokens.take(transition, self.behaviour(transition))
            if consumed is None:
                continue
            firing = Firing(transition, consumed, self.started)
            self.started += 1
            self.running[firing.number] = firing
            _count(self._held, transition.inputs, 1)
            _count(self._emptied, transition.resets, 1)
            if not transition.inputs:
                _count(self._sources, [transition.name], 1)
            # It may fire again; the others that take from these places see other tokens.
            self._look_again([index])
            for place in transition.inputs:
                self._look_again(self._consumers.get(place, ()))
            return firing
        return None

    def complete(self, number: int, produced: Mapping[str, Any]) -> dict[str, int]:
        """Complete the running firing ``number`` with the data of the tokens it produces;
        the marking after it."""
        firing = self.running.pop(number)
        transition = firing.transition
        _count(self._held, transition.inputs, -1)
        _count(self._emptied, transition.resets, -1)
        if not transition.inputs:
            _count(self._sources, [transition.name], -1)
        self.tokens.complete(firing, produced)
        counts = self._counts
        for place, weight in transition.inputs.items():
            counts[place] -= weight
        for place in transition.resets:
            counts[place] = 0  # no running firing holds tokens there (see ``start``)
        for place, weight in transition.outputs.items():
            counts[place] = counts.get(place, 0) + weight
        for place in (*transition.inputs, *transition.resets):
            if not counts.get(place):
                counts.pop(place, None)
        # What its tokens may enable, and what it held back while it ran.
        for place in transition.outputs:
            self._look_again(self._consumers.get(place, ()))
        for place in transition.resets:
            self._look_again(self._consumers.get(place, ()))
        for place in transition.inputs:
            self._look_again(self._resetters.get(place, ()))
        if transition.name in self._index:
            self._look_again([self._index[transition.name]])
        return self.marking()

    def _look_again(self, indices: Iterable[int]) -> None:
        for index in indices:
            if index not in self._queued:
                self._queued.add(index)
                heapq.heappush(self._candidates, index)

    def is_final(self) -> bool:
        """Whether nothing runs and the marking is the net's final marking."""
        final = self.net.final
        return not self.running and final is not None and self.marking() == dict(final)


def _count(counts: dict[str, int], keys: Iterable[str], sign: int) -> None:
    """Add (or, with ``sign`` -1, take away) one for each key; a count at zero goes."""
    for key in keys:
        left = counts.get(key, 0) + sign
        if left:
            counts[key] = left
        else:
            del counts[key]
