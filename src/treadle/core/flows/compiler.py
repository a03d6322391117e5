"""How a ``Flow`` becomes a Petri net: dead-path elimination keeps every join analysable.

Every dependency is a place. ``begin`` takes the token of ``start`` and puts one in front of
each first task; ``finish`` waits for a token from every last task and puts one in ``end``.
A task is a transition that consumes one token from each of its input places and produces one
in each of its output places, so a flow without choices is a marked graph: sound by
construction.

Choices are where it gets interesting. A branch that is not taken still sends a token on,
marked *skipped* (dead-path elimination): every task downstream of a choice gets a twin
transition ``<task>.skip`` that passes the skip on without running the step. So every join
always receives one token per input and knows when all its inputs are decided:

- ``and`` runs when every input ran (otherwise it is skipped);
- ``xor`` runs with the one input that ran (the first, if several did);
- ``or`` (synchronising merge) runs when at least one input ran, with one argument per input
  and ``None`` for the skipped ones;
- ``discriminator`` runs as soon as the first input that ran arrives, and absorbs the others
  as they come (their arrival is counted, so the flow still ends cleanly).

The token counts of a run and of its skipping twin are the same, which is why the analysis,
which does not look at data, sees a sound net. A loop is an inner flow between ``<loop>.start``
and ``<loop>.end``, with ``<loop>.again`` (guarded by the loop's condition) and
``<loop>.exit``; a ``map`` is one transition whose step the runtime calls once per item.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from treadle import errors
from treadle.core.flows.builder import Branch, Flow, Node, Source, Task, TaskSpec
from treadle.core.nets import model, tokens
from treadle.core.nets.tokens import NOTHING, Behaviour, Consumed


class _Skipped:
    """The data of a token sent down a path that was not taken."""

    _instance: _Skipped | None = None

    def __new__(cls) -> _Skipped:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "SKIPPED"


SKIPPED: Final = _Skipped()
LIVE_GUARD = "ran"
SKIP_GUARD = "skipped"


@dataclasses.dataclass(frozen=True, kw_only=True)
class CompiledFlow:
    """A flow's net, what each transition does with data, and what each step name runs."""

    net: model.Net
    behaviours: Mapping[str, Behaviour]
    steps: Mapping[str, TaskSpec]


def compile_flow(flow: Flow) -> CompiledFlow:
    out = _Net()
    out.places += ["start", "end"]
    _compile(flow, "", "start", "end", out)
    net = model.Net(
        name=flow.name,
        places=tuple(out.places),
        transitions=tuple(out.transitions),
        initial={"start": 1},
        final={"end": 1},
    )
    return CompiledFlow(net=net, behaviours=dict(out.behaviours), steps=dict(out.steps))


@dataclasses.dataclass
class _Net:
    places: list[str] = dataclasses.field(default_factory=list)
    transitions: list[model.Transition] = dataclasses.field(default_factory=list)
    behaviours: dict[str, Behaviour] = dataclasses.field(default_factory=dict)
    steps: dict[str, TaskSpec] = dataclasses.field(default_factory=dict)

    def add(self, transition: model.Transition, behaviour: Behaviour) -> None:
        self.transitions.append(transition)
        self.behaviours[transition.name] = behaviour


def _label(source: Source) -> str:
    if isinstance(source, Branch):
        return f"{source.choice.name}.{source.name}"
    return source.name


def _key(source: Source) -> str:
    return ("branch " if isinstance(source, Branch) else "task ") + _label(source)


def _compile(flow: Flow, prefix: str, source: str, sink: str, out: _Net) -> None:
    """Add ``flow`` between places ``source`` and ``sink``, names prefixed with ``prefix``."""
    if not flow.nodes:
        raise errors.InvalidFlowError(f"flow {flow.name!r} has no task: add one with flow.task")
    consumers: dict[str, list[Node]] = {}
    for node in flow.nodes:
        for item in node.inputs:
            consumers.setdefault(_key(item), []).append(node)

    def uses(item: Source) -> list[Node]:
        return consumers.get(_key(item), [])

    def edge(item: Source | None, node: str) -> str:
        return f"{prefix}{'begin' if item is None else _label(item)}>{node}"

    may_skip: dict[str, bool] = {}
    leaves: list[tuple[str, str]] = []  # (label, place)
    armed: list[str] = []
    closed: list[str] = []
    roots: list[str] = []
    body: list[tuple[model.Transition, Behaviour]] = []
    for node in flow.nodes:
        ins = [edge(item, node.name) for item in node.inputs] or [edge(None, node.name)]
        if not node.inputs:
            roots.append(ins[0])
        out.places += ins
        skips = [may_skip.get(_label(item), False) for item in node.inputs]
        skippable = any(skips) if node.join == "and" else all(skips)
        if node.kind == "choice":
            assert node.choice is not None
            choice = node.choice
            if not choice.branches:
                raise errors.InvalidFlowError(
                    f"flow {flow.name!r}: choice {choice.name!r} has no branch; add "
                    "choice.when(condition) and choice.otherwise()"
                )
            routes: list[tuple[Callable[..., Any] | None, list[str]]] = []
            for branch in choice.branches:
                may_skip[_label(branch)] = True
                targets = [edge(branch, c.name) for c in uses(branch)]
                if not targets:
                    targets = [edge(branch, "finish")]
                    leaves.append((_label(branch), targets[0]))
                routes.append((branch.condition, targets))
            transition = model.Transition(
                name=prefix + node.name,
                inputs={ins[0]: 1},
                outputs={p: 1 for _, places in routes for p in places},
            )
            body.append((transition, Route(routes=tuple(routes), multi=choice.multi)))
            continue
        handle = Task(flow, node.name)
        outs = [edge(handle, c.name) for c in uses(handle)]
        if not outs:
            outs = [edge(handle, "finish")]
            leaves.append((node.name, outs[0]))
        may_skip[node.name] = skippable
        name = prefix + node.name
        if node.join == "discriminator":
            body += _discriminator(name, ins, outs, skippable, node, out, armed, closed)
            continue
        run = Run(inputs=tuple(ins), join=node.join, over=node.over, multi=False)
        if node.kind == "loop":
            assert node.body is not None and node.repeat_while is not None
            start, end = f"{name}.start", f"{name}.end"
            out.places += [start, end]
            body.append(
                (
                    model.Transition(
                        name=f"{name}.enter",
                        inputs=dict.fromkeys(ins, 1),
                        outputs={start: 1},
                        guard=LIVE_GUARD if skippable else None,
                    ),
                    Run(
                        inputs=tuple(ins), join=node.join, over=None, multi=False, calls_step=False
                    ),
                )
            )
            if skippable:
                body.append(_skip_twin(name, ins, outs, run))
            inner = _Net()
            _compile(node.body, f"{name}.", start, end, inner)
            out.places += inner.places
            out.steps.update(inner.steps)
            body += [(t, inner.behaviours[t.name]) for t in inner.transitions]
            condition = getattr(node.repeat_while, "__name__", "repeat_while")
            body.append(
                (
                    model.Transition(
                        name=f"{name}.again",
                        inputs={end: 1},
                        outputs={start: 1},
                        guard=_clean_guard(condition),
                    ),
                    Again(condition=node.repeat_while),
                )
            )
            body.append(
                (
                    model.Transition(
                        name=f"{name}.exit", inputs={end: 1}, outputs=dict.fromkeys(outs, 1)
                    ),
                    tokens.ROUTING,
                )
            )
            continue
        assert node.spec is not None
        spec = node.spec
        out.steps[name] = spec
        run = Run(inputs=tuple(ins), join=node.join, over=node.over, multi=spec.multi)
        body.append(
            (
                model.Transition(
                    name=name,
                    inputs=dict.fromkeys(ins, 1),
                    outputs=dict.fromkeys(outs, 1),
                    guard=LIVE_GUARD if skippable else None,
                    step=name,
                ),
                run,
            )
        )
        if skippable:
            body.append(_skip_twin(name, ins, outs, run))
    leaf_places = [place for _, place in leaves]
    out.places += [p for p in leaf_places if p not in out.places]
    out.add(
        model.Transition(
            name=prefix + "begin",
            inputs={source: 1},
            outputs=dict.fromkeys(roots + armed, 1),
        ),
        Begin(roots=tuple(roots)),
    )
    for transition, behaviour in body:
        out.add(transition, behaviour)
    out.add(
        model.Transition(
            name=prefix + "finish",
            inputs=dict.fromkeys(leaf_places + closed, 1),
            outputs={sink: 1},
        ),
        Finish(leaves=tuple(leaves)),
    )
    # Places first met as outputs (edges to later tasks) were added with their consumer;
    # keep one of each, in first-seen order.
    out.places[:] = list(dict.fromkeys(out.places))


def _clean_guard(name: str) -> str:
    return name if name and name != "<lambda>" else "repeat_while"


def _skip_twin(
    name: str, ins: Sequence[str], outs: Sequence[str], run: Run
) -> tuple[model.Transition, Behaviour]:
    return (
        model.Transition(
            name=f"{name}.skip",
            inputs=dict.fromkeys(ins, 1),
            outputs=dict.fromkeys(outs, 1),
            guard=SKIP_GUARD,
        ),
        Skip(run=run),
    )


def _discriminator(
    name: str,
    ins: Sequence[str],
    outs: Sequence[str],
    skippable: bool,
    node: Node,
    out: _Net,
    armed: list[str],
    closed: list[str],
) -> list[tuple[model.Transition, Behaviour]]:
    """The first input that ran starts the task; every arrival is counted; when all have
    arrived, ``<name>.done`` tidies up (and ``<name>.skip`` passes a skip on if none ran)."""
    assert node.spec is not None
    ready, run, fired, count, done = (
        f"{name}.{part}" for part in ("armed", "run", "fired", "count", "closed")
    )
    out.places += [ready, run, fired, count, done]
    armed.append(ready)
    closed.append(done)
    n = len(ins)
    made: list[tuple[model.Transition, Behaviour]] = []
    for index, place in enumerate(ins, 1):
        made.append(
            (
                model.Transition(
                    name=f"{name}.first{index}",
                    inputs={place: 1, ready: 1},
                    outputs={run: 1, fired: 1, count: 1},
                    guard=LIVE_GUARD,
                ),
                First(arrived=place, run=run),
            )
        )
        if skippable:
            made.append(
                (
                    model.Transition(
                        name=f"{name}.dead{index}",
                        inputs={place: 1, ready: 1},
                        outputs={ready: 1, count: 1},
                        guard=SKIP_GUARD,
                    ),
                    Dead(arrived=place),
                )
            )
        made.append(
            (
                model.Transition(
                    name=f"{name}.late{index}",
                    inputs={place: 1, fired: 1},
                    outputs={fired: 1, count: 1},
                ),
                ABSORB,
            )
        )
    out.steps[name] = node.spec
    made.append(
        (
            model.Transition(name=name, inputs={run: 1}, outputs=dict.fromkeys(outs, 1), step=name),
            Run(inputs=(run,), join="and", over=node.over, multi=node.spec.multi),
        )
    )
    made.append(
        (
            model.Transition(name=f"{name}.done", inputs={fired: 1, count: n}, outputs={done: 1}),
            ABSORB,
        )
    )
    if skippable:
        made.append(
            (
                model.Transition(
                    name=f"{name}.skip",
                    inputs={ready: 1, count: n},
                    outputs={**dict.fromkeys(outs, 1), done: 1},
                ),
                SkipAll(outputs=tuple(outs)),
            )
        )
    return made


# -- behaviours: what each kind of transition does with data ---------------------------------


def _args(values: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(value for value in values if value is not NOTHING)


def _one(values: Sequence[Any]) -> Any:
    args = _args(values)
    if not args:
        return NOTHING
    return args[0] if len(args) == 1 else list(args)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Run(Behaviour):
    """A task: runs its step on its inputs' data when the join says so."""

    inputs: tuple[str, ...]
    join: str
    over: Callable[..., Any] | None
    multi: bool
    calls_step: bool = True

    def values(self, consumed: Consumed) -> list[Any]:
        return [consumed[place][0] for place in self.inputs]

    def accepts(self, consumed: Consumed) -> bool:
        values = self.values(consumed)
        if self.join == "and":
            return SKIPPED not in values
        return any(value is not SKIPPED for value in values)

    def arguments(self, consumed: Consumed) -> tuple[Any, ...]:
        values = self.values(consumed)
        if self.join == "xor":
            return _args([next(v for v in values if v is not SKIPPED)])
        if self.join == "or":
            return tuple(None if v is SKIPPED else v for v in values if v is not NOTHING)
        return _args(values)

    def calls(self, consumed: Consumed) -> list[tuple[Any, ...]]:
        if not self.calls_step:
            return []
        args = self.arguments(consumed)
        if not self.multi:
            return [args]
        if self.over is not None:
            collection = self.over(*args)
        else:
            collection = args[0] if len(args) == 1 else list(args)
        if not isinstance(collection, list | tuple):
            raise TypeError(
                f"a map task runs once per item of a list; it was given "
                f"{type(collection).__name__} {collection!r:.60} (pick the list with over=...)"
            )
        return [(item,) for item in collection]

    def produce(
        self, transition: model.Transition, consumed: Consumed, results: Sequence[Any]
    ) -> dict[str, Any]:
        if not self.calls_step:
            value = _one(self.arguments(consumed))
        elif self.multi:
            value = list(results)
        else:
            value = results[0]
        return dict.fromkeys(transition.outputs, value)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Skip(Behaviour):
    """The twin of a task on a dead path: fires when the task's join says it cannot run."""

    run: Run

    def accepts(self, consumed: Consumed) -> bool:
        return not self.run.accepts(consumed)

    def produce(
        self, transition: model.Transition, consumed: Consumed, results: Sequence[Any]
    ) -> dict[str, Any]:
        return dict.fromkeys(transition.outputs, SKIPPED)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Route(Behaviour):
    """A choice: sends the data down the branches taken and a skip down the others."""

    routes: tuple[tuple[Callable[..., Any] | None, Sequence[str]], ...]
    multi: bool

    def produce(
        self, transition: model.Transition, consumed: Consumed, results: Sequence[Any]
    ) -> dict[str, Any]:
        (values,) = consumed.values()
        value = values[0]
        taken: list[bool] = []
        for condition, _ in self.routes:
            if value is SKIPPED or (not self.multi and any(taken)):
                taken.append(False)
            elif condition is None:
                taken.append(not any(taken))
            else:
                taken.append(bool(condition(*_args([value]))))
        produced: dict[str, Any] = {}
        for (_, places), chosen in zip(self.routes, taken, strict=True):
            for place in places:
                produced[place] = value if chosen else SKIPPED
        return produced


@dataclasses.dataclass(frozen=True, kw_only=True)
class Begin(Behaviour):
    """A flow's start: its input goes to every first task."""

    roots: tuple[str, ...]

    def produce(
        self, transition: model.Transition, consumed: Consumed, results: Sequence[Any]
    ) -> dict[str, Any]:
        (values,) = consumed.values()
        return {place: values[0] if place in self.roots else None for place in transition.outputs}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Finish(Behaviour):
    """A flow's end: its result is the last task's, or last tasks' by name (those that ran)."""

    leaves: tuple[tuple[str, str], ...]

    def produce(
        self, transition: model.Transition, consumed: Consumed, results: Sequence[Any]
    ) -> dict[str, Any]:
        values = {label: consumed[place][0] for label, place in self.leaves}
        if len(values) == 1:
            (value,) = values.values()
            result = None if value is SKIPPED or value is NOTHING else value
        else:
            result = {
                label: None if value is NOTHING else value
                for label, value in values.items()
                if value is not SKIPPED
            }
        return dict.fromkeys(transition.outputs, result)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Again(Behaviour):
    """A loop's way back: taken while the condition holds on the round's result."""

    condition: Callable[..., Any]

    def accepts(self, consumed: Consumed) -> bool:
        return bool(self.condition(*tokens.data_of(consumed)))


@dataclasses.dataclass(frozen=True, kw_only=True)
class First(Behaviour):
    """A discriminator's first arrival that ran: its data starts the task."""

    arrived: str
    run: str

    def accepts(self, consumed: Consumed) -> bool:
        return consumed[self.arrived][0] is not SKIPPED

    def produce(
        self, transition: model.Transition, consumed: Consumed, results: Sequence[Any]
    ) -> dict[str, Any]:
        produced = dict.fromkeys(transition.outputs)
        produced[self.run] = consumed[self.arrived][0]
        return produced


@dataclasses.dataclass(frozen=True, kw_only=True)
class Dead(Behaviour):
    """A discriminator's skipped arrival before any input ran: counted, nothing starts."""

    arrived: str

    def accepts(self, consumed: Consumed) -> bool:
        return consumed[self.arrived][0] is SKIPPED

    def produce(
        self, transition: model.Transition, consumed: Consumed, results: Sequence[Any]
    ) -> dict[str, Any]:
        return dict.fromkeys(transition.outputs)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SkipAll(Behaviour):
    """A discriminator none of whose inputs ran: passes a skip on."""

    outputs: tuple[str, ...]

    def produce(
        self, transition: model.Transition, consumed: Consumed, results: Sequence[Any]
    ) -> dict[str, Any]:
        return {p: SKIPPED if p in self.outputs else None for p in transition.outputs}


class _Absorb(Behaviour):
    def produce(
        self, transition: model.Transition, consumed: Consumed, results: Sequence[Any]
    ) -> dict[str, Any]:
        return dict.fromkeys(transition.outputs)


ABSORB: Final = _Absorb()


# -- printing ---------------------------------------------------------------------------------


def describe(net: model.Net) -> str:
    """The net as text: a header, then one transition a line with its arcs, guard and step."""
    show = model.show_marking
    final = "none" if net.final is None else show(net.final, net.places)
    lines = [
        f"net {net.name}: {len(net.places)} places, {len(net.transitions)} transitions, "
        f"initial {show(net.initial, net.places)}, final {final}"
    ]
    width = max((len(t.name) for t in net.transitions), default=0)
    for t in net.transitions:
        text = f"  {t.name:<{width}}  {show(t.inputs, t.inputs)} -> {show(t.outputs, t.outputs)}"
        if t.resets:
            text += f"  resets {sorted(t.resets)}"
        if t.guard:
            text += f"  if {t.guard}"
        text += f"  step {t.step}" if t.step else "  (routing)"
        lines.append(text)
    return "\n".join(lines)
