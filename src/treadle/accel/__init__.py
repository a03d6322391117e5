"""Net analysis with the reachability search compiled: same results, far less time and memory.

    from treadle import accel
    report = accel.analyse(net)              # core.nets.analyse with the fastest search here
    space = accel.best_explorer(net)(net)    # the StateSpace alone

``core`` stays pure Python and never imports this package: ``core.nets.analysis.analyse``
takes the search as its ``explorer`` argument, and ``analyse`` here passes the compiled one.
The compiled module (``_reach.c``) is built when Treadle is installed; where it could not be
(no C compiler), everything here still works, on the pure search.

search      explore(net): the compiled search, returning ``core.nets.explore.StateSpace``
"""

from __future__ import annotations

from treadle import errors
from treadle.accel import search
from treadle.core.nets import analysis, explore, model


def available() -> bool:
    """Whether this install has the compiled search (``search.why_unavailable()`` says why not)."""
    return search.compiled() is not None


def best_explorer(net: model.Net) -> explore.Explorer:
    """The fastest search that handles ``net``: the compiled one when it is installed.

    It handles every net the pure search does (markings of any width; fields wider than 63
    bits hand over to the pure search by themselves), and costs no start-up worth measuring
    (a small extension module, imported on first use), so there is nothing to gain from the
    pure search on small nets.
    """
    if not isinstance(net, model.Net):
        raise errors.UsageError(f"best_explorer takes a treadle Net, not {type(net).__name__}")
    return search.explore if available() else explore.explore


def analyse(
    net: model.Net,
    *,
    max_states: int = explore.DEFAULT_MAX_STATES,
    max_nodes: int = analysis.COVERABILITY_NODES,
    workflow: bool | None = None,
) -> analysis.Report:
    """``core.nets.analyse`` with ``best_explorer(net)``: the same ``Report``, sooner."""
    return analysis.analyse(
        net,
        max_states=max_states,
        max_nodes=max_nodes,
        workflow=workflow,
        explorer=best_explorer(net),
    )


__all__ = ["analyse", "available", "best_explorer", "search"]
