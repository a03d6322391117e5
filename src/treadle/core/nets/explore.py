"""Breadth-first reachability: every marking, level by level, with bulk integer arithmetic.

Markings are packed ints (``packing``). A level (the frontier) is also laid out as one big
int, a fixed number of 64-bit words per marking, so that testing whether a transition is
enabled is three big-int operations for the whole level instead of a loop in Python: the
interpreter's per-object cost is paid only per edge (one addition and one set insertion),
never per (marking, transition) pair. The visited set is a set of ints, and every level is
kept as a list of the same int objects (8 bytes a marking), which is all it takes to rebuild
the shortest firing sequence to any marking afterwards: breadth-first levels are distances.

This search is the reference. Anything with the ``Explorer`` signature that returns the same
``StateSpace`` can stand in for it (``analysis.analyse(net, explorer=...)``): an accelerated
search outside ``core`` hands back its levels as ``packing.PackedLevel``.
"""

from __future__ import annotations

import dataclasses
from array import array
from collections.abc import Container, Iterable, Sequence
from itertools import compress
from operator import add, methodcaller, not_
from typing import Protocol

from treadle.core.nets import model, packing

DEFAULT_MAX_STATES = 1_000_000
"""Markings explored before the search stops and says so (raise it with ``max_states=``)."""

_LOW63 = (1 << 63) - 1


class Explorer(Protocol):
    """A reachability search: ``explore`` here, or one that returns the same ``StateSpace``."""

    def __call__(self, net: model.Net, *, max_states: int = ...) -> StateSpace: ...


@dataclasses.dataclass(frozen=True, kw_only=True)
class StateSpace:
    """The reachable markings of a net, grouped by their distance from the initial marking."""

    net: model.Net
    layout: packing.Layout
    levels: Sequence[Sequence[int]]
    """``levels[d]`` holds the packed markings first reached after ``d`` firings."""
    states: int
    """Markings found (all of them when ``complete``)."""
    edges: int
    """Firings between the markings of expanded levels (the reachability graph's edges)."""
    complete: bool
    """False when ``max_states`` stopped the search: the counts are then lower bounds."""
    place_bounds: dict[str, int]
    """Most tokens seen in each place."""
    dead: tuple[tuple[int, int], ...]
    """``(level, packed)`` of each marking that enables no transition, final ones included."""
    enabled_somewhere: frozenset[str]
    """Names of the transitions enabled in at least one explored marking."""

    def marking(self, packed: int) -> dict[str, int]:
        return self.layout.marking(packed)

    def packed(self, marking: model.Marking) -> int:
        return self.layout.pack(self.net.vector(marking))

    def visited(self) -> set[int]:
        """Every explored marking, packed (built on demand: the search does not keep it)."""
        return set().union(*self.levels)

    def max_tokens_per_marking(self) -> int:
        """The largest number of tokens in one reachable marking."""
        lay = self.layout
        columns = [
            sum(1 << (i * lay.width + bit) for i in range(len(lay.places)))
            for bit in range(lay.bits)
        ]
        best = 0
        for level in self.levels:
            if not level:
                continue
            # Tokens in a marking = sum over bit positions j of 2**j * popcount(bits at j),
            # which map() computes in C for a whole level.
            totals: Iterable[int] = map(int.bit_count, map(columns[0].__and__, level))
            for bit in range(1, lay.bits):
                column = map(int.bit_count, map(columns[bit].__and__, level))
                totals = map(add, totals, map((1 << bit).__mul__, column))
            best = max(best, max(totals))
        return best

    def witness(self, depth: int, packed: int) -> tuple[str, ...]:
        """The shortest firing sequence from the initial marking to ``packed`` at ``depth``."""
        names = [t.name for t in self.net.transitions]
        sequence: list[str] = []
        current = packed
        for level in range(depth, 0, -1):
            previous = self.levels[level - 1]
            # A packed level is sorted and answers ``in`` itself; a list needs a set.
            members: Container[int] = (
                previous if isinstance(previous, packing.PackedLevel) else set(previous)
            )
            parent = _parent(self.layout.moves, previous, members, current)
            if parent is None:  # pragma: no cover - levels are built from these very moves
                raise AssertionError(f"no predecessor of {self.marking(current)} at {level - 1}")
            current, move = parent
            sequence.append(names[move])
        sequence.reverse()
        return tuple(sequence)


def _parent(
    moves: Sequence[packing.Move], previous: Sequence[int], members: Container[int], target: int
) -> tuple[int, int] | None:
    for move in moves:
        if move.keep == -1:
            # Undo the firing by subtraction. A field that would go negative borrows and
            # leaves a guard bit set, which no member has, so a false match is impossible.
            candidate = target - move.delta
            if candidate in members and move.enabled(candidate):
                return candidate, move.index
        else:  # a reset forgets the count: look forwards instead
            for candidate in previous:
                if move.enabled(candidate) and move.fire(candidate) == target:
                    return candidate, move.index
    return None


def explore(net: model.Net, *, max_states: int = DEFAULT_MAX_STATES) -> StateSpace:
    """Explore the markings reachable from ``net.initial``, at most about ``max_states``.

    The search stops at the end of the level in which it passes ``max_states`` and then says
    so (``complete`` is False). It never guesses field widths wrong: a count that outgrows its
    field restarts the search with wider fields.
    """
    check_max_states(max_states)
    bits = packing.initial_bits(net)
    while True:
        space = _search(net, packing.layout(net, bits), max_states)
        if space is not None:
            return space
        bits += 1


def check_max_states(max_states: object) -> None:
    """Refuse a ``max_states`` that is not a positive int (any search's first check)."""
    if isinstance(max_states, bool) or not isinstance(max_states, int) or max_states < 1:
        raise ValueError(f"max_states must be a positive int, not {max_states!r}")


def _concat(level: Sequence[int], words: int) -> int:
    """One big int holding ``level``, ``words`` 64-bit words per marking, first one lowest."""
    if words == 1:
        return int.from_bytes(array("Q", level).tobytes(), "little")
    to_bytes = methodcaller("to_bytes", 8 * words, "little")
    return int.from_bytes(b"".join(map(to_bytes, level)), "little")


def _fold_segments(value: int, count: int, bits: int) -> int:
    """OR together ``count`` segments of ``bits`` bits each: one segment, in O(total size)."""
    while count > 1:
        half = count // 2
        value = (value & ((1 << (half * bits)) - 1)) | (value >> (half * bits))
        count -= half
    return value


class _Level:
    """One frontier as a big int, with the repeated constants its tests need."""

    def __init__(self, level: Sequence[int], lay: packing.Layout) -> None:
        self.markings = level
        self.count = len(level)
        self.words = lay.words
        self.big = _concat(level, self.words)
        # ``constant * repeat`` copies a per-marking constant into every segment: a product of
        # a small and a big int is linear in the big one.
        self.repeat = int.from_bytes((b"\x01" + bytes(8 * self.words - 1)) * self.count, "little")

    def _fold(self, value: int) -> int:
        """OR each segment's words into its low word (the other words then hold junk)."""
        folded = value
        for word in range(1, self.words):
            folded |= value >> (64 * word)  # shifts of the original: no next segment leaks in
        return folded

    def words_of(self, value: int) -> array[int]:
        """The low 64-bit word of every segment of ``value`` after OR-ing the others into it."""
        value = self._fold(value)
        packed = array("Q")
        packed.frombytes(value.to_bytes(8 * self.words * self.count, "little"))
        return packed if self.words == 1 else packed[:: self.words]

    def nonzero(self, value: int) -> int:
        """Bit 63 of each segment's low word set where that segment of ``value`` is not zero."""
        value = self._fold(value)
        low = _LOW63 * self.repeat
        return (value | ((value & low) + low)) & ((1 << 63) * self.repeat)


def _search(net: model.Net, lay: packing.Layout, max_states: int) -> StateSpace | None:
    """Breadth-first search with layout ``lay``; None when a count outgrew its field."""
    start = lay.pack(net.vector(net.initial))
    visited = {start}
    levels: list[list[int]] = [[start]]
    bounds = [0] * len(lay.places)
    dead: list[tuple[int, int]] = []
    enabled = [False] * len(lay.moves)
    edges = 0
    complete = True
    guards = lay.all_guards
    depth = 0
    while True:
        frontier = _Level(levels[depth], lay)
        if frontier.big & (guards * frontier.repeat):
            return None  # a count outgrew its field: widen and start again
        _raise_bounds(frontier, lay, bounds)
        if len(visited) > max_states:
            complete = False
            break
        stuck: int | None = None
        successors: set[int] = set()
        for move in lay.moves:
            if move.guards == 0:  # no input place: enabled everywhere
                chosen: Sequence[int] = frontier.markings
                stuck = 0
            else:
                mask = move.guards * frontier.repeat
                missing = ((frontier.big + move.add * frontier.repeat) & mask) ^ mask
                chosen = list(compress(frontier.markings, map(not_, frontier.words_of(missing))))
                flags = frontier.nonzero(missing)
                stuck = flags if stuck is None else stuck & flags
            if not chosen:
                continue
            enabled[move.index] = True
            edges += len(chosen)
            if move.keep == -1:
                successors.update(map(move.delta.__add__, chosen))
            else:
                successors.update(map(move.fire, chosen))
        if stuck is None:  # a net without transitions: the initial marking is dead
            stuck = (1 << 63) * frontier.repeat
        if stuck:
            found = compress(frontier.markings, frontier.words_of(stuck))
            dead.extend((depth, packed) for packed in found)
        fresh = successors - visited
        if not fresh:
            break
        visited |= fresh
        levels.append(list(fresh))
        depth += 1
    return StateSpace(
        net=net,
        layout=lay,
        levels=levels,
        states=len(visited),
        edges=edges,
        complete=complete,
        place_bounds=dict(zip(lay.places, bounds, strict=True)),
        dead=tuple(dead),
        enabled_somewhere=frozenset(
            t.name for t, seen in zip(net.transitions, enabled, strict=True) if seen
        ),
    )


def _raise_bounds(frontier: _Level, lay: packing.Layout, bounds: list[int]) -> None:
    """Raise ``bounds`` to the largest count of each place in the frontier."""
    top = (1 << lay.bits) - 1
    size = 64 * lay.words
    while True:
        add_ = test = 0
        for i, bound in enumerate(bounds):
            if bound < top:
                # Sets the guard bit where the place holds more than its bound so far.
                add_ += ((1 << lay.bits) - (bound + 1)) << lay.offset(i)
                test |= 1 << (lay.offset(i) + lay.bits)
        if not test:
            return
        above = (frontier.big + add_ * frontier.repeat) & (test * frontier.repeat)
        if not above:
            return
        seen = _fold_segments(above, frontier.count, size)
        for i in range(len(bounds)):
            if seen >> (lay.offset(i) + lay.bits) & 1:
                bounds[i] += 1
