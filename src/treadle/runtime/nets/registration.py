"""``tr.workflow``: one way to register a durable function, a flow or a net.

A flow or net becomes an ordinary workflow whose body is the net interpreter, so
``engine.start``, the CLI and the workers take it as they take a function. Registration runs
the analysis and refuses an unsound definition unless ``allow_unsound=True``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar, overload

from treadle import errors
from treadle.core.flows.builder import Flow
from treadle.core.flows.compiler import describe
from treadle.core.nets import analysis, model
from treadle.core.nets.tokens import NOTHING
from treadle.runtime import registry as reg
from treadle.runtime.context import Context
from treadle.runtime.nets import interpreter, program

P = ParamSpec("P")
R = TypeVar("R")

PROGRAM_ATTRIBUTE = "__treadle_net__"
"""Where a net workflow's body function keeps its ``Program`` (clients read it there)."""


class NetWorkflow(reg.Workflow[..., Any]):
    """A flow or net registered as a workflow: start it with ``engine.start(wf, data)``."""

    def __init__(self, definition: reg.WorkflowDefinition, program_: program.Program) -> None:
        super().__init__(definition)
        self.program = program_

    @property
    def net(self) -> model.Net:
        """The net a run plays (a flow's compiled net), with its initial and final marking."""
        return self.program.net

    def to_net(self) -> model.Net:
        return self.program.net

    def describe(self) -> str:
        """The net as text, one transition a line."""
        return describe(self.program.net)


@overload
def workflow(fn: Callable[P, R], /) -> reg.Workflow[P, R]: ...


@overload
def workflow(
    definition: model.Net | Flow,
    /,
    *,
    name: str | None = None,
    version: str | int = "1",
    queue: str = reg.DEFAULT_QUEUE,
    timeout: float | None = None,
    registry: reg.Registry | None = None,
    steps: Mapping[str, Any] | None = None,
    guards: Mapping[str, Any] | None = None,
    allow_unsound: bool = False,
) -> NetWorkflow: ...


@overload
def workflow(
    *,
    name: str | None = None,
    version: str | int = "1",
    queue: str = reg.DEFAULT_QUEUE,
    timeout: float | None = None,
    registry: reg.Registry | None = None,
) -> Callable[[Callable[P, R]], reg.Workflow[P, R]]: ...


def workflow(
    definition: Any = None,
    /,
    *,
    name: str | None = None,
    version: str | int = "1",
    queue: str = reg.DEFAULT_QUEUE,
    timeout: float | None = None,
    registry: reg.Registry | None = None,
    steps: Mapping[str, Any] | None = None,
    guards: Mapping[str, Any] | None = None,
    allow_unsound: bool = False,
) -> Any:
    """Register a workflow: decorate a function, or pass a ``tr.Flow`` or a ``tr.Net``.

    For a function it is ``@tr.workflow`` (see the durable functions guide). For a net,
    ``steps`` binds each transition's step name to a ``@tr.step`` function (or a workflow, run
    as a child) and ``guards`` each guard name to a predicate over the consumed tokens' data.
    A flow or net that the analysis finds unsound raises ``tr.UnsoundDefinitionError`` with
    the findings, unless ``allow_unsound=True``.
    """
    if isinstance(definition, model.Net | Flow):
        return _register(
            definition,
            steps,
            guards,
            allow_unsound,
            name=name,
            version=version,
            queue=queue,
            timeout=timeout,
            registry=registry,
        )
    if steps is not None or guards is not None or allow_unsound:
        raise errors.RegistrationError(
            "steps=, guards= and allow_unsound= apply to a tr.Net or a tr.Flow passed to "
            "tr.workflow(...), not to a decorated function"
        )
    decorate = reg.workflow(
        name=name, version=version, queue=queue, timeout=timeout, registry=registry
    )
    return decorate if definition is None else decorate(definition)


def _register(
    definition: model.Net | Flow,
    steps: Mapping[str, Any] | None,
    guards: Mapping[str, Any] | None,
    allow_unsound: bool,
    *,
    name: str | None,
    version: str | int,
    queue: str,
    timeout: float | None,
    registry: reg.Registry | None,
) -> NetWorkflow:
    if isinstance(definition, Flow):
        built = program.from_flow(definition.compile(), steps, guards)
    else:
        built = program.from_net(definition, steps, guards)
    label = name or built.net.name
    if not isinstance(allow_unsound, bool):
        raise errors.RegistrationError("allow_unsound= takes True or False")
    report = analysis.analyse(built.net)
    if not report.ok and not allow_unsound:
        raise errors.UnsoundDefinitionError(
            f"{built.kind} {label!r} is not sound, so it was not registered:\n"
            f"{report.format(label)}\n"
            "Fix the definition, or pass allow_unsound=True to register it anyway.",
            findings=report.findings,
        )
    body = _body(built, label)
    decorate = reg.workflow(
        name=label, version=version, queue=queue, timeout=timeout, registry=registry
    )
    registered = decorate(body)
    return NetWorkflow(registered.definition, built)


def _body(built: program.Program, label: str) -> Callable[..., Any]:
    async def run_net(ctx: Context, data: Any = NOTHING) -> Any:
        return await interpreter.run(ctx, built, data)

    run_net.__name__ = label
    # The registry tells a module imported twice from two definitions by qualified name.
    run_net.__qualname__ = f"<{built.kind} {label}>"
    setattr(run_net, PROGRAM_ATTRIBUTE, built)
    return run_net
