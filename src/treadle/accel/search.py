"""The reachability search of ``core.nets.explore``, run by the compiled ``_reach`` module.

Same layout, same packed ints, same widening of fields, same ``max_states`` rule: only the
inner loop moves to C (``_reach.c`` says how it works). The state space comes back as one
block of 64-bit words that the levels (``packing.PackedLevel``) view without copying, so a
marking costs 8 bytes a word instead of a Python int and a list slot.
"""

from __future__ import annotations

import itertools
from array import array
from typing import TYPE_CHECKING, TypeAlias

from treadle import errors
from treadle.core.nets import explore as pure
from treadle.core.nets import model, packing

if TYPE_CHECKING:
    from collections.abc import Callable

    from treadle.accel import _reach

_Found: TypeAlias = (
    "tuple[_reach.Words, list[int], int, bytes, _reach.Words, list[int], list[int], bool]"
)
_Search: TypeAlias = (
    "Callable[[int, int, int, array[int], array[int], array[int], int], _Found | None]"
)

_WORD = (1 << 64) - 1
_MAX_WIDTH = 63
"""Widest field the C search takes (a field then spans at most two words); wider: pure."""
_MAX_STATES = (1 << 63) - 1
"""``max_states`` goes to C as an unsigned 64-bit number; more cannot be stored anyway."""

_loaded: _Search | None = None
_failure: str | None = None


def compiled() -> _Search | None:
    """The compiled search, imported on first use; None when this install has none."""
    global _loaded, _failure
    if _loaded is None and _failure is None:
        try:
            from treadle.accel import _reach
        except ImportError as exc:  # built at install time; a source checkout may lack it
            _failure = str(exc)
        else:
            _loaded = _reach.search
    return _loaded


def why_unavailable() -> str | None:
    """Why the compiled search cannot be loaded, or None when it can."""
    compiled()
    return _failure


def explore(net: model.Net, *, max_states: int = pure.DEFAULT_MAX_STATES) -> pure.StateSpace:
    """``core.nets.explore.explore``, in C: the same ``StateSpace``, levels packed.

    Raises ``treadle.errors.UsageError`` when this install has no compiled search (use
    ``treadle.accel.best_explorer``, which then picks the pure one).
    """
    if not isinstance(net, model.Net):
        raise errors.UsageError(f"explore takes a treadle Net, not {type(net).__name__}")
    pure.check_max_states(max_states)
    search = compiled()
    if search is None:
        raise errors.UsageError(
            f"the compiled reachability search is not installed ({_failure}); reinstall "
            "Treadle with a C compiler present, or use treadle.accel.best_explorer"
        )
    bits = packing.initial_bits(net)
    while True:
        lay = packing.layout(net, bits)
        if lay.width > _MAX_WIDTH:
            # Counts past 2**62 are not a workflow's; leave them to the exact pure search.
            return pure.explore(net, max_states=max_states)
        found = search(
            lay.words,
            len(lay.places),
            lay.width,
            _moves(lay),
            _words(lay.all_guards, lay.words),
            _words(lay.pack(net.vector(net.initial)), lay.words),
            min(max_states, _MAX_STATES),
        )
        if found is not None:
            return _space(net, lay, found)
        bits += 1  # a count outgrew its field: widen and start again, as the pure search does


def _words(value: int, count: int) -> array[int]:
    """``value`` as ``count`` 64-bit words, lowest first (two's complement when negative)."""
    return array("Q", [(value >> (64 * i)) & _WORD for i in range(count)])


def _moves(lay: packing.Layout) -> array[int]:
    packed = array("Q")
    for move in lay.moves:
        for value in (move.add, move.guards, move.pre, move.post, move.keep):
            packed.extend(_words(value, lay.words))
    return packed


def _space(net: model.Net, lay: packing.Layout, found: _Found) -> pure.StateSpace:
    states, starts, edges, enabled, dead, dead_levels, bounds, complete = found
    words = lay.words
    view = memoryview(states)
    levels = [
        packing.PackedLevel(view[start * words : stop * words], words)
        for start, stop in itertools.pairwise(starts)
    ]
    dead_view = memoryview(dead)
    dead_markings = [_join(dead_view[i * words : (i + 1) * words]) for i in range(len(dead_levels))]
    return pure.StateSpace(
        net=net,
        layout=lay,
        levels=levels,
        states=starts[-1],
        edges=edges,
        complete=complete,
        place_bounds=dict(zip(lay.places, bounds, strict=True)),
        dead=tuple(zip(dead_levels, dead_markings, strict=True)),
        enabled_somewhere=frozenset(
            t.name for t, seen in zip(net.transitions, enabled, strict=True) if seen
        ),
    )


def _join(words: memoryview) -> int:
    value = 0
    for word in reversed(words.tolist()):
        value = (value << 64) | word
    return value
