"""The compact marking: one Python int, a fixed-width field per place.

Place ``i`` owns bits ``[i*W, (i+1)*W)`` with ``W = bits + 1``: ``bits`` hold the count and the
top bit of the field (the *guard bit*) stays zero in every valid marking. The guard bit is
what makes the search fast: adding ``2**bits - w`` to a field sets its guard bit exactly when
the field holds at least ``w`` tokens, and no carry leaves the field. So one addition and one
``and`` test every input place of a transition at once, for one marking or, on a big int that
concatenates many markings, for a whole breadth-first level (see ``explore``).

Firing is integer addition of a precomputed delta. A field that outgrows ``bits`` sets its
guard bit (a delta is kept below ``2**bits``, so it never carries further); the search sees
that and starts again with wider fields.

``PackedLevel`` holds a whole level as 64-bit words instead of Python ints: how a compiled
search (``treadle.accel``) hands back millions of markings at 8 bytes a word.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import overload

from treadle.core.nets import model


@dataclasses.dataclass(frozen=True, kw_only=True)
class Move:
    """One transition in packed form."""

    index: int
    """Position of the transition in ``Net.transitions``."""
    add: int
    """Added to a marking: sets the guard bit of every input field that holds enough tokens."""
    guards: int
    """The guard bits of the input fields."""
    pre: int
    """Tokens consumed, packed."""
    post: int
    """Tokens produced, packed."""
    keep: int
    """``and``-mask that clears reset places; -1 (all ones) when there is no reset arc."""

    @property
    def delta(self) -> int:
        """``post - pre``: firing without resets is ``marking + delta``."""
        return self.post - self.pre

    def enabled(self, packed: int) -> bool:
        return (packed + self.add) & self.guards == self.guards

    def fire(self, packed: int) -> int:
        if self.keep == -1:
            return packed + self.post - self.pre
        return ((packed - self.pre) & self.keep) + self.post


@dataclasses.dataclass(frozen=True, kw_only=True)
class Layout:
    """How markings of one net are packed into ints."""

    places: tuple[str, ...]
    bits: int
    """Bits per count; a count reaches at most ``2**bits - 1`` before the fields widen."""
    moves: tuple[Move, ...]

    @property
    def width(self) -> int:
        """Bits per field, the guard bit included."""
        return self.bits + 1

    @property
    def size(self) -> int:
        """Bits per marking."""
        return self.width * len(self.places)

    @property
    def words(self) -> int:
        """64-bit words per marking when a level is laid out as one big int."""
        return max(1, -(-self.size // 64))

    @property
    def all_guards(self) -> int:
        return sum(1 << (i * self.width + self.bits) for i in range(len(self.places)))

    def offset(self, place: int) -> int:
        return place * self.width

    def pack(self, vector: tuple[int, ...]) -> int:
        return sum(count << (i * self.width) for i, count in enumerate(vector))

    def unpack(self, packed: int) -> tuple[int, ...]:
        mask = (1 << self.width) - 1
        return tuple((packed >> (i * self.width)) & mask for i in range(len(self.places)))

    def marking(self, packed: int) -> dict[str, int]:
        return {p: c for p, c in zip(self.places, self.unpack(packed), strict=True) if c}


def initial_bits(net: model.Net) -> int:
    """The narrowest field that holds the initial counts and every arc weight."""
    largest = max(
        [1, *net.initial.values()]
        + [w for t in net.transitions for w in (*t.inputs.values(), *t.outputs.values())]
    )
    return max(1, largest.bit_length())


def layout(net: model.Net, bits: int) -> Layout:
    """Pack ``net`` with ``bits`` bits per count."""
    index = {place: i for i, place in enumerate(net.places)}
    width = bits + 1
    moves = []
    for position, transition in enumerate(net.transitions):
        add = guards = pre = post = 0
        for place, weight in transition.inputs.items():
            shift = index[place] * width
            add += ((1 << bits) - weight) << shift
            guards |= 1 << (shift + bits)
            pre += weight << shift
        for place, weight in transition.outputs.items():
            post += weight << (index[place] * width)
        keep = -1
        for place in transition.resets:
            keep &= ~(((1 << width) - 1) << (index[place] * width))
        moves.append(Move(index=position, add=add, guards=guards, pre=pre, post=post, keep=keep))
    return Layout(places=net.places, bits=bits, moves=tuple(moves))


class PackedLevel(Sequence[int]):
    """Packed markings stored side by side as unsigned 64-bit words, in ascending order.

    Marking ``i`` is words ``[i*words, (i+1)*words)`` of ``data`` (a buffer of format ``Q``),
    lowest word first. A level held this way costs 8 bytes a word instead of a Python int
    and a list slot per marking, and, being sorted, answers ``in`` by bisection without a
    set: what an accelerated search hands back for millions of markings.
    """

    __slots__ = ("_data", "_words")

    def __init__(self, data: memoryview, words: int) -> None:
        if data.format != "Q" or words < 1 or len(data) % words:
            raise ValueError(
                f"a packed level needs a buffer of format 'Q' holding whole markings of "
                f"{words} words, not {len(data)} items of format {data.format!r}"
            )
        self._data = data
        self._words = words

    def __len__(self) -> int:
        return len(self._data) // self._words

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[int]: ...

    def __getitem__(self, index: int | slice) -> int | Sequence[int]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        count = len(self)
        if index < 0:
            index += count
        if not 0 <= index < count:
            raise IndexError(f"marking {index} of a level of {count}")
        if self._words == 1:
            value: int = self._data[index]
            return value
        return self._combine(index * self._words)

    def _combine(self, start: int) -> int:
        data = self._data
        value = 0
        for word in range(self._words - 1, -1, -1):
            value = (value << 64) | data[start + word]
        return value

    def __iter__(self) -> Iterator[int]:
        if self._words == 1:
            return iter(self._data)
        return map(self._combine, range(0, len(self._data), self._words))

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int) or value < 0 or value >> (64 * self._words):
            return False
        if self._words == 1:
            # bisect on the memoryview itself: the comparisons run in C.
            at = bisect_left(self._data, value)
            return at < len(self._data) and self._data[at] == value
        at = bisect_left(self, value)
        return at < len(self) and self[at] == value
