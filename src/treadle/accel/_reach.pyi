"""Types of the compiled search (``_reach.c``)."""

from __future__ import annotations

from array import array

class Words:
    """Unsigned 64-bit words owned by a state space (buffer format ``Q``)."""

    def __len__(self) -> int: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...

def search(
    words: int,
    places: int,
    width: int,
    moves: array[int],
    all_guards: array[int],
    initial: array[int],
    max_states: int,
    /,
) -> tuple[Words, list[int], int, bytes, Words, list[int], list[int], bool] | None: ...
