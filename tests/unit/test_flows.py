"""The flow compiler: each construct compiles to a sound workflow net that prints readably;
the token game with data; net changes checked from a marking."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import treadle as tr
from treadle.core.flows import compiler
from treadle.core.nets import analyse, changes, soundness, tokens


def a(x: Any) -> Any:
    return x


def b(x: Any) -> Any:
    return x


def c(*xs: Any) -> Any:
    return xs


def big(x: Any) -> bool:
    return bool(x > 5)


def _sequence() -> tr.Flow:
    f = tr.Flow("sequence")
    f.task(b, after=f.task(a))
    return f


def _and() -> tr.Flow:
    f = tr.Flow("and_join")
    first = f.task(a)
    f.task(c, after=[f.task(b, after=first), f.task(b, after=first)])
    return f


def _choice() -> tr.Flow:
    f = tr.Flow("choice")
    route = f.choice(after=f.task(a))
    f.task(b, after=route.when(big))
    f.task(b, after=route.otherwise())
    return f


def _xor() -> tr.Flow:
    f = tr.Flow("xor_join")
    route = f.choice(after=f.task(a))
    left = f.task(b, after=route.when(big))
    f.task(c, after=[left, route.otherwise()], join="xor")
    return f


def _or() -> tr.Flow:
    f = tr.Flow("or_join")
    pick = f.multi_choice(after=f.task(a))
    left = f.task(b, after=pick.when(big))
    right = f.task(b, after=pick.when(lambda x: x < 3, name="small"))
    f.task(c, after=[left, right], join="or")
    return f


def _discriminator() -> tr.Flow:
    f = tr.Flow("discriminator")
    first = f.task(a)
    f.task(c, after=[f.task(b, after=first), f.task(b, after=first)], join="discriminator")
    return f


def _discriminator_after_choice() -> tr.Flow:
    f = tr.Flow("discriminator_after_choice")
    pick = f.multi_choice(after=f.task(a))
    left = f.task(b, after=pick.when(big))
    right = f.task(b, after=pick.otherwise())
    f.task(c, after=[left, right], join="discriminator")
    return f


def _loop() -> tr.Flow:
    body = tr.Flow("body")
    body.task(b, after=body.task(a))
    f = tr.Flow("loop")
    f.loop(body, repeat_while=big, after=f.task(a))
    return f


def _map() -> tr.Flow:
    f = tr.Flow("map")
    f.map(b, over=lambda x: x["items"], after=f.task(a))
    return f


def _nested() -> tr.Flow:
    inner = tr.Flow("inner")
    route = inner.choice(after=inner.task(a))
    inner.task(b, after=route.when(big))
    f = tr.Flow("nested")
    looped = f.loop(inner, repeat_while=big)
    f.task(c, after=[looped, f.task(a)], join="or")
    return f


BUILDERS: dict[str, Callable[[], tr.Flow]] = {
    "sequence": _sequence,
    "and": _and,
    "choice": _choice,
    "xor": _xor,
    "or": _or,
    "discriminator": _discriminator,
    "discriminator_after_choice": _discriminator_after_choice,
    "loop": _loop,
    "map": _map,
    "nested": _nested,
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_each_construct_compiles_to_a_sound_workflow_net(name: str) -> None:
    net = BUILDERS[name]().to_net()
    assert soundness.structure(net) == ("start", "end")
    report = analyse(net)
    assert report.ok, report.format()
    assert report.soundness is not None and report.soundness.sound


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_compiled_nets_round_trip_through_pnml(name: str) -> None:
    net = BUILDERS[name]().to_net()
    assert tr.Net.from_pnml(net.to_pnml()) == net


def test_describe_prints_one_transition_a_line() -> None:
    text = _xor().describe()
    assert text.splitlines()[0] == (
        "net xor_join: 8 places, 8 transitions, initial [start], final [end]"
    )
    assert "  choice  [a>choice] -> [choice.big>b, choice.otherwise>c]  (routing)" in text
    assert "  b.skip  [choice.big>b] -> [b>c]  if skipped  (routing)" in text
    assert "  c       [b>c, choice.otherwise>c] -> [c>finish]  if ran  step c" in text


def test_map_is_one_multi_instance_transition() -> None:
    compiled = _map().compile()
    assert [t.name for t in compiled.net.transitions if t.step] == ["a", "b"]
    assert compiled.steps["b"].multi


def test_tasks_without_choices_get_no_skip_twins() -> None:
    names = [t.name for t in _and().to_net().transitions]
    assert names == ["begin", "a", "b", "b_2", "c", "finish"]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda f: f.task(a, after=[f.task(b)], join="or"), "needs two or more"),
        (lambda f: f.task(a, join="maybe"), "join must be one of"),
        (lambda f: f.task(a, name="end"), "reserved"),
        (lambda f: f.task(a, name="x.y"), "letters, digits"),
        (lambda f: f.task(a, after=tr.Flow("other").task(b)), "not a task or branch of this"),
        (lambda f: f.task(42), "takes a step function"),
        (lambda f: f.task(a, timeout=-1), "positive number"),
        (lambda f: f.loop(f, repeat_while=big), "cannot loop over itself"),
        (lambda f: f.choice(after=f.task(a)).flow.to_net(), "has no branch"),
    ],
)
def test_mistakes_are_named(build: Callable[[tr.Flow], Any], message: str) -> None:
    flow = tr.Flow("wrong")
    with pytest.raises(tr.InvalidFlowError, match=message):
        result = build(flow)
        if hasattr(result, "flow"):
            result.flow.to_net()


def test_duplicate_default_names_get_a_suffix() -> None:
    f = tr.Flow("twice")
    first = f.task(a)
    second = f.task(a, after=first)
    assert (first.name, second.name) == ("a", "a_2")
    with pytest.raises(tr.InvalidFlowError, match="already has a task called 'a'"):
        f.task(b, name="a")


# -- the token game with data ------------------------------------------------------------------


def _play(flow: tr.Flow, data: Any, results: Callable[[str, tuple[Any, ...]], Any]) -> Any:
    """Run a compiled flow without an engine: each step's result comes from ``results``."""
    compiled = flow.compile()
    net = compiled.net
    state = tokens.Tokens(net.places, net.initial, data)
    for _ in range(100):
        if state.counts() == dict(net.final or {}):
            return state.result()
        planned = state.plan(net, compiled.behaviours)
        assert planned, f"stuck at {state.counts()}"
        for firing in planned:
            behaviour = compiled.behaviours[firing.transition.name]
            calls = behaviour.calls(firing.consumed)
            outcome = [results(firing.transition.name, args) for args in calls]
            state.complete(firing, behaviour.produce(firing.transition, firing.consumed, outcome))
    raise AssertionError("did not finish")


def test_or_join_gets_none_for_skipped_branches() -> None:
    def results(name: str, args: tuple[Any, ...]) -> Any:
        return args if name == "c" else args[0]

    assert _play(_or(), 9, results) == (9, None)
    assert _play(_or(), 1, results) == (None, 1)
    assert _play(_or(), 4, results) is None  # no branch: the join is skipped


def test_plan_resolves_conflicts_by_declaration_order() -> None:
    net = tr.Net(
        name="conflict",
        places=("p", "q", "r"),
        transitions=(
            tr.Transition(name="first", inputs={"p": 1}, outputs={"q": 1}),
            tr.Transition(name="second", inputs={"p": 1}, outputs={"r": 1}),
        ),
        initial={"p": 3},
    )
    state = tokens.Tokens(net.places, net.initial, "x")
    planned = state.plan(net, {})
    assert [f.transition.name for f in planned] == ["first"] * 3
    assert tokens.sequential_markings({"p": 3}, planned)[-1] == {"q": 3}


def test_guards_see_the_oldest_tokens() -> None:
    net = tr.Net(
        name="guarded",
        places=("p", "q"),
        transitions=(tr.Transition(name="t", inputs={"p": 1}, outputs={"q": 1}, guard="g"),),
    )
    behaviour = tokens.NetBehaviour(guard=lambda x: x > 1)
    state = tokens.Tokens(net.places, {"p": 1}, 5)
    assert len(state.plan(net, {"t": behaviour})) == 1
    state = tokens.Tokens(net.places, {"p": 1}, 0)
    assert state.plan(net, {"t": behaviour}) == []


# -- changes -----------------------------------------------------------------------------------

LINE = tr.Net(
    name="line",
    places=("i", "p", "o"),
    transitions=(
        tr.Transition(name="first", inputs={"i": 1}, outputs={"p": 1}),
        tr.Transition(name="second", inputs={"p": 1}, outputs={"o": 1}),
    ),
    initial={"i": 1},
    final={"o": 1},
)


def test_change_applies_and_round_trips_through_json() -> None:
    change = tr.NetChange(
        add_places=("review",),
        remove_arcs=(tr.Arc(source="first", target="p"),),
        add_transitions=(tr.Transition(name="approve", inputs={"review": 1}, outputs={"p": 1}),),
        add_arcs=(tr.Arc(source="first", target="review"),),
    )
    assert tr.NetChange.from_json(change.to_json()) == change
    changed = changes.apply(LINE, change)
    assert changed.transition("first").outputs == {"review": 1}
    assert changes.check(changed, {"i": 1}, added=["approve"]) == ()


def test_change_is_checked_from_the_current_marking() -> None:
    shortcut = tr.NetChange(
        add_transitions=(tr.Transition(name="shortcut", inputs={"i": 1}, outputs={"o": 1}),)
    )
    changed = changes.apply(LINE, shortcut)
    assert changes.check(changed, {"i": 1}, added=["shortcut"]) == ()
    found = changes.check(changed, {"p": 1}, added=["shortcut"])
    assert [f.kind.value for f in found] == ["dead_transition"]
    leak = changes.apply(
        LINE,
        tr.NetChange(
            add_transitions=(tr.Transition(name="copy", inputs={"p": 1}, outputs={"o": 2}),)
        ),
    )
    kinds = {f.kind.value for f in changes.check(leak, {"p": 1}, added=["copy"])}
    assert "deadlock" in kinds
    found = changes.check(LINE, {"p": 1}, removed_places=["p"])
    assert "holds 1 tokens" in found[0].message


def test_bad_changes_are_named() -> None:
    with pytest.raises(tr.UsageError, match="changes nothing"):
        tr.NetChange()
    with pytest.raises(tr.UsageError, match="no transition 'nope'"):
        changes.apply(LINE, tr.NetChange(remove_transitions=("nope",)))
    with pytest.raises(tr.UsageError, match="cannot go while"):
        changes.apply(LINE, tr.NetChange(remove_places=("p",)))
    with pytest.raises(tr.UsageError, match="no field"):
        tr.NetChange.from_json({"add_place": ["x"]})


def test_describe_of_a_plain_net() -> None:
    assert compiler.describe(LINE).splitlines() == [
        "net line: 3 places, 2 transitions, initial [i], final [o]",
        "  first   [i] -> [p]  (routing)",
        "  second  [p] -> [o]  (routing)",
    ]
