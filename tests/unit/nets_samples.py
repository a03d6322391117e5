"""The workflow nets of ``shared/wfnets.md``, built in code, with their published verdicts."""

from __future__ import annotations

from treadle.core.nets import model


def _net(name: str, places: str, arcs: dict[str, tuple[str, str]]) -> model.Net:
    """``arcs`` maps a transition to (input places, output places), comma separated."""
    return model.Net(
        name=name,
        places=tuple(places.split(",")),
        transitions=tuple(
            model.Transition(
                name=t,
                inputs=dict.fromkeys(pre.split(","), 1) if pre else {},
                outputs=dict.fromkeys(post.split(","), 1) if post else {},
            )
            for t, (pre, post) in arcs.items()
        ),
        initial={"i": 1},
        final={"o": 1},
    )


N1 = _net(
    "N1",
    "i,p1,p2,p3,p4,o",
    {"split": ("i", "p1,p2"), "a": ("p1", "p3"), "b": ("p2", "p4"), "join": ("p3,p4", "o")},
)
N2 = _net(
    "N2",
    "i,p1,p2,p3,o",
    {"split": ("i", "p1,p2"), "a": ("p1", "p3"), "b": ("p2", "p3"), "end": ("p3", "o")},
)
N3 = _net("N3", "i,p1,p2,o", {"a": ("i", "p1"), "b": ("i", "p2"), "join": ("p1,p2", "o")})
_N6_ARCS = {
    "chooseA": ("i", "p1,c1"),
    "chooseB": ("i", "p1,c2"),
    "finA": ("p1,c1", "o"),
    "finB": ("p1,c2", "o"),
}
N4 = _net("N4", "i,p1,c1,c2,o", {**_N6_ARCS, "both": ("p1,c1,c2", "o")})
N5 = _net(
    "N5",
    "i,p1,p2,o",
    {"start": ("i", "p1"), "spawn": ("p1", "p1,p2"), "stop": ("p1", "o"), "child": ("p2", "o")},
)
N6 = _net("N6", "i,p1,c1,c2,o", _N6_ARCS)
N7 = _net("N7", "i,p1,o", {"start": ("i", "p1"), "redo": ("p1", "p1"), "stop": ("p1", "o")})
