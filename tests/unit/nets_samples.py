"""The workflow nets of ``shared/wfnets.md``, read from that page (never copied here).

Each table row names a net (``**N1 ...**``), its places, and its transitions as
``name: pre→post; ...``; a row may also say ``N4 without `both```.
"""

from __future__ import annotations

import re

import nets_mcc

from treadle.core.nets import model

PAGE = nets_mcc.FOLDER.parent / "wfnets.md"
_ROW = re.compile(r"^\| \*\*(N\d+)[^|]*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|")
_WITHOUT = re.compile(r"^(N\d+) without `(\w+)`$")


def _arcs(text: str) -> dict[str, tuple[str, str]]:
    arcs = {}
    for part in text.split(";"):
        name, _, flow = part.partition(":")
        pre, _, post = flow.partition("→")
        arcs[name.strip()] = (pre.strip(), post.strip())
    return arcs


def _net(name: str, places: str, arcs: dict[str, tuple[str, str]]) -> model.Net:
    return model.Net(
        name=name,
        places=tuple(place.strip() for place in places.split(",")),
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


def load() -> dict[str, model.Net]:
    if not PAGE.exists():
        nets_mcc.folder()  # fails in CI, skips elsewhere, with the reason
    rows: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {}
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        found = _ROW.match(line)
        if found is None:
            continue
        name, places, transitions = found.groups()
        derived = _WITHOUT.match(transitions)
        if derived is not None:
            base, dropped = derived.groups()
            arcs = {t: flow for t, flow in rows[base][1].items() if t != dropped}
        else:
            arcs = _arcs(transitions)
        rows[name] = (places, arcs)
    return {name: _net(name, places, arcs) for name, (places, arcs) in rows.items()}


NETS = load() if PAGE.exists() else {}
globals().update(NETS)  # N1 ... N7, as the tests name them
