"""Golden tests: every affordable MCC net gives the published state-space figures.

Kanban-PT-00005 (2.5 million markings, several seconds) is left to
``benchmarks/nets_reachability.py``, which checks it against the same oracle.
"""

from __future__ import annotations

import nets_mcc
import pytest

from treadle.core.nets import explore, model

TOO_BIG_FOR_THE_SUITE = {"Kanban-PT-00005"}


@pytest.mark.parametrize("name", [n for n in nets_mcc.NAMES if n not in TOO_BIG_FOR_THE_SUITE])
def test_state_space_matches_the_oracle(name: str) -> None:
    expected = nets_mcc.oracle()[name]
    net = model.Net.from_pnml((nets_mcc.folder() / f"{name}.pnml").read_bytes())
    space = explore.explore(net, max_states=10 * expected["states"])
    assert space.complete
    assert space.states == expected["states"]
    assert space.edges == expected["transitions"]
    assert max(space.place_bounds.values()) == expected["max_token_in_place"]
    assert space.max_tokens_per_marking() == expected["max_token_per_marking"]


def test_every_mcc_net_has_a_reference() -> None:
    assert set(nets_mcc.NAMES) == set(nets_mcc.oracle())


def test_the_state_bound_stops_the_search_and_says_so() -> None:
    net = model.Net.from_pnml((nets_mcc.folder() / "Philosophers-PT-000010.pnml").read_bytes())
    space = explore.explore(net, max_states=1_000)
    assert not space.complete
    assert 1_000 < space.states < 59_049
