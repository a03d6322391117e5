"""What a worker needs to run a net: the net, each transition's behaviour, bound steps.

A ``Program`` is built once, at registration, from a ``tr.Net`` with ``steps=`` and
``guards=`` bindings, or from a compiled ``tr.Flow``. Everything is checked then: every step
and guard a transition names is bound, every binding is something that can run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from treadle import errors
from treadle.core.flows import compiler
from treadle.core.nets import model, soundness, tokens
from treadle.runtime import registry

Target = registry.Step[..., Any] | registry.Workflow[..., Any]
"""What a transition's step name runs: a step, or a workflow started as a child run."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Program:
    """A net ready to run: its transitions' behaviours and what their step names run."""

    net: model.Net
    """The net, with its initial and final marking filled in (see ``ends``)."""
    behaviours: Mapping[str, tokens.Behaviour]
    steps: Mapping[str, Target]
    guards: Mapping[str, Callable[..., Any]]
    kind: str
    """``"net"`` or ``"flow"``, for messages."""

    def behaviour(self, transition: model.Transition) -> tokens.Behaviour:
        """The transition's behaviour; a transition a change added gets a plain net's."""
        found = self.behaviours.get(transition.name)
        if found is not None:
            return found
        guard = self.guards[transition.guard] if transition.guard else None
        return tokens.NetBehaviour(guard=guard, step=transition.step is not None)

    def unbound(self, transitions: list[model.Transition]) -> list[str]:
        """What the given transitions name that this program does not bind."""
        problems = []
        for t in transitions:
            if t.step is not None and t.step not in self.steps:
                problems.append(f"transition {t.name!r} runs step {t.step!r}, which is not bound")
            if t.guard is not None and t.guard not in self.guards:
                problems.append(f"transition {t.name!r} has guard {t.guard!r}, which is not bound")
        return problems


def ends(net: model.Net) -> model.Net:
    """The net with the markings a run starts and ends with.

    A net that declares an initial (and final) marking keeps it. A workflow net that declares
    none starts with one token in its source place and ends with one in its sink place.
    """
    shape = soundness.structure(net)
    if not isinstance(shape, tuple):
        return net
    source, sink = shape
    initial = net.initial or {source: 1}
    final = net.final if net.final is not None else {sink: 1}
    return dataclasses.replace(net, initial=initial, final=final)


def from_net(
    net: model.Net,
    steps: Mapping[str, Any] | None,
    guards: Mapping[str, Any] | None,
) -> Program:
    """A program for a ``tr.Net``: each transition's step and guard looked up by name."""
    if not isinstance(net, model.Net):
        raise errors.RegistrationError(f"expected a tr.Net, not {net!r}")
    shape = soundness.structure(net)
    if not net.initial and not isinstance(shape, tuple):
        raise errors.RegistrationError(
            f"net {net.name!r} declares no initial marking and is not a workflow net ({shape}): "
            "give it initial={place: tokens}, or one source and one sink place"
        )
    bound_steps = _steps(steps, f"net {net.name!r}")
    bound_guards = _guards(guards, f"net {net.name!r}")
    program = Program(
        net=ends(net), behaviours={}, steps=bound_steps, guards=bound_guards, kind="net"
    )
    problems = program.unbound(list(net.transitions))
    if problems:
        raise errors.RegistrationError(
            f"net {net.name!r}: "
            + "; ".join(problems)
            + ". Bind each name: tr.workflow(net, steps={'name': step_function}, "
            "guards={'name': predicate})"
        )
    behaviours = {t.name: program.behaviour(t) for t in net.transitions}
    return dataclasses.replace(program, behaviours=behaviours)


def from_flow(
    compiled: compiler.CompiledFlow,
    steps: Mapping[str, Any] | None,
    guards: Mapping[str, Any] | None,
) -> Program:
    """A program for a compiled flow; ``steps`` and ``guards`` are extra names that changes
    to its runs may use."""
    where = f"flow {compiled.net.name!r}"
    bound: dict[str, Target] = dict(_steps(steps, where))
    for name, spec in compiled.steps.items():
        if isinstance(spec.fn, registry.Workflow):
            if spec.retry is not None or spec.timeout is not None:
                raise errors.InvalidFlowError(
                    f"{where}: task {name!r} runs workflow {spec.fn.definition.name!r} as a "
                    "child run; retry= and timeout= apply to steps (give the child workflow a "
                    "timeout of its own)"
                )
            bound[name] = spec.fn
            continue
        step = _step(spec.fn, f"{where}, task {name!r}")
        definition = step.definition
        if spec.retry is not None or spec.timeout is not None:
            definition = dataclasses.replace(
                definition,
                retry=spec.retry or definition.retry,
                timeout=spec.timeout if spec.timeout is not None else definition.timeout,
            )
            step = registry.Step(definition)
        bound[name] = step
    return Program(
        net=compiled.net,
        behaviours=compiled.behaviours,
        steps=bound,
        guards=_guards(guards, where),
        kind="flow",
    )


def _steps(steps: Mapping[str, Any] | None, where: str) -> dict[str, Target]:
    if steps is None:
        return {}
    if not isinstance(steps, Mapping):
        raise errors.RegistrationError(f"{where}: steps= takes a dict of step name -> function")
    bound: dict[str, Target] = {}
    for name, value in steps.items():
        if not isinstance(name, str) or not name:
            raise errors.RegistrationError(f"{where}: step names must be non-empty strings")
        if isinstance(value, registry.Workflow):
            bound[name] = value
        else:
            bound[name] = _step(value, f"{where}, step {name!r}")
    return bound


def _step(fn: Any, where: str) -> registry.Step[..., Any]:
    if isinstance(fn, registry.Step):
        return fn
    if not callable(fn):
        raise errors.RegistrationError(
            f"{where}: bind a @tr.step function, a plain callable or a workflow, not {fn!r}"
        )
    return registry.Step(registry.definition_of(fn))


def _guards(guards: Mapping[str, Any] | None, where: str) -> dict[str, Callable[..., Any]]:
    if guards is None:
        return {}
    if not isinstance(guards, Mapping):
        raise errors.RegistrationError(f"{where}: guards= takes a dict of guard name -> function")
    for name, value in guards.items():
        if not isinstance(name, str) or not name or not callable(value):
            raise errors.RegistrationError(
                f"{where}: guard {name!r} must be bound to a callable, not {value!r}"
            )
    return dict(guards)
