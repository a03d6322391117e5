"""Karp-Miller coverability: a finite search that proves places unbounded.

Breadth-first over ω-markings (``OMEGA`` stands for "as many as you like"). When a new
marking covers one of its own ancestors and is larger somewhere, the firing sequence
between them can repeat forever, so those places become ω; the sequence to the ancestor and
the repeatable loop are the witness. A marking already expanded elsewhere is not expanded
again: the coverability set stays complete, because equal labels have equal successors.

With reset arcs a loop may empty the place it seems to grow, so a place is made ω only when
no transition of the loop resets it. That keeps every ω claim sound; the search may then
fail to end, which the node budget turns into "unknown".
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Mapping

from treadle.core.nets import model

OMEGA = -1
"""An unbounded count in an ω-marking."""

DEFAULT_MAX_NODES = 20_000


@dataclasses.dataclass(frozen=True, kw_only=True)
class Unbounded:
    """Proof that ``places`` grow without limit: fire ``prefix``, then ``loop`` again and again.

    When ``pumped`` is not empty, the proof builds on earlier ones: those places must first be
    filled (by repeating their own loops) for ``prefix`` and ``loop`` to be fireable as often
    as needed.
    """

    places: tuple[str, ...]
    prefix: tuple[str, ...]
    loop: tuple[str, ...]
    pumped: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, kw_only=True)
class Coverability:
    """What the Karp-Miller search found."""

    complete: bool
    """False when the node budget ran out: places not in ``unbounded`` may still be."""
    nodes: int
    unbounded: tuple[Unbounded, ...]
    """One proof per place that reached ω (first proof found for each)."""
    bounds: Mapping[str, int | None] = dataclasses.field(default_factory=dict)
    """Each place's bound when the search is complete and the net has no reset arcs (then the
    largest count a place reaches in the tree is its bound); None for ω or when unknown."""

    @property
    def bounded(self) -> bool | None:
        """True or False when known, None when the budget ran out before an ω appeared."""
        if self.unbounded:
            return False
        return True if self.complete else None

    @property
    def unbounded_places(self) -> tuple[str, ...]:
        return tuple(p for proof in self.unbounded for p in proof.places)


def _covers(big: tuple[int, ...], small: tuple[int, ...]) -> bool:
    return all(b == OMEGA or (s != OMEGA and b >= s) for b, s in zip(big, small, strict=True))


def coverability(net: model.Net, *, max_nodes: int = DEFAULT_MAX_NODES) -> Coverability:
    """Run Karp-Miller from ``net.initial``, expanding at most ``max_nodes`` ω-markings."""
    index = {place: i for i, place in enumerate(net.places)}
    moves = [
        (
            t.name,
            [(index[p], w) for p, w in t.inputs.items()],
            [(index[p], w) for p, w in t.outputs.items()],
            [index[p] for p in t.resets],
        )
        for t in net.transitions
    ]
    start = net.vector(net.initial)
    labels: list[tuple[int, ...]] = [start]
    parents: list[tuple[int, int]] = [(-1, -1)]  # (parent node, transition index)
    known = {start: 0}
    queue = deque([0])
    proofs: list[Unbounded] = []
    claimed: set[str] = set()

    def path(node: int) -> list[int]:
        moves_taken: list[int] = []
        while parents[node][0] != -1:
            node, move = parents[node]
            moves_taken.append(move)
        moves_taken.reverse()
        return moves_taken

    while queue:
        if len(labels) > max_nodes:
            return Coverability(complete=False, nodes=len(labels), unbounded=tuple(proofs))
        node = queue.popleft()
        label = labels[node]
        for position, (_name, inputs, outputs, resets) in enumerate(moves):
            if any(label[p] != OMEGA and label[p] < w for p, w in inputs):
                continue
            child = list(label)
            for p, w in inputs:
                if child[p] != OMEGA:
                    child[p] -= w
            for p in resets:
                child[p] = 0
            for p, w in outputs:
                if child[p] != OMEGA:
                    child[p] += w
            fired = grown = tuple(child)
            # Accelerate against every ancestor the child strictly covers.
            ancestor, steps = node, [position]
            # Places that are ω somewhere on the loop: the loop only fires as written once
            # those have been pumped high enough, so its proof builds on theirs.
            omega_on_loop = {p for p, count in enumerate(label) if count == OMEGA}
            while ancestor != -1:
                older = labels[ancestor]
                omega_on_loop.update(p for p, count in enumerate(older) if count == OMEGA)
                if older != grown and _covers(grown, older):
                    reset_in_loop = {p for move in steps for p in moves[move][3]}
                    rising = [
                        p
                        for p in range(len(child))
                        if child[p] != OMEGA
                        and older[p] != OMEGA
                        and child[p] > older[p]
                        and p not in reset_in_loop
                    ]
                    if rising:
                        # A nearer ancestor may already have made a place ω that the loop, as
                        # fired, leaves below this older marking: the child covers it only
                        # thanks to that ω, so the loop repeats only once the place is pumped.
                        short = {
                            p
                            for p, count in enumerate(fired)
                            if count != OMEGA and older[p] != OMEGA and count < older[p]
                        }
                        for p in rising:
                            child[p] = OMEGA
                        fresh = tuple(net.places[p] for p in rising if net.places[p] not in claimed)
                        if fresh:
                            claimed.update(fresh)
                            prefix = path(ancestor)
                            proofs.append(
                                Unbounded(
                                    places=fresh,
                                    prefix=tuple(moves[m][0] for m in prefix),
                                    loop=tuple(moves[m][0] for m in reversed(steps)),
                                    pumped=tuple(
                                        net.places[p] for p in sorted(omega_on_loop | short)
                                    ),
                                )
                            )
                        grown = tuple(child)
                parent, move = parents[ancestor]
                if parent != -1:
                    steps.append(move)
                ancestor = parent
            if grown in known:
                continue
            known[grown] = len(labels)
            labels.append(grown)
            parents.append((node, position))
            queue.append(len(labels) - 1)
    bounds: dict[str, int | None] = dict.fromkeys(net.places)
    if not net.has_resets:
        for i, place in enumerate(net.places):
            counts = [label[i] for label in labels]
            bounds[place] = None if OMEGA in counts else max(counts)
    return Coverability(complete=True, nodes=len(labels), unbounded=tuple(proofs), bounds=bounds)
