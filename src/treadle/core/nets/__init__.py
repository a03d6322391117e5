"""Petri nets: the model, PNML, and the analysis that checks a net before it runs.

model          Net, Transition: places, weighted and reset arcs, guards, markings
pnml           ISO/IEC 15909-2 import and export (place/transition nets)
packing        a marking as one int: the encoding the search runs on
explore        breadth-first reachability, levels kept for shortest witnesses
coverability   Karp-Miller: proves places unbounded
soundness      workflow-net soundness
findings       Finding and format_findings: compiler-style reports
analysis       analyse(net): all of the above in one Report
"""

from __future__ import annotations

from treadle.core.nets.analysis import Report, analyse
from treadle.core.nets.findings import Finding, format_findings
from treadle.core.nets.model import Net, Transition

__all__ = ["Finding", "Net", "Report", "Transition", "analyse", "format_findings"]
