"""Workflow and step definitions, and the decorators that make them."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any, Generic, NoReturn, ParamSpec, TypeVar, overload

from treadle import errors
from treadle.core import retry as retry_policy
from treadle.core.retry import Retry

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_QUEUE = "default"


def _check_timeout(value: float | None, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise errors.RegistrationError(f"{where}: timeout must be a number of seconds or None")
    if not math.isfinite(value) or value <= 0:
        raise errors.RegistrationError(f"{where}: timeout must be a positive number of seconds")
    return float(value)


def _check_queue(value: str, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 100 or not value.isprintable():
        raise errors.RegistrationError(
            f"{where}: queue must be a non-empty printable name of at most 100 characters"
        )
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class StepDefinition:
    fn: Callable[..., Any]
    name: str
    retry: Retry
    timeout: float | None
    is_async: bool


class Step(Generic[P, R]):
    """A function declared as a step: call it through ``ctx.step(fn, ...)`` in a workflow."""

    def __init__(self, definition: StepDefinition) -> None:
        self.definition = definition
        functools.update_wrapper(self, definition.fn)

    @property
    def fn(self) -> Callable[P, R]:
        """The plain function, for unit tests that call it without a workflow."""
        return self.definition.fn

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> NoReturn:
        raise errors.StepOutsideWorkflowError(
            f"step {self.definition.name!r} was called directly. Inside a workflow write "
            f"`ctx.step({self.definition.fn.__name__}, ...)` so its result is recorded; in a "
            f"unit test call the plain function `{self.definition.fn.__name__}.fn(...)`."
        )


@overload
def step(fn: Callable[P, R], /) -> Step[P, R]: ...


@overload
def step(
    *, name: str | None = None, retry: Retry | None = None, timeout: float | None = None
) -> Callable[[Callable[P, R]], Step[P, R]]: ...


def step(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    retry: Retry | None = None,
    timeout: float | None = None,
) -> Step[P, R] | Callable[[Callable[P, R]], Step[P, R]]:
    """Declare a step: a unit of work whose result is recorded once per run.

    ``retry`` says how failed attempts are tried again (default: 3 attempts, backoff from 1 s);
    ``timeout`` bounds each attempt in seconds.
    """
    if retry is not None and not isinstance(retry, Retry):
        raise errors.RegistrationError("@tr.step(retry=...) takes a tr.Retry(...)")

    def decorate(function: Callable[P, R]) -> Step[P, R]:
        if isinstance(function, Step):
            raise errors.RegistrationError(f"{function.definition.name} is already a step")
        if not callable(function):
            raise errors.RegistrationError(f"@tr.step decorates functions, not {function!r}")
        where = f"@tr.step on {getattr(function, '__qualname__', function)!r}"
        return Step(
            StepDefinition(
                fn=function,
                name=name or function.__qualname__,
                retry=retry or retry_policy.DEFAULT,
                timeout=_check_timeout(timeout, where),
                is_async=inspect.iscoroutinefunction(function),
            )
        )

    return decorate(fn) if fn is not None else decorate


def definition_of(fn: Any) -> StepDefinition:
    """The step definition of a ``@tr.step`` function, or a default one for a plain callable."""
    if isinstance(fn, Step):
        return fn.definition
    if not callable(fn):
        raise errors.UsageError(f"ctx.step(...) needs a function as its first argument, not {fn!r}")
    cached: StepDefinition | None = getattr(fn, "__treadle_step__", None)
    if cached is not None:
        return cached
    definition = StepDefinition(
        fn=fn,
        name=getattr(fn, "__qualname__", repr(fn)),
        retry=retry_policy.DEFAULT,
        timeout=None,
        is_async=inspect.iscoroutinefunction(fn),
    )
    try:
        fn.__treadle_step__ = definition
    except (AttributeError, TypeError):
        pass  # a builtin or a bound method: build it again next time
    return definition


@dataclasses.dataclass(frozen=True, kw_only=True)
class WorkflowDefinition:
    fn: Callable[..., Any]
    name: str
    version: str
    queue: str
    timeout: float | None
    is_async: bool
    signature: inspect.Signature

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Refuse arguments the workflow function cannot take, before anything is stored."""
        try:
            self.signature.bind(None, *args, **kwargs)
        except TypeError as exc:
            raise errors.UsageError(
                f"workflow {self.name!r} cannot take these arguments: {exc}. "
                f"Its signature is {self.fn.__name__}{self.signature}."
            ) from exc


class Workflow(Generic[P, R]):
    """A function declared as a workflow: start it with ``engine.start(fn, ...)``."""

    def __init__(self, definition: WorkflowDefinition) -> None:
        self.definition = definition
        functools.update_wrapper(self, definition.fn)

    @property
    def fn(self) -> Callable[..., R]:
        return self.definition.fn

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise errors.UsageError(
            f"workflow {self.definition.name!r} was called directly: start it with "
            f"`engine.start({self.definition.fn.__name__}, ...)`, or from another workflow "
            f"with `ctx.child({self.definition.fn.__name__}, ...)`."
        )


class Registry:
    """Workflows by name and version, filled in by ``@tr.workflow`` as modules are imported."""

    def __init__(self) -> None:
        self._workflows: dict[tuple[str, str], WorkflowDefinition] = {}
        self._latest: dict[str, WorkflowDefinition] = {}

    def add(self, definition: WorkflowDefinition) -> None:
        key = (definition.name, definition.version)
        existing = self._workflows.get(key)
        if existing is not None and not _same_definition(existing.fn, definition.fn):
            raise errors.RegistrationError(
                f"workflow {definition.name!r} version {definition.version!r} is defined twice: "
                f"in {_where(existing.fn)} and in {_where(definition.fn)}. Give one of them "
                "another name (@tr.workflow(name=...), or name= for a flow or net) or another "
                "version."
            )
        self._workflows[key] = definition
        self._latest[definition.name] = definition

    def get(self, name: str, version: str | None = None) -> WorkflowDefinition | None:
        if version is None:
            return self._latest.get(name)
        return self._workflows.get((name, version))

    def resolve(self, workflow: Any) -> WorkflowDefinition:
        """The definition a ``start``/``child`` call names: a workflow object or its name."""
        if isinstance(workflow, Workflow):
            return workflow.definition
        if isinstance(workflow, str):
            found = self.get(workflow)
            if found is None:
                known = ", ".join(sorted(self._latest)) or "none"
                raise errors.UnknownWorkflowError(
                    f"no workflow is registered as {workflow!r} (known: {known}); import the "
                    "module that defines it, or pass the workflow function itself."
                )
            return found
        raise errors.UnknownWorkflowError(
            f"{workflow!r} is not a workflow: decorate the function with @tr.workflow"
        )

    def names(self) -> list[tuple[str, str]]:
        return sorted(self._workflows)


NET_ATTRIBUTE = "__treadle_net__"
"""Where the body function of a flow or net workflow keeps what it runs (its ``Program``):
every such workflow shares one body function, so the definition is told by this instead."""


def _same_definition(a: Callable[..., Any], b: Callable[..., Any]) -> bool:
    net_a, net_b = getattr(a, NET_ATTRIBUTE, None), getattr(b, NET_ATTRIBUTE, None)
    if net_a is None and net_b is None:
        return _same_source(a, b)
    # A flow or net is the same definition when its net and everything bound to it are:
    # the same module imported twice builds equal ones, from functions at the same places.
    return _same_source(a, b) and _shape(net_a) == _shape(net_b)


def _where(fn: Callable[..., Any]) -> str:
    program = getattr(fn, NET_ATTRIBUTE, None)
    if program is not None:
        return f"{getattr(program, 'kind', 'net')} {getattr(program, 'net', None)!r}"
    return f"{fn.__module__}.{fn.__qualname__}"


_PLAIN = (str, int, float, bool, type(None), bytes)


def _shape(value: Any, depth: int = 0) -> Any:
    """A value to compare definitions by: data as it is, functions by where they are written
    (and what their closures hold), steps and workflows by their definitions."""
    if depth > 12:
        return type(value).__qualname__  # deep enough to tell definitions apart
    deeper = depth + 1
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, Step):
        return ("step", _shape(value.definition, deeper))
    if isinstance(value, Workflow):
        return ("workflow", value.definition.name, value.definition.version)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return (
            type(value).__qualname__,
            tuple((f.name, _shape(getattr(value, f.name), deeper)) for f in fields),
        )
    if isinstance(value, Mapping):
        items = [(_shape(k, deeper), _shape(v, deeper)) for k, v in value.items()]
        return ("mapping", sorted(items, key=repr))
    if isinstance(value, list | tuple):
        return tuple(_shape(item, deeper) for item in value)
    if isinstance(value, set | frozenset):
        return ("set", sorted((_shape(item, deeper) for item in value), key=repr))
    code = getattr(value, "__code__", None)
    if code is not None:
        cells = getattr(value, "__closure__", None) or ()
        return (
            "function",
            getattr(value, "__qualname__", ""),
            code.co_filename,
            code.co_firstlineno,
            tuple(_shape(cell.cell_contents, deeper) for cell in cells if _filled(cell)),
        )
    kind: Any = type(value)
    if kind.__eq__ is not object.__eq__:
        return value
    # An object without equality of its own (a sentinel, say): told apart by type only.
    return ("object", type(value).__module__, type(value).__qualname__)


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:  # an empty cell: a name the closure binds later
        return False
    return True


def _same_source(a: Callable[..., Any], b: Callable[..., Any]) -> bool:
    # The same file imported twice (as __main__ and by module name) defines the same workflow.
    code_a, code_b = getattr(a, "__code__", None), getattr(b, "__code__", None)
    return (
        a.__qualname__ == b.__qualname__
        and code_a is not None
        and code_b is not None
        and code_a.co_filename == code_b.co_filename
    )


default_registry = Registry()


@overload
def workflow(fn: Callable[P, R], /) -> Workflow[P, R]: ...


@overload
def workflow(
    *,
    name: str | None = None,
    version: str | int = "1",
    queue: str = DEFAULT_QUEUE,
    timeout: float | None = None,
    registry: Registry | None = None,
) -> Callable[[Callable[P, R]], Workflow[P, R]]: ...


def workflow(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    version: str | int = "1",
    queue: str = DEFAULT_QUEUE,
    timeout: float | None = None,
    registry: Registry | None = None,
) -> Workflow[P, R] | Callable[[Callable[P, R]], Workflow[P, R]]:
    """Declare a durable workflow; its first parameter receives the ``tr.Context``.

    ``version`` pins runs to this code: a run always continues on the version it started with.
    ``timeout`` is the run's deadline in seconds from its start; ``queue`` is where its runs go
    unless ``start`` names another.
    """

    def decorate(function: Callable[P, R]) -> Workflow[P, R]:
        where = f"@tr.workflow on {getattr(function, '__qualname__', function)!r}"
        if not inspect.isfunction(function):
            raise errors.RegistrationError(f"{where}: decorate a function (def or async def)")
        signature = inspect.signature(function)
        if not signature.parameters:
            raise errors.RegistrationError(
                f"{where}: a workflow's first parameter receives the context, "
                f"write `def {function.__name__}(ctx: tr.Context, ...)`"
            )
        if isinstance(version, bool) or not isinstance(version, str | int) or str(version) == "":
            raise errors.RegistrationError(f"{where}: version must be a non-empty str or int")
        definition = WorkflowDefinition(
            fn=function,
            name=name or function.__name__,
            version=str(version),
            queue=_check_queue(queue, where),
            timeout=_check_timeout(timeout, where),
            is_async=inspect.iscoroutinefunction(function),
            signature=signature,
        )
        (registry or default_registry).add(definition)
        return Workflow(definition)

    return decorate(fn) if fn is not None else decorate
