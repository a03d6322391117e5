"""PNML import and export: every MCC file loads and survives a round trip."""

from __future__ import annotations

from pathlib import Path

import nets_mcc
import nets_samples
import pytest

from treadle import errors
from treadle.core.nets import model


@pytest.mark.parametrize("name", nets_mcc.NAMES)
def test_every_mcc_file_loads_and_round_trips(name: str) -> None:
    path = nets_mcc.folder() / f"{name}.pnml"
    net = model.Net.from_pnml(path.read_bytes())
    assert net.name == name
    assert net.places and net.transitions
    assert model.Net.from_pnml(net.to_pnml()) == net
    assert model.Net.from_pnml(path.read_bytes()) == net


def test_treadle_extensions_round_trip() -> None:
    net = model.Net(
        name="cancel",
        places=("i", "busy", "o"),
        transitions=(
            model.Transition(name="go", inputs={"i": 1}, outputs={"busy": 3}, step="work"),
            model.Transition(
                name="stop", inputs={"busy": 2}, outputs={"o": 1}, resets={"busy"}, guard="ok"
            ),
        ),
        initial={"i": 2},
        final={"o": 1},
    )
    text = net.to_pnml()
    assert 'tool="treadle"' in text
    assert model.Net.from_pnml(text) == net


@pytest.mark.parametrize("sample", [nets_samples.N1, nets_samples.N4, nets_samples.N5])
def test_workflow_nets_round_trip(sample: model.Net, tmp_path: Path) -> None:
    path = tmp_path / "net.pnml"
    path.write_text(sample.to_pnml())
    assert model.Net.from_pnml(path.read_bytes()) == sample


def test_another_tools_reset_arcs_and_pages_load() -> None:
    text = """<pnml><net id="n" type="http://www.pnml.org/version-2009/grammar/ptnet">
      <page id="outer"><place id="a"><initialMarking><text>2</text></initialMarking></place>
        <page id="inner"><transition id="t"/><place id="b"/></page>
        <arc id="1" source="a" target="t"><inscription><text>2</text></inscription></arc>
        <arc id="2" source="t" target="b"/>
        <arc id="3" source="b" target="t"><type value="reset"/></arc>
      </page></net></pnml>"""
    net = model.Net.from_pnml(text)
    assert net.places == ("a", "b")
    transition = net.transition("t")
    assert dict(transition.inputs) == {"a": 2}
    assert transition.resets == frozenset({"b"})
    assert net.initial == {"a": 2}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<pnml><net", "not well-formed XML"),
        ("<pnml/>", "no <net> element"),
        ('<pnml><net id="n" type="http://x/symmetricnet"/></pnml>', "not a place/transition"),
        (
            '<pnml><net id="n"><place id="a"/><place id="b"/>'
            '<arc id="x" source="a" target="b"/></net></pnml>',
            "must join a place and a transition",
        ),
        (
            '<pnml><net id="n"><place id="a"><initialMarking><text>lots</text>'
            "</initialMarking></place></net></pnml>",
            "is not an integer",
        ),
    ],
)
def test_bad_documents_are_refused_clearly(text: str, message: str) -> None:
    with pytest.raises(errors.PnmlError, match=message):
        model.Net.from_pnml(text)


def test_a_file_name_instead_of_its_contents_is_a_clear_error() -> None:
    with pytest.raises(errors.PnmlError, match="pass the file's contents"):
        model.Net.from_pnml("absent.pnml")
