"""What can be checked of a durable function without running it.

A durable function is ordinary Python, so most of what it does is known only when it runs.
What can be known at the desk, and is checked here:

- its first parameter can receive the context (and is not annotated with the other kind);
- every ``ctx.step(f, ...)``, ``ctx.submit(f, ...)`` and ``ctx.child(w, ...)`` written in its
  body names something that exists, a step (or plain function) for ``step``/``submit`` and a
  workflow for ``child``, and passes arguments its signature can take;
- its arguments and result, and the results of the steps it calls, are of types that JSON
  can store (Treadle stores them as JSON; a ``datetime`` or a dataclass fails at run time).

Calls made through another name (a helper that receives ``ctx``), step functions computed at
run time and names bound inside the function are not followed: nothing is reported about
them, rather than something guessed. Queues are not checked: which worker serves a queue is
a fact of the deployment, not of the code.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import enum
import inspect
import os
import textwrap
import types
import typing
from typing import Any

from treadle.checking import jsontypes
from treadle.core.nets import findings
from treadle.runtime import registry
from treadle.runtime.context import Context, SyncContext

Severity = findings.Severity

STEP_CALLS = frozenset({"step", "submit"})
"""Context methods whose first argument is a step function."""
CHILD_CALLS = frozenset({"child"})
"""Context methods whose first argument is a workflow."""
CHILD_OPTIONS = frozenset({"id", "wait"})
"""Keyword arguments of ``ctx.child`` that are its own, not the child workflow's."""

JSON_ADVICE = (
    "Use dicts, lists, strings, numbers, booleans or None (convert other objects first, "
    "e.g. with dataclasses.asdict or str)"
)


class Kind(enum.StrEnum):
    """Which property of a durable function a finding is about."""

    CONTEXT = "context"  # the first parameter cannot receive the context, or is mistyped
    UNKNOWN_NAME = "unknown_name"  # ctx.step/ctx.child names something that is not defined
    NOT_A_STEP = "not_a_step"  # ctx.step is given a workflow or something not callable
    PLAIN_STEP = "plain_step"  # ctx.step is given a function not declared with @tr.step
    NOT_A_WORKFLOW = "not_a_workflow"  # ctx.child is given something that is not a workflow
    ARGUMENTS = "arguments"  # a call passes arguments its step or workflow cannot take
    NOT_JSON = "not_json"  # an argument or a result has a type JSON cannot store
    NOT_CHECKED = "not_checked"  # the source or the annotations could not be read


@dataclasses.dataclass(frozen=True, kw_only=True)
class Finding:
    """One problem in a durable function, at the line that shows it."""

    kind: Kind
    severity: Severity
    message: str
    file: str | None = None
    """The source file, when known."""
    line: int | None = None
    """The line in ``file``, when known."""
    subject: str | None = None
    """The step, workflow or parameter the finding is about."""

    @property
    def location(self) -> str | None:
        """``file:line`` (the file relative to the current folder when it is inside it)."""
        if self.file is None:
            return None
        shown = _shown_path(self.file)
        return shown if self.line is None else f"{shown}:{self.line}"

    def format(self, source: str) -> str:
        return f"{self.location or source}: {self.severity.value}: {self.message}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class FunctionCheck:
    """What the static check of one durable function found."""

    name: str
    version: str
    file: str | None
    line: int | None
    steps: tuple[str, ...]
    """Names of the steps its ``ctx.step``/``ctx.submit`` calls resolve to, in order, once each."""
    children: tuple[str, ...]
    """Names of the workflows its ``ctx.child`` calls resolve to, once each."""
    calls: int
    """``ctx.step``/``ctx.submit``/``ctx.child`` calls found in its source."""
    findings: tuple[Finding, ...]


def _shown_path(path: str) -> str:
    relative = os.path.relpath(path)
    return path if relative.startswith(os.pardir) else relative


class _Missing:
    """A name that is defined nowhere the function can see."""


_MISSING = _Missing()
_UNKNOWN = object()  # a name whose value is known only at run time


class _Checker:
    def __init__(self, definition: registry.WorkflowDefinition) -> None:
        self.definition = definition
        self.fn = definition.fn
        self.found: list[Finding] = []
        self.file: str | None = None
        self.first_line: int | None = None
        self.steps: dict[str, None] = {}
        self.children: dict[str, None] = {}
        self.calls = 0
        self.source: str | None = None
        self.start = 1
        """The line of the source's first line (a decorator's, when it has one)."""
        try:
            self.file = inspect.getsourcefile(self.fn)
            lines, self.start = inspect.getsourcelines(self.fn)
            self.source = "".join(lines)
            self.first_line = _def_line(lines, self.start)
        except (OSError, TypeError):
            pass

    def add(
        self,
        kind: Kind,
        severity: Severity,
        message: str,
        *,
        line: int | None = None,
        file: str | None = None,
        subject: str | None = None,
    ) -> None:
        self.found.append(
            Finding(
                kind=kind,
                severity=severity,
                message=message,
                file=file or self.file,
                # A finding in another file (a step's result type) carries its own line.
                line=line if file is not None else line or self.first_line,
                subject=subject,
            )
        )

    # -- the signature -------------------------------------------------------------------------

    def signature(self) -> None:
        name = self.definition.name
        parameters = list(self.definition.signature.parameters.values())
        first = parameters[0]  # @tr.workflow refuses a function without parameters
        if first.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD):
            self.add(
                Kind.CONTEXT,
                Severity.ERROR,
                f"workflow {name}: the context is passed as the first positional argument, "
                f"but {first.name!r} takes only keywords: write `def {self.fn.__name__}(ctx, ...)`",
                subject=first.name,
            )
        hints = self.hints(self.fn, f"workflow {name}")
        if hints is None:
            return
        wanted, other = (
            (Context, SyncContext) if self.definition.is_async else (SyncContext, Context)
        )
        if hints.get(first.name) is other:
            kind = "async def" if self.definition.is_async else "def"
            self.add(
                Kind.CONTEXT,
                Severity.WARNING,
                f"workflow {name} is an `{kind}`, so it receives a tr.{wanted.__name__}, but "
                f"{first.name!r} is annotated tr.{other.__name__}: annotate it "
                f"tr.{wanted.__name__}",
                subject=first.name,
            )
        for parameter in parameters[1:]:
            if parameter.name in hints:
                self.json_type(
                    hints[parameter.name],
                    f"workflow {name}: parameter {parameter.name!r}",
                    "arguments",
                    subject=parameter.name,
                )
        if "return" in hints:
            self.json_type(hints["return"], f"workflow {name}: the result", "results")

    def hints(self, fn: Any, what: str, *, line: int | None = None) -> dict[str, Any] | None:
        try:
            hints: dict[str, Any] = typing.get_type_hints(fn, include_extras=True)
        except Exception as exc:  # any annotation that cannot be evaluated: say so, guess nothing
            self.add(
                Kind.NOT_CHECKED,
                Severity.NOTE,
                f"{what}: its annotations cannot be evaluated ({type(exc).__name__}: {exc}), "
                "so their JSON types were not checked",
                line=line,
            )
            return None
        return hints

    def json_type(
        self,
        hint: Any,
        what: str,
        stored_as: str,
        *,
        file: str | None = None,
        line: int | None = None,
        subject: str | None = None,
    ) -> None:
        culprit = jsontypes.not_json(hint)
        if culprit is not None:
            shown = jsontypes.type_name(hint)
            part = "" if culprit == shown else f" (its part {culprit})"
            self.add(
                Kind.NOT_JSON,
                Severity.ERROR,
                f"{what} is {shown}{part}, which JSON cannot hold: Treadle stores "
                f"{stored_as} as JSON. {JSON_ADVICE}",
                file=file,
                line=line,
                subject=subject,
            )

    # -- the body ------------------------------------------------------------------------------

    def body(self) -> None:
        name = self.definition.name
        if self.source is None:
            self.add(
                Kind.NOT_CHECKED,
                Severity.NOTE,
                f"workflow {name}: its source is not available, so the steps and child "
                "workflows it calls were not checked",
            )
            return
        try:
            tree = ast.parse(textwrap.dedent(self.source))
        except SyntaxError as exc:
            self.add(
                Kind.NOT_CHECKED,
                Severity.NOTE,
                f"workflow {name}: its source cannot be parsed on its own ({exc.msg}), so the "
                "steps and child workflows it calls were not checked",
            )
            return
        function = next(
            (
                node
                for node in tree.body
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            ),
            None,
        )
        if function is None or not function.args.args + function.args.posonlyargs:
            return  # a keyword-only context was reported by signature()
        context = (function.args.posonlyargs + function.args.args)[0].arg
        local = _bound_names(function)
        local.discard(context)
        calls = [
            node
            for node in ast.walk(function)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == context
            and node.func.attr in STEP_CALLS | CHILD_CALLS
            and node.args
            and not isinstance(node.args[0], ast.Starred)
        ]
        # ast.walk goes breadth first; findings read best in the order of the source.
        for node in sorted(calls, key=lambda call: (call.lineno, call.col_offset)):
            assert isinstance(node.func, ast.Attribute)
            self.calls += 1
            line = self.start + node.lineno - 1
            method = f"{context}.{node.func.attr}"
            if node.func.attr in STEP_CALLS:
                self.step_call(node, method, line, local)
            else:
                self.child_call(node, method, line, local)

    def resolve(self, expr: ast.expr, local: set[str]) -> Any:
        """The value ``expr`` names, ``_MISSING`` if nothing, ``_UNKNOWN`` if known only later."""
        if isinstance(expr, ast.Name):
            if expr.id in local:
                return _UNKNOWN
            closure = dict(
                zip(self.fn.__code__.co_freevars, self.fn.__closure__ or (), strict=True)
            )
            if expr.id in closure:
                try:
                    return closure[expr.id].cell_contents
                except ValueError:  # an empty cell: assigned after the workflow was defined
                    return _UNKNOWN
            if expr.id in self.fn.__globals__:
                return self.fn.__globals__[expr.id]
            return getattr(builtins, expr.id, _MISSING)
        if isinstance(expr, ast.Attribute):
            base = self.resolve(expr.value, local)
            if base is _MISSING or base is _UNKNOWN:
                return base
            value = getattr(base, expr.attr, _MISSING)
            if value is _MISSING and not isinstance(base, types.ModuleType):
                return _UNKNOWN  # a module's attributes are settled; an object's may come later
            return value
        return _UNKNOWN

    def step_call(self, node: ast.Call, call: str, line: int, local: set[str]) -> None:
        written = ast.unparse(node.args[0])
        value = self.resolve(node.args[0], local)
        if value is _UNKNOWN:
            return
        if value is _MISSING:
            self.add(
                Kind.UNKNOWN_NAME,
                Severity.ERROR,
                f"{call}({written}, ...): {written!r} is not defined: import or define the step",
                line=line,
                subject=written,
            )
            return
        if isinstance(value, registry.Workflow):
            self.add(
                Kind.NOT_A_STEP,
                Severity.ERROR,
                f"{call}({written}, ...): {written} is a workflow, not a step: start it with "
                f"`ctx.child({written}, ...)`",
                line=line,
                subject=written,
            )
            return
        if not callable(value):
            self.add(
                Kind.NOT_A_STEP,
                Severity.ERROR,
                f"{call}({written}, ...): {written} is a {type(value).__name__}, not a step "
                "function",
                line=line,
                subject=written,
            )
            return
        definition = registry.definition_of(value)
        self.arguments(node, call, written, definition.fn, line, skip_context=False)
        if definition.name in self.steps:
            return  # what follows is about the step, not the call: said once
        self.steps[definition.name] = None
        if not isinstance(value, registry.Step):
            self.add(
                Kind.PLAIN_STEP,
                Severity.NOTE,
                f"{call}({written}, ...): {written} is a plain function, not a @tr.step; it "
                "runs as a step with the default retry policy",
                line=line,
                subject=written,
            )
        step_file, step_line = _where(definition.fn)
        hints = self.hints(definition.fn, f"step {definition.name}", line=line)
        if hints is not None and "return" in hints:
            self.json_type(
                hints["return"],
                f"step {definition.name}: the result",
                "step results",
                file=step_file,
                line=step_line,
                subject=definition.name,
            )

    def child_call(self, node: ast.Call, call: str, line: int, local: set[str]) -> None:
        target = node.args[0]
        written = ast.unparse(target)
        # ``ctx.child(w, id=...)`` with nothing else joins a child already started: its
        # arguments were given when it started, so none are missing here.
        joins = (
            len(node.args) == 1
            and {k.arg for k in node.keywords} <= CHILD_OPTIONS
            and any(k.arg == "id" for k in node.keywords)
        )
        if isinstance(target, ast.Constant) and isinstance(target.value, str):
            found = registry.default_registry.get(target.value)
            if found is None:
                self.add(
                    Kind.UNKNOWN_NAME,
                    Severity.WARNING,
                    f"{call}({written}, ...): no workflow named {target.value!r} is registered "
                    "by the modules loaded: pass the workflow itself, or load its module too",
                    line=line,
                    subject=target.value,
                )
                return
            self.children[found.name] = None
            if not joins:
                self.arguments(node, call, written, found.fn, line, skip_context=True)
            return
        value = self.resolve(target, local)
        if value is _UNKNOWN:
            return
        if value is _MISSING:
            self.add(
                Kind.UNKNOWN_NAME,
                Severity.ERROR,
                f"{call}({written}, ...): {written!r} is not defined: import or define the "
                "workflow",
                line=line,
                subject=written,
            )
            return
        if isinstance(value, str):
            return  # a name held in a variable: which workflow it names is known at run time
        if not isinstance(value, registry.Workflow):
            self.add(
                Kind.NOT_A_WORKFLOW,
                Severity.ERROR,
                f"{call}({written}, ...): {written} is a {type(value).__name__}, not a "
                "workflow: decorate it with @tr.workflow"
                + (f", or call it with `ctx.step({written}, ...)`" if callable(value) else ""),
                line=line,
                subject=written,
            )
            return
        self.children[value.definition.name] = None
        if not joins:
            self.arguments(node, call, written, value.definition.fn, line, skip_context=True)

    def arguments(
        self,
        node: ast.Call,
        call: str,
        written: str,
        fn: Any,
        line: int,
        *,
        skip_context: bool,
    ) -> None:
        """Bind the call's arguments to ``fn``'s signature, when the call spells them all out."""
        positional = node.args[1:]
        keywords = [k for k in node.keywords if not (skip_context and k.arg in CHILD_OPTIONS)]
        if any(isinstance(a, ast.Starred) for a in positional) or any(
            k.arg is None for k in keywords
        ):
            return  # *args or **kwargs: how many arguments there are is known at run time
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):
            return
        try:
            signature.bind(
                *([None] if skip_context else []),
                *([None] * len(positional)),
                **{k.arg: None for k in keywords if k.arg is not None},
            )
        except TypeError as exc:
            shown = list(signature.parameters)[1:] if skip_context else list(signature.parameters)
            self.add(
                Kind.ARGUMENTS,
                Severity.ERROR,
                f"{call}({written}, ...) cannot call {getattr(fn, '__name__', written)}"
                f"({', '.join(shown)}): {exc}",
                line=line,
                subject=written,
            )


def check(definition: registry.WorkflowDefinition) -> FunctionCheck:
    """Check ``definition`` statically; see the module docstring for what that covers."""
    checker = _Checker(definition)
    checker.signature()
    checker.body()
    return FunctionCheck(
        name=definition.name,
        version=definition.version,
        file=checker.file,
        line=checker.first_line,
        steps=tuple(checker.steps),
        children=tuple(checker.children),
        calls=checker.calls,
        findings=tuple(checker.found),
    )


def _where(fn: Any) -> tuple[str | None, int | None]:
    try:
        return inspect.getsourcefile(fn), _def_line(*inspect.getsourcelines(fn))
    except (OSError, TypeError):
        return None, None


def _def_line(lines: list[str], start: int) -> int:
    """The line of the ``def`` itself, below any decorators: where an editor should jump."""
    for offset, text in enumerate(lines):
        if text.lstrip().startswith(("def ", "async def ")):
            return start + offset
    return start


def _bound_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Names the function (or anything nested in it) binds: their values are known only later."""
    names: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node is not function:
                names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.Global | ast.Nonlocal):
            names.update(node.names)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names
