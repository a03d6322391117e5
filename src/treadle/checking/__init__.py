"""``tr.check``: a definition checked before it runs, the way a compiler checks a program.

    report = tr.check(net)           # a tr.Net, a flow, a net workflow, a durable function
    print(report.format())           # order: error: deadlock at [paid]: reached by pay
    report.ok                        # False: some finding is an error

report         CheckReport: the findings, the analysis, the summary line and the JSON
functions      the static check of a durable function
jsontypes      which Python types JSON can hold

A net (and whatever compiles to one) gets the full analysis of ``treadle.core.nets``:
coverability, the reachability graph up to a state bound, deadlocks, dead transitions,
place bounds and workflow-net soundness, each finding with the shortest firing sequence that
shows it. A durable function is Python, so it gets what can be checked without running it
(see ``functions``). This module reads files (``read_pnml``); ``core`` does not.
"""

from __future__ import annotations

import os
from typing import Any

from treadle import accel, errors
from treadle.checking import functions, report
from treadle.checking.report import CheckReport, DefinitionKind
from treadle.core.nets import analysis, explore, model
from treadle.runtime import registry
from treadle.runtime.nets import program, registration

DEFAULT_MAX_STATES = explore.DEFAULT_MAX_STATES
"""Markings explored before the search stops and says so (``max_states=`` raises it)."""

__all__ = [
    "DEFAULT_MAX_STATES",
    "CheckReport",
    "DefinitionKind",
    "check",
    "functions",
    "read_pnml",
    "report",
]


def read_pnml(path: str | os.PathLike[str]) -> model.Net:
    """The net in the PNML file at ``path`` (``tr.Net.from_pnml`` takes the document itself)."""
    shown = os.fspath(path)
    try:
        with open(path, "rb") as file:
            document = file.read()
    except FileNotFoundError:
        raise errors.UsageError(
            f"there is no PNML file {shown!r} (looked at {os.path.abspath(shown)})"
        ) from None
    except OSError as exc:
        raise errors.UsageError(f"cannot read {shown!r}: {exc.strerror or exc}") from exc
    try:
        return model.Net.from_pnml(document)
    except errors.PnmlError as exc:
        raise errors.PnmlError(
            f"{shown}: {exc.message} (expected a PNML place/transition net, ISO/IEC 15909-2, "
            "as Petri net editors and Net.to_pnml() write them)"
        ) from exc


def check(
    definition: Any,
    *,
    max_states: int = DEFAULT_MAX_STATES,
    workflow: bool | None = None,
) -> CheckReport:
    """Check one definition before it runs and report what is wrong, with a witness.

    ``definition`` is a ``tr.Net``; anything with a ``to_net()`` method returning one (a flow);
    anything with a ``net`` attribute holding one (a net-backed workflow); a durable
    ``tr.Workflow``; or the path of a ``.pnml`` file. Nets are explored up to ``max_states``
    markings (the report says when the bound was hit). ``workflow=None`` checks workflow-net
    soundness when the net has a workflow net's shape, ``True`` insists on it (a net that is
    not one is an error), ``False`` skips it. Raises ``UsageError`` for anything else.
    """
    if isinstance(max_states, bool) or not isinstance(max_states, int) or max_states < 1:
        raise errors.UsageError(
            f"max_states must be a positive int (markings to explore), not {max_states!r}"
        )
    if workflow is not None and not isinstance(workflow, bool):
        raise errors.UsageError(f"workflow must be True, False or None, not {workflow!r}")
    net = as_net(definition)
    if net is not None:
        return check_net(net, max_states=max_states, workflow=workflow)
    if isinstance(definition, registry.Workflow):
        return check_function(definition.definition)
    raise errors.UsageError(
        f"tr.check cannot check {type(definition).__name__} {definition!r:.80}: pass a "
        "tr.Net, a flow (anything with to_net()), a @tr.workflow function, or the path of a "
        ".pnml file"
    )


def as_net(definition: Any) -> model.Net | None:
    """The net ``definition`` is or compiles to; None when it is not a net at all."""
    if isinstance(definition, model.Net):
        return definition
    if isinstance(definition, os.PathLike) or (
        isinstance(definition, str) and definition.lower().endswith(".pnml")
    ):
        return read_pnml(definition)
    if isinstance(definition, type):
        return None  # the class Flow has a to_net too; only its instances are definitions
    if isinstance(definition, registry.Workflow):
        # A flow or net registered with tr.workflow keeps its program on the body function,
        # which is all the registry holds of it.
        built = getattr(definition.definition.fn, registration.PROGRAM_ATTRIBUTE, None)
        if isinstance(built, program.Program):
            return built.net
    to_net = getattr(definition, "to_net", None)
    if callable(to_net):
        net = to_net()
        if not isinstance(net, model.Net):
            raise errors.UsageError(
                f"{type(definition).__name__}.to_net() returned {type(net).__name__}, not a "
                "tr.Net, so it cannot be checked"
            )
        return net
    net = getattr(definition, "net", None)
    return net if isinstance(net, model.Net) else None


def check_net(
    net: model.Net, *, max_states: int = DEFAULT_MAX_STATES, workflow: bool | None = None
) -> CheckReport:
    """The full analysis of ``net``, as a report."""
    found = _analyse(net, max_states=max_states, workflow=workflow)
    return CheckReport(
        name=net.name,
        kind=DefinitionKind.NET,
        findings=found.findings,
        analysis=found,
        max_states=max_states,
        unbounded_places=found.unbounded_places,
    )


def check_function(definition: registry.WorkflowDefinition) -> CheckReport:
    """The static check of a durable function, as a report."""
    done = functions.check(definition)
    return CheckReport(
        name=definition.name,
        kind=DefinitionKind.FUNCTION,
        findings=done.findings,
        function=done,
    )


def _analyse(net: model.Net, *, max_states: int, workflow: bool | None) -> analysis.Report:
    """The one place that picks the analysis: ``treadle.accel`` runs the reachability search
    compiled when this install has it, and the pure search of ``core`` when it has not; the
    ``Report`` is the same either way."""
    return accel.analyse(net, max_states=max_states, workflow=workflow)
