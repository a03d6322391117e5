"""``Flow``: a graph of tasks with dependencies, choices, joins, loops and maps.

The builder only records what the user declares and checks it as it goes; ``compiler``
turns it into a Petri net. Steps and conditions are held as opaque callables: this layer
never calls a step, and calls a condition only when the runtime asks a compiled behaviour.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from treadle import errors
from treadle.core.retry import Retry

if TYPE_CHECKING:
    from treadle.core.flows.compiler import CompiledFlow
    from treadle.core.nets.model import Net

Join = Literal["and", "xor", "or", "discriminator"]
JOINS: tuple[str, ...] = ("and", "xor", "or", "discriminator")
RESERVED = frozenset({"start", "begin", "finish", "end"})
_BAD = re.compile(r"[^A-Za-z0-9_\-]")


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """What a task runs: a step (or a workflow, run as a child), with per-task overrides."""

    fn: Any
    """The ``@tr.step`` function, plain callable, or registered workflow (a sub-flow)."""
    retry: Retry | None = None
    """Overrides the step's own retry policy."""
    timeout: float | None = None
    """Overrides the step's own timeout (seconds per attempt)."""
    multi: bool = False
    """A multi-instance task (``map``): one call per item of its input collection."""


@dataclasses.dataclass(frozen=True, eq=False)
class Task:
    """A task of a flow; pass it in ``after=`` of the tasks that depend on it."""

    flow: Flow
    name: str

    def __repr__(self) -> str:
        return f"<task {self.name} of flow {self.flow.name}>"


@dataclasses.dataclass(frozen=True, eq=False)
class Branch:
    """One way out of a choice: ``choice.when(condition)`` or ``choice.otherwise()``."""

    choice: Choice
    name: str
    condition: Callable[..., Any] | None
    """Called with the data that reached the choice; None for ``otherwise``."""

    @property
    def flow(self) -> Flow:
        return self.choice.flow

    def __repr__(self) -> str:
        return f"<branch {self.choice.name}.{self.name} of flow {self.flow.name}>"


Source = Task | Branch
After = Source | Sequence[Source] | None


@dataclasses.dataclass(eq=False)
class Choice:
    """A choice point: exclusive (the first branch whose condition holds) or multi (every
    branch whose condition holds). Make branches with ``when`` and ``otherwise``."""

    flow: Flow
    name: str
    multi: bool
    source: Source
    branches: list[Branch] = dataclasses.field(default_factory=list)

    def when(self, condition: Callable[..., Any], *, name: str | None = None) -> Branch:
        """A branch taken when ``condition(data)`` is true; conditions are tried in the order
        the branches were made, and must be deterministic (replay calls them again)."""
        if not callable(condition):
            raise errors.InvalidFlowError(
                f"choice {self.name!r}: when(...) takes a callable condition, not {condition!r}"
            )
        if any(b.condition is None for b in self.branches):
            raise errors.InvalidFlowError(
                f"choice {self.name!r}: otherwise() must be the last branch; add when(...) "
                "branches before it"
            )
        label = self._label(name, getattr(condition, "__name__", "when"))
        branch = Branch(self, label, condition)
        self.branches.append(branch)
        return branch

    def otherwise(self, *, name: str | None = None) -> Branch:
        """The branch taken when no other branch's condition holds."""
        if any(b.condition is None for b in self.branches):
            raise errors.InvalidFlowError(f"choice {self.name!r} already has an otherwise()")
        branch = Branch(self, self._label(name, "otherwise"), None)
        self.branches.append(branch)
        return branch

    def _label(self, name: str | None, default: str) -> str:
        taken = {b.name for b in self.branches}
        if name is not None:
            label = _check_name(name, f"a branch of choice {self.name!r}")
            if label in taken:
                raise errors.InvalidFlowError(
                    f"choice {self.name!r} has two branches called {label!r}"
                )
            return label
        return _unique(_clean(default), taken)


@dataclasses.dataclass(eq=False)
class Node:
    """A task-like node of the graph, as the compiler sees it."""

    name: str
    kind: Literal["task", "loop", "choice"]
    inputs: tuple[Source, ...]
    join: str = "and"
    spec: TaskSpec | None = None
    over: Callable[..., Any] | None = None
    body: Flow | None = None
    repeat_while: Callable[..., Any] | None = None
    choice: Choice | None = None


class Flow:
    """A graph of tasks; it compiles to a Petri net and runs like any workflow.

    ``flow.task(fn, after=...)`` adds a task that runs after the given tasks (all of them:
    an and-join, unless ``join=`` says otherwise); tasks with no ``after`` start the flow
    and receive its input; a task receives its predecessors' results as arguments.
    """

    def __init__(self, name: str = "flow") -> None:
        self.name = _check_name(name, "a flow")
        self.nodes: list[Node] = []
        self._names: set[str] = set()

    # -- building ----------------------------------------------------------------------------

    def task(
        self,
        fn: Any,
        /,
        *,
        after: After = None,
        join: Join = "and",
        name: str | None = None,
        retry: Retry | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Add a task running ``fn`` (a step, a plain callable, or a registered workflow,
        which runs as a child run: a sub-flow) after ``after``."""
        spec = self._spec(fn, retry, timeout, multi=False, what="task")
        return self._add_task(fn, spec, after, join, name, over=None)

    def subflow(
        self, workflow: Any, /, *, after: After = None, join: Join = "and", name: str | None = None
    ) -> Task:
        """Add a task that runs ``workflow`` (a registered flow, net or function) as a child
        run and continues with its result."""
        return self.task(workflow, after=after, join=join, name=name)

    def map(
        self,
        fn: Any,
        /,
        *,
        over: Callable[..., Any] | None = None,
        after: After = None,
        join: Join = "and",
        name: str | None = None,
        retry: Retry | None = None,
        timeout: float | None = None,
    ) -> Task:
        """Add a task that calls ``fn`` once per item of a collection, all at the same time,
        and continues with the list of results (a dynamic fan-out and its join).

        The collection is the task's input, or ``over(input)`` when given.
        """
        if over is not None and not callable(over):
            raise errors.InvalidFlowError(f"map(over=...) takes a callable, not {over!r}")
        spec = self._spec(fn, retry, timeout, multi=True, what="map")
        return self._add_task(fn, spec, after, join, name, over=over)

    def choice(self, *, after: Source, name: str | None = None) -> Choice:
        """An exclusive choice after ``after``: exactly the first branch whose condition holds
        is taken (``otherwise()`` when none does); the other branches are skipped."""
        return self._choice(after, name, multi=False)

    def multi_choice(self, *, after: Source, name: str | None = None) -> Choice:
        """A multi-choice after ``after``: every branch whose condition holds is taken.
        Join its branches with ``join="or"`` to wait for exactly the ones taken."""
        return self._choice(after, name, multi=True)

    def loop(
        self,
        body: Flow,
        /,
        *,
        repeat_while: Callable[..., Any],
        after: After = None,
        join: Join = "and",
        name: str | None = None,
    ) -> Task:
        """Run the flow ``body`` once, then again while ``repeat_while(result)`` holds; each
        round gets the previous round's result as its input. Continues with the last result."""
        if not isinstance(body, Flow):
            raise errors.InvalidFlowError(f"loop(...) repeats a tr.Flow, not {body!r}")
        if body is self or self in _nested(body):
            raise errors.InvalidFlowError(f"flow {self.name!r} cannot loop over itself")
        if not body.nodes:
            raise errors.InvalidFlowError(f"the loop body {body.name!r} has no task")
        if not callable(repeat_while):
            raise errors.InvalidFlowError(
                f"loop(repeat_while=...) takes a callable, not {repeat_while!r}"
            )
        label = self._name(name, body.name)
        inputs = self._inputs(after, join, label)
        self.nodes.append(
            Node(label, "loop", inputs, join=join, body=body, repeat_while=repeat_while)
        )
        return Task(self, label)

    # -- what it compiles to -----------------------------------------------------------------

    def compile(self) -> CompiledFlow:
        """The net, with how each transition treats data and which step it runs."""
        from treadle.core.flows import compiler  # compiler builds on this module

        return compiler.compile_flow(self)

    def to_net(self) -> Net:
        """The Petri net this flow compiles to (print it with ``flow.describe()``)."""
        return self.compile().net

    def describe(self) -> str:
        """The compiled net, one transition a line: what it consumes, produces and runs."""
        from treadle.core.flows import compiler

        return compiler.describe(self.to_net())

    def __repr__(self) -> str:
        return f"<Flow {self.name}: {len(self.nodes)} nodes>"

    # -- checks ------------------------------------------------------------------------------

    def _spec(
        self, fn: Any, retry: Retry | None, timeout: float | None, *, multi: bool, what: str
    ) -> TaskSpec:
        if not callable(fn):
            raise errors.InvalidFlowError(
                f"flow {self.name!r}: {what}(...) takes a step function or a workflow, not {fn!r}"
            )
        if retry is not None and not isinstance(retry, Retry):
            raise errors.InvalidFlowError(f"flow {self.name!r}: retry= takes a tr.Retry(...)")
        if timeout is not None and (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise errors.InvalidFlowError(
                f"flow {self.name!r}: timeout= takes a positive number of seconds"
            )
        return TaskSpec(
            fn=fn, retry=retry, timeout=None if timeout is None else float(timeout), multi=multi
        )

    def _add_task(
        self,
        fn: Any,
        spec: TaskSpec,
        after: After,
        join: Join,
        name: str | None,
        over: Callable[..., Any] | None,
    ) -> Task:
        default = getattr(fn, "__name__", None) or type(fn).__name__
        label = self._name(name, default)
        inputs = self._inputs(after, join, label)
        self.nodes.append(Node(label, "task", inputs, join=join, spec=spec, over=over))
        return Task(self, label)

    def _choice(self, after: Source, name: str | None, *, multi: bool) -> Choice:
        kind = "multi_choice" if multi else "choice"
        if not isinstance(after, Task | Branch):
            raise errors.InvalidFlowError(
                f"flow {self.name!r}: {kind}(after=...) takes one task or branch, not {after!r}"
            )
        label = self._name(name, kind)
        (source,) = self._inputs(after, "and", label)
        choice = Choice(self, label, multi, source)
        self.nodes.append(Node(label, "choice", (source,), choice=choice))
        return choice

    def _name(self, name: str | None, default: str) -> str:
        if name is None:
            label = _unique(_clean(default), self._names | RESERVED)
        else:
            label = _check_name(name, "a task")
            if label in RESERVED:
                raise errors.InvalidFlowError(
                    f"flow {self.name!r}: {label!r} is reserved for the flow's own start and "
                    "end; choose another name"
                )
            if label in self._names:
                raise errors.InvalidFlowError(
                    f"flow {self.name!r} already has a task called {label!r}; pass another name="
                )
        self._names.add(label)
        return label

    def _inputs(self, after: After, join: str, label: str) -> tuple[Source, ...]:
        if join not in JOINS:
            raise errors.InvalidFlowError(
                f"flow {self.name!r}, task {label!r}: join must be one of {', '.join(JOINS)}, "
                f"not {join!r}"
            )
        if after is None:
            items: list[Any] = []
        elif isinstance(after, Task | Branch):
            items = [after]
        elif isinstance(after, Sequence) and not isinstance(after, str):
            items = list(after)
        else:
            raise errors.InvalidFlowError(
                f"flow {self.name!r}, task {label!r}: after= takes tasks or branches of this "
                f"flow, not {after!r}"
            )
        for item in items:
            if not isinstance(item, Task | Branch) or item.flow is not self:
                raise errors.InvalidFlowError(
                    f"flow {self.name!r}, task {label!r}: {item!r} is not a task or branch of "
                    "this flow"
                )
        if len({id(item) for item in items}) != len(items):
            raise errors.InvalidFlowError(
                f"flow {self.name!r}, task {label!r} names the same predecessor twice"
            )
        if join != "and" and len(items) < 2:
            raise errors.InvalidFlowError(
                f"flow {self.name!r}, task {label!r}: a {join}-join needs two or more tasks "
                "or branches in after="
            )
        return tuple(items)


def _nested(flow: Flow) -> list[Flow]:
    found: list[Flow] = []
    for node in flow.nodes:
        if node.body is not None:
            found.append(node.body)
            found.extend(_nested(node.body))
    return found


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not name or _BAD.search(name):
        raise errors.InvalidFlowError(
            f"{what} needs a name of letters, digits, '_' and '-', not {name!r}"
        )
    return name


def _clean(text: str) -> str:
    return _BAD.sub("", text) or "task"


def _unique(base: str, taken: set[str] | frozenset[str]) -> str:
    if base not in taken:
        return base
    number = 2
    while f"{base}_{number}" in taken:
        number += 1
    return f"{base}_{number}"
