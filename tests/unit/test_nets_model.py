"""The net model: validation with clear errors, firing, printing markings."""

from __future__ import annotations

import pytest

from treadle import errors
from treadle.core.nets import model


def net(**changes: object) -> model.Net:
    fields: dict[str, object] = {
        "name": "order",
        "places": ("i", "p", "o"),
        "transitions": (
            model.Transition(name="a", inputs={"i": 1}, outputs={"p": 2}, step="charge"),
            model.Transition(name="b", inputs={"p": 2}, outputs={"o": 1}, resets={"i"}),
        ),
        "initial": {"i": 1},
        "final": {"o": 1},
    }
    fields.update(changes)
    return model.Net(**fields)  # type: ignore[arg-type]


def test_a_valid_net_is_a_frozen_value() -> None:
    built = net()
    assert built.initial == {"i": 1}
    assert built.transition("a").step == "charge"
    assert built.transition("b").routing
    assert built.has_resets
    with pytest.raises(AttributeError):
        built.name = "other"  # type: ignore[misc]
    assert built == net()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"places": ("i", "p", "i", "o")}, "duplicate place 'i'"),
        (
            {"transitions": (model.Transition(name="a", inputs={"x": 1}),)},
            "input arc of transition 'a' names unknown place 'x'",
        ),
        (
            {"transitions": (model.Transition(name="a", resets={"x"}),)},
            "reset arc of transition 'a' names unknown place 'x'",
        ),
        (
            {"transitions": (model.Transition(name="a"), model.Transition(name="a"))},
            "transition 'a' has the name of another transition",
        ),
        ({"transitions": (model.Transition(name="p"),)}, "has the name of another place"),
        ({"initial": {"q": 1}}, "initial marking names unknown place 'q'"),
        ({"final": {"o": -1}}, "cannot hold -1 tokens"),
    ],
)
def test_mistakes_are_named(changes: dict[str, object], message: str) -> None:
    with pytest.raises(errors.InvalidNetError, match=message):
        net(**changes)


@pytest.mark.parametrize("weight", [0, -2, 1.5, True])
def test_arc_weights_are_positive_integers(weight: object) -> None:
    with pytest.raises(errors.InvalidNetError, match="transition 'a' inputs"):
        model.Transition(name="a", inputs={"i": weight})  # type: ignore[dict-item]


def test_invalid_net_error_is_a_usage_error() -> None:
    assert issubclass(errors.InvalidNetError, errors.UsageError)
    assert issubclass(errors.PnmlError, errors.InvalidNetError)


def test_fire_follows_weights_and_resets() -> None:
    built = net(initial={"i": 2})
    after = built.fire(built.initial, "a")
    assert after == {"i": 1, "p": 2}
    assert built.fire(after, "b") == {"o": 1}  # the reset arc empties i
    with pytest.raises(errors.InvalidNetError, match="'i' holds 0 of the 1 tokens"):
        built.fire({}, "a")


def test_show_marking_prints_counts_in_place_order() -> None:
    assert model.show_marking({"o": 1, "p": 2}, ("i", "p", "o")) == "[2*p, o]"
    assert model.show_marking({}) == "[]"
