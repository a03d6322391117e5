"""Property tests: the packed search and Karp-Miller agree with brute force on small nets."""

from __future__ import annotations

from collections import deque

from hypothesis import example, given, settings
from hypothesis import strategies as st

from treadle.core.nets import analysis, coverability, explore, model

CAP = 400

PLACES = ("p0", "p1", "p2", "p3")

# t0 takes three tokens from p0, gives one back and adds one to p1; t1 adds a token to p0.
# Fired from p0=3, the loop (t0, t1) ends with p0=2: it grows p1 only once p0 is pumped.
REFILLED = model.Net(
    name="refilled",
    places=("p0", "p1"),
    transitions=(
        model.Transition(name="t0", inputs={"p0": 3}, outputs={"p0": 1, "p1": 1}),
        model.Transition(name="t1", inputs={}, outputs={"p0": 1}),
    ),
    initial={"p0": 3},
)


@st.composite
def nets(draw: st.DrawFn) -> model.Net:
    places = PLACES[: draw(st.integers(1, len(PLACES)))]
    weights = st.dictionaries(st.sampled_from(places), st.integers(1, 3), max_size=2)
    transitions = tuple(
        model.Transition(
            name=f"t{i}",
            inputs=draw(weights),
            outputs=draw(weights),
            resets=draw(st.frozensets(st.sampled_from(places), max_size=1))
            if draw(st.integers(0, 4)) == 0
            else frozenset(),
        )
        for i in range(draw(st.integers(1, 4)))
    )
    initial = draw(st.dictionaries(st.sampled_from(places), st.integers(0, 3), max_size=3))
    return model.Net(places=places, transitions=transitions, initial=initial)


def key(net: model.Net, marking: model.Marking) -> tuple[int, ...]:
    return net.vector(marking)


def brute_force(net: model.Net) -> tuple[dict[tuple[int, ...], int], int, set[str]] | None:
    """Distances of all reachable markings, the edge count and the transitions ever enabled."""
    start = dict(net.initial)
    distance = {key(net, start): 0}
    queue = deque([start])
    edges = 0
    enabled: set[str] = set()
    while queue:
        marking = queue.popleft()
        for t in net.transitions:
            if all(marking.get(p, 0) >= w for p, w in t.inputs.items()):
                enabled.add(t.name)
                edges += 1
                after = net.fire(marking, t.name)
                if key(net, after) not in distance:
                    if len(distance) >= CAP:
                        return None
                    distance[key(net, after)] = distance[key(net, marking)] + 1
                    queue.append(after)
    return distance, edges, enabled


@settings(max_examples=300, deadline=None)
@given(nets())
def test_search_agrees_with_brute_force(net: model.Net) -> None:
    reference = brute_force(net)
    space = explore.explore(net, max_states=CAP * 4)
    if reference is None:
        assert space.states > CAP
        return
    distance, edges, enabled = reference
    assert space.complete
    assert space.states == len(distance)
    assert space.edges == edges
    assert space.enabled_somewhere == enabled
    found = {
        key(net, space.marking(m)): depth for depth, level in enumerate(space.levels) for m in level
    }
    assert found == distance  # breadth-first levels are the distances
    for i, place in enumerate(net.places):
        assert space.place_bounds[place] == max(vector[i] for vector in distance)
    assert space.max_tokens_per_marking() == max(sum(vector) for vector in distance)
    dead = {
        vector
        for vector in distance
        if not any(
            all(vector[net.places.index(p)] >= w for p, w in t.inputs.items())
            for t in net.transitions
        )
    }
    assert {key(net, space.marking(m)) for _, m in space.dead} == dead
    for depth, packed in space.dead:
        witness = space.witness(depth, packed)
        assert len(witness) == distance[key(net, space.marking(packed))]  # shortest
        marking: dict[str, int] = dict(net.initial)
        for name in witness:
            marking = net.fire(marking, name)
        assert marking == space.marking(packed)


@settings(max_examples=300, deadline=None)
@given(nets())
@example(REFILLED)
def test_coverability_is_sound_and_complete(net: model.Net) -> None:
    reference = brute_force(net)
    cover = coverability.coverability(net, max_nodes=2_000)
    if reference is not None:
        # A finite state space means no place can be proved unbounded.
        assert cover.bounded is not False
        if not net.has_resets:
            assert cover.bounded is True
            distances = reference[0]
            for i, place in enumerate(net.places):
                assert cover.bounds[place] == max(m[i] for m in distances), place
        return
    for proof in cover.unbounded:
        if proof.pumped:
            continue
        # Replay the witness: the loop fires again from where it ends and grows its places.
        marking: dict[str, int] = dict(net.initial)
        for name in proof.prefix:
            marking = net.fire(marking, name)
        before = marking
        for _ in range(3):
            for name in proof.loop:
                marking = net.fire(marking, name)
        assert all(marking.get(p, 0) > before.get(p, 0) for p in proof.places)


def test_a_loop_that_needs_a_pumped_place_says_so() -> None:
    # t0 makes tokens from nothing; t1 needs two of them, empties the place and makes one in
    # p1. p1 is unbounded, but only by repeating t0 before each t1: the proof must name p0
    # as pumped rather than offer a loop that cannot fire as written.
    net = model.Net(
        name="pumped",
        places=("p0", "p1"),
        transitions=(
            model.Transition(name="t0", inputs={}, outputs={"p0": 1}),
            model.Transition(
                name="t1", inputs={"p0": 2}, outputs={"p1": 1}, resets=frozenset({"p0"})
            ),
        ),
        initial={},
    )
    cover = coverability.coverability(net)
    assert cover.bounded is False
    proofs = {proof.places: proof for proof in cover.unbounded}
    assert ("p1",) in proofs and proofs[("p1",)].pumped == ("p0",)


def test_a_loop_that_only_covers_its_start_after_a_nearer_loop_says_so() -> None:
    # After t0 then t1 the search makes p0 ω against the marking after t0 ([p0, p1] grows to
    # [2*p0, p1]); only with that ω does the child cover the initial [3*p0]. The proof for p1
    # must name p0 as pumped: fired as written, (t0, t1) stops after one round.
    cover = coverability.coverability(REFILLED)
    assert cover.bounded is False
    proofs = {proof.places: proof for proof in cover.unbounded}
    assert proofs[("p1",)].pumped == ("p0",)


def test_an_unbounded_net_still_gives_the_bounds_of_its_bounded_places() -> None:
    # A worker loop guarded by a lock: "done" grows for ever, the lock and the busy slot not.
    net = model.Net(
        name="grow",
        places=("lock", "busy", "done"),
        transitions=(
            model.Transition(name="take", inputs={"lock": 1}, outputs={"busy": 1}),
            model.Transition(name="give", inputs={"busy": 1}, outputs={"lock": 1, "done": 1}),
        ),
        initial={"lock": 1},
    )
    report = analysis.analyse(net)
    assert report.bounded is False
    assert report.unbounded_places == ("done",)
    assert report.place_bounds == {"lock": 1, "busy": 1, "done": None}
