"""``treadle check``: load definitions, check each one, print the findings like a compiler.

A target is a PNML file or a Python module (a dotted name or a ``.py`` file). A module's
definitions are its module-level nets, flows (anything with ``to_net()``), net-backed
workflows (a ``net`` attribute) and durable workflows, plus the workflows that importing it
registered. Every target is loaded before any is checked, so a typo fails at once with exit
code 2 instead of after minutes of analysis.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import types
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from treadle import checking, errors
from treadle.checking import report as reports
from treadle.cli import exits, loading, render
from treadle.core.nets import model
from treadle.runtime import registry

FOUND_ERRORS = exits.ExitCode.CHECK_FOUND_ERRORS.value
HELP = f"""Exit codes:

- 0: every definition passed (warnings and notes allowed)
- {FOUND_ERRORS}: a finding is an error: a deadlock, a dead transition, an unbounded place,
  an unsound workflow net, a step call that cannot work
- {exits.ExitCode.USAGE.value}: bad input: no such file or module, a module that fails to
  import or defines nothing to check, a file that is not PNML
"""

SEVERITY_STYLES = {
    reports.Severity.ERROR: "bold red",
    reports.Severity.WARNING: "yellow",
    reports.Severity.NOTE: "cyan",
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Definition:
    """One thing to check, and how the output names it."""

    source: str
    """``order.pnml``, or ``MODULE:NAME`` as ``treadle run`` spells a workflow."""
    value: Any
    """What ``checking.check`` is given."""


def _is_pnml(target: str) -> bool:
    if target.lower().endswith(".pnml"):
        return True
    # Other editors save PNML as .xml: any existing file that is not Python is read as PNML,
    # and a file that is not PNML then says so.
    return os.path.isfile(target) and not target.endswith(".py")


def _is_definition(value: Any) -> bool:
    if isinstance(value, type | types.ModuleType):
        return False  # the class Flow has a to_net too: only instances are definitions
    if isinstance(value, model.Net | registry.Workflow):
        return True
    try:
        return callable(getattr(value, "to_net", None)) or isinstance(
            getattr(value, "net", None), model.Net
        )
    except Exception:  # an object whose attributes raise is not a definition of ours
        return False


def collect(target: str) -> list[Definition]:
    """The definitions ``target`` names, in the order of the module (or the one net of a file)."""
    if _is_pnml(target):
        return [Definition(source=target, value=checking.read_pnml(target))]
    before = set(registry.default_registry.names())
    try:
        module = loading.import_module(target, option="TARGET")
    except errors.UsageError as exc:
        refused = exc.__cause__
        if isinstance(refused, errors.UnsoundDefinitionError):
            # tr.workflow refused a flow or net while the module was imported: that is a
            # finding about the definition (exit 1), not bad input, but nothing after it in
            # the module could be loaded.
            return [Definition(source=target, value=_refused(target, refused))]
        raise errors.UsageError(f"{exc.message} A TARGET can also be a .pnml file.") from exc
    found: list[Definition] = []
    seen: set[int] = set()
    for attribute, value in vars(module).items():
        if attribute.startswith("_") or id(value) in seen or not _is_definition(value):
            continue
        seen.add(id(value))
        if isinstance(value, registry.Workflow):
            seen.add(id(value.definition))
        # A flow is compiled here, so a flow that does not compile fails with the loading.
        net = checking.as_net(value)
        found.append(Definition(source=f"{target}:{attribute}", value=net or value))
    for name, version in sorted(set(registry.default_registry.names()) - before):
        definition = registry.default_registry.get(name, version)
        if definition is not None and id(definition) not in seen:
            seen.add(id(definition))
            # Registered by a module this one imports: named where `treadle run` finds it.
            fn = definition.fn
            workflow: registry.Workflow[..., Any] = registry.Workflow(definition)
            net = checking.as_net(workflow)
            source = f"{fn.__module__}:{fn.__qualname__}" if net is None else f"{target}:{name}"
            found.append(Definition(source=source, value=net or workflow))
    if not found:
        raise errors.UsageError(
            f"{target} defines nothing to check: define a tr.Net, a flow or a @tr.workflow "
            "at module level, or pass a .pnml file"
        )
    return found


def _refused(target: str, refused: errors.UnsoundDefinitionError) -> checking.CheckReport:
    return checking.CheckReport(
        name="import stopped: tr.workflow refused an unsound definition (pass "
        "allow_unsound=True to check the rest of the module)",
        kind=checking.DefinitionKind.NET,
        findings=tuple(f for f in refused.findings if isinstance(f, reports.NetFinding)),
    )


def command(
    targets: Annotated[
        list[str],
        typer.Argument(
            metavar="TARGET",
            help="A .pnml file, or a module (dotted name or .py file) whose nets, flows and "
            "workflows are checked.",
            show_default=False,
        ),
    ],
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print one JSON object per definition instead of text."),
    ] = False,
    max_states: Annotated[
        int,
        typer.Option(
            "--max-states",
            min=1,
            help="Markings explored per net before the search stops and says so.",
        ),
    ] = checking.DEFAULT_MAX_STATES,
    workflow: Annotated[
        bool | None,
        typer.Option(
            "--workflow/--no-workflow",
            help="Insist on (or skip) workflow-net soundness; by default it is checked when "
            "a net has one source place, one sink place and every node between them.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check nets, flows and workflows before they run; print each finding with a witness.

    Each net is analysed: coverability (unbounded places), the reachable markings up to
    --max-states, deadlocks, dead transitions, the bound of each place and workflow-net
    soundness; each finding prints like a compiler error with the shortest firing sequence
    that shows it (`order.pnml: error: deadlock at [p1]: reached by a, b`). A durable
    workflow gets what can be checked without running it: its context parameter, the steps
    and child workflows it calls, and JSON types. One summary line follows each definition.
    """
    definitions = [d for target in dict.fromkeys(targets) for d in collect(target)]
    terminal = sys.stdout.isatty()
    out = render.console(terminal=True) if terminal and not as_json else None
    status = render.console(terminal=True, stderr=True) if sys.stderr.isatty() else None
    errors_found = warnings_found = 0
    try:
        for definition in definitions:
            if isinstance(definition.value, checking.CheckReport):
                report = definition.value
            elif status is not None:
                with status.status(f"checking {definition.source}", spinner="dots"):
                    report = checking.check(
                        definition.value, max_states=max_states, workflow=workflow
                    )
            else:
                report = checking.check(definition.value, max_states=max_states, workflow=workflow)
            errors_found += report.errors
            warnings_found += report.warnings
            if as_json:
                _write(render.dumps({"source": definition.source, **report.to_json()}))
            else:
                _show(report, definition.source, out)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: the definitions printed above were checked, not the rest\n")
        raise typer.Exit(130) from None
    if not as_json and len(definitions) > 1:
        total = (
            f"checked {len(definitions)} definitions: {errors_found} "
            f"{'error' if errors_found == 1 else 'errors'}, {warnings_found} "
            f"{'warning' if warnings_found == 1 else 'warnings'}"
        )
        if out is not None:
            out.print(Text(total, style="bold red" if errors_found else "bold green"))
        else:
            _write(total)
    if errors_found:
        raise typer.Exit(FOUND_ERRORS)


def _show(report: checking.CheckReport, source: str, out: Console | None) -> None:
    for finding in report.findings:
        line = finding.format(source)
        if out is None:
            _write(line)
            continue
        text = Text(line)
        label = f": {finding.severity.value}: "
        start = line.find(label)
        if start >= 0:
            text.stylize("bold", 0, start)
            text.stylize(SEVERITY_STYLES[finding.severity], start + 2, start + len(label) - 2)
        out.print(text)
    summary = report.summary(source)
    if out is None:
        _write(summary)
    else:
        out.print(Text(summary, style="green" if report.ok else "red"))


def _write(text: str) -> None:
    # Plain writes, not rich, when piped: whole lines that grep and editors can parse.
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
