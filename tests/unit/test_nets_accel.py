"""The compiled search (``treadle.accel``) gives what the pure search gives, on every net.

The pure search in ``core.nets.explore`` is the reference; these tests hold the compiled one
to it field by field (counts, levels, bounds, dead markings, enabled transitions, layout),
and check its witnesses by replaying them.
"""

from __future__ import annotations

import nets_mcc
import nets_samples as wf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_nets_properties import nets

from treadle import accel, errors
from treadle.accel import search
from treadle.core.nets import analysis, explore, model, packing

SMALL = [n for n in nets_mcc.NAMES if n != "Kanban-PT-00005"]


def mcc(name: str) -> model.Net:
    return model.Net.from_pnml((nets_mcc.folder() / f"{name}.pnml").read_bytes())


def replay(net: model.Net, witness: tuple[str, ...]) -> dict[str, int]:
    marking: dict[str, int] = dict(net.initial)
    for name in witness:
        marking = net.fire(marking, name)
    return marking


def assert_same(pure: explore.StateSpace, fast: explore.StateSpace) -> None:
    """Everything a StateSpace says, compared; levels as sets (their order is free)."""
    assert fast.layout == pure.layout
    assert (fast.states, fast.edges, fast.complete) == (pure.states, pure.edges, pure.complete)
    assert [set(level) for level in fast.levels] == [set(level) for level in pure.levels]
    assert [len(level) for level in fast.levels] == [len(level) for level in pure.levels]
    assert fast.place_bounds == pure.place_bounds
    assert sorted(fast.dead) == sorted(pure.dead)
    assert fast.enabled_somewhere == pure.enabled_somewhere
    assert fast.visited() == pure.visited()


def assert_witnesses_replay(space: explore.StateSpace, pure: explore.StateSpace) -> None:
    for depth, packed in space.dead:
        witness = space.witness(depth, packed)
        assert len(witness) == depth == len(pure.witness(depth, packed))  # shortest
        assert replay(space.net, witness) == space.marking(packed)


def test_this_install_has_the_compiled_search() -> None:
    # scripts/setup builds it; a missing compiler would make every figure below pure Python.
    assert search.why_unavailable() is None
    assert accel.available()
    assert accel.best_explorer(mcc("ERK-PT-000001")) is search.explore


@pytest.mark.parametrize("name", SMALL)
def test_every_small_mcc_net_gives_the_same_state_space(name: str) -> None:
    net = mcc(name)
    expected = nets_mcc.oracle()[name]
    pure = explore.explore(net, max_states=10 * expected["states"])
    fast = search.explore(net, max_states=10 * expected["states"])
    assert_same(pure, fast)
    assert (fast.states, fast.edges) == (expected["states"], expected["transitions"])
    assert max(fast.place_bounds.values()) == expected["max_token_in_place"]
    assert fast.max_tokens_per_marking() == expected["max_token_per_marking"]
    assert_witnesses_replay(fast, pure)


@pytest.mark.slow
def test_kanban_matches_the_oracle() -> None:
    # 2.5 million markings: in the suite only because the compiled search takes about a second.
    expected = nets_mcc.oracle()["Kanban-PT-00005"]
    space = search.explore(mcc("Kanban-PT-00005"), max_states=10_000_000)
    assert space.complete
    assert (space.states, space.edges) == (expected["states"], expected["transitions"])
    assert max(space.place_bounds.values()) == expected["max_token_in_place"]
    assert space.dead == ()
    assert space.layout.words == 1 and sum(map(len, space.levels)) == space.states


@pytest.mark.parametrize("limit", [1, 2, 50, 1_000, 20_000])
def test_the_state_bound_stops_both_searches_at_the_same_level(limit: int) -> None:
    net = mcc("Philosophers-PT-000010")
    pure = explore.explore(net, max_states=limit)
    fast = search.explore(net, max_states=limit)
    assert not fast.complete
    assert_same(pure, fast)


@settings(max_examples=300, deadline=None)
@given(nets(), st.integers(1, 500))
def test_random_small_nets(net: model.Net, limit: int) -> None:
    # The generator of test_nets_properties: up to 4 places, weights up to 3, reset arcs.
    pure = explore.explore(net, max_states=limit)
    fast = search.explore(net, max_states=limit)
    assert_same(pure, fast)
    assert_witnesses_replay(fast, pure)


@st.composite
def wide_nets(draw: st.DrawFn) -> model.Net:
    """Nets whose markings take two to four 64-bit words and whose counts outgrow fields."""
    size = draw(st.integers(33, 70))  # 2 bits a field at least: more than one word
    places = tuple(f"p{i}" for i in range(size))
    some = st.sampled_from(places)
    weights = st.dictionaries(some, st.integers(1, 9), min_size=1, max_size=3)
    transitions = tuple(
        model.Transition(
            name=f"t{i}",
            inputs=draw(weights),
            outputs=draw(st.dictionaries(some, st.integers(1, 9), max_size=3)),
            resets=draw(st.frozensets(some, max_size=2)) if draw(st.booleans()) else frozenset(),
        )
        for i in range(draw(st.integers(1, 8)))
    )
    initial = draw(st.dictionaries(some, st.integers(0, 12), min_size=1, max_size=6))
    return model.Net(places=places, transitions=transitions, initial=initial)


@settings(max_examples=150, deadline=None)
@given(wide_nets(), st.integers(1, 400))
def test_random_wide_nets(net: model.Net, limit: int) -> None:
    pure = explore.explore(net, max_states=limit)
    fast = search.explore(net, max_states=limit)
    assert fast.layout.words >= 2
    assert_same(pure, fast)
    assert_witnesses_replay(fast, pure)


def test_fields_widen_across_a_word_boundary() -> None:
    # Each d<i> turns a token of p<i> into two of p<i+1>: p5 ends with 32 tokens, so the
    # search starts with 2-bit counts and widens to 6; with 30 places of 7 bits the fields
    # straddle words (place 9 spans bits 63 to 69).
    places = tuple(f"p{i}" for i in range(30))
    doubling = tuple(
        model.Transition(name=f"d{i}", inputs={f"p{i}": 1}, outputs={f"p{i + 1}": 2})
        for i in range(5)
    )
    net = model.Net(places=places, transitions=doubling, initial={"p0": 1})
    pure = explore.explore(net)
    fast = search.explore(net)
    assert packing.initial_bits(net) == 2
    assert fast.layout.bits == 6 and fast.layout.words == 4
    assert_same(pure, fast)
    assert fast.place_bounds["p5"] == 32
    (dead,) = fast.dead
    assert fast.marking(dead[1]) == {"p5": 32}
    assert_witnesses_replay(fast, pure)


def test_a_net_without_transitions_is_one_dead_marking() -> None:
    net = model.Net(places=("p",), transitions=(), initial={"p": 2})
    fast = search.explore(net)
    assert_same(explore.explore(net), fast)
    assert fast.dead == ((0, fast.packed({"p": 2})),)


def test_analyse_gives_the_same_report() -> None:
    # Without reset arcs the witnesses are the same sequences too, so whole reports compare.
    for net in (*wf.NETS.values(), mcc("Philosophers-PT-000005"), mcc("Peterson-PT-2")):
        assert accel.analyse(net) == analysis.analyse(net), net.name
    small = mcc("Philosophers-PT-000010")
    assert accel.analyse(small, max_states=500) == analysis.analyse(small, max_states=500)


def test_analyse_accepts_the_search_as_a_parameter() -> None:
    net = mcc("Philosophers-PT-000010")
    chosen: list[int] = []

    def counting(net: model.Net, *, max_states: int = 10) -> explore.StateSpace:
        chosen.append(max_states)
        return search.explore(net, max_states=max_states)

    report = analysis.analyse(net, explorer=counting, max_states=1_234_567)
    assert chosen == [1_234_567]
    assert report.states == 59_049 and report.complete


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="max_states must be a positive int"):
        search.explore(mcc("ERK-PT-000001"), max_states=0)
    with pytest.raises(errors.UsageError, match="treadle Net"):
        search.explore("ERK-PT-000001")  # type: ignore[arg-type]
    with pytest.raises(errors.UsageError, match="treadle Net"):
        accel.best_explorer(None)  # type: ignore[arg-type]


def test_packed_levels_behave_as_sequences() -> None:
    net = mcc("Philosophers-PT-000010")  # two words a marking
    space = search.explore(net, max_states=2_000)
    level = space.levels[3]
    assert isinstance(level, packing.PackedLevel)
    values = list(level)
    assert values == sorted(values) and len(values) == len(level) > 1
    assert level[0] == values[0] and level[-1] == values[-1]
    assert list(level[1:3]) == values[1:3]
    assert all(value in level for value in values)
    assert values[0] + 1 not in level and -1 not in level and "x" not in level
    assert 1 << 200 not in level
    with pytest.raises(IndexError):
        level[len(level)]
    view = level._data
    assert view.readonly  # the searched markings cannot be changed under the StateSpace
    with pytest.raises(TypeError):
        view[0] = 0


def test_a_level_refuses_a_buffer_of_another_shape() -> None:
    with pytest.raises(ValueError, match="format 'Q'"):
        packing.PackedLevel(memoryview(b"12345678"), 1)
    words = memoryview(bytes(24)).cast("Q")
    with pytest.raises(ValueError, match="whole markings of 2 words"):
        packing.PackedLevel(words, 2)


def test_a_reset_net_keeps_its_witnesses_shortest() -> None:
    # A cancellation region: ``cancel`` empties a and b whatever they hold.
    net = model.Net(
        places=("i", "a", "b", "o"),
        transitions=(
            model.Transition(name="split", inputs={"i": 1}, outputs={"a": 1, "b": 1}),
            model.Transition(name="more", inputs={"a": 1}, outputs={"a": 2}),
            model.Transition(
                name="cancel", inputs={"b": 1}, outputs={"o": 1}, resets=frozenset({"a"})
            ),
        ),
        initial={"i": 1},
    )
    pure = explore.explore(net, max_states=200)
    fast = search.explore(net, max_states=200)
    assert_same(pure, fast)
    final = fast.packed({"o": 1})
    depth = next(d for d, level in enumerate(fast.levels) if final in level)
    assert fast.witness(depth, final) == ("split", "cancel")


def test_counts_too_wide_for_the_c_search_go_to_the_pure_one() -> None:
    # A weight of 2**62 needs 63-bit counts (64-bit fields): the compiled search hands over.
    # (The marking stays small: the pure search raises place bounds one token at a time.)
    net = model.Net(
        places=("a", "b"),
        transitions=(
            model.Transition(name="t", inputs={"a": 2**62}, outputs={"b": 1}),
            model.Transition(name="u", inputs={"a": 1}, outputs={"b": 2}),
        ),
        initial={"a": 1},
    )
    fast = search.explore(net)
    assert fast.layout.width == 64
    assert_same(explore.explore(net), fast)
    assert all(isinstance(level, list) for level in fast.levels)  # the pure search's levels
