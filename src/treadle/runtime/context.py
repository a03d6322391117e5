"""What workflow code calls: ``ctx.step``, ``ctx.sleep``, ``ctx.wait_for`` and the rest.

Every call gets a position, counted in call order. On replay a call whose outcome the history
holds returns it at once; the first call with no recorded outcome runs live.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import inspect
import math
import random as random_module
import uuid as uuid_module
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from treadle import errors
from treadle.core import codec, ids, replay
from treadle.core.history import Event, EventKind
from treadle.runtime import registry
from treadle.runtime.control import EngineSignal, Suspend

if TYPE_CHECKING:
    from treadle.runtime.execution import Execution

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


@dataclasses.dataclass(eq=False)
class _Branch:
    """One of the calls given to ``ctx.first``, running in a task of its own."""

    withdrawn: bool = False
    """Replaying a call that lost: it takes its positions and does nothing else."""
    positions: list[int] = dataclasses.field(default_factory=list)
    """The positions its calls took (a step call's is taken before the race starts)."""
    answered_by: int = 0
    """The id of the history event that answered it; 0 while it was answered live."""
    stepping: int = 0
    """How many steps it is executing: a branch that loses while it does is interrupted."""
    timers: set[int] = dataclasses.field(default_factory=set)
    """Positions at which it started a timer (a sleep, a wait's timeout) in this execution."""


class _Withdrawn(EngineSignal):
    """A call that lost a recorded ``ctx.first`` stops as soon as it has its position."""


# The branch of a ``ctx.first`` that the running task belongs to; each branch's task sets it.
_BRANCH: contextvars.ContextVar[_Branch | None] = contextvars.ContextVar(
    "treadle_first_branch", default=None
)


class StepCall(Generic[R]):
    """A step call: awaiting it returns the step's result, recorded or freshly computed."""

    __slots__ = ("_args", "_ctx", "_definition", "_kwargs", "position")

    def __init__(
        self,
        ctx: Context,
        position: int,
        definition: registry.StepDefinition,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self._ctx = ctx
        self.position = position
        self._definition = definition
        self._args = args
        self._kwargs = kwargs

    def recorded(self) -> tuple[bool, Any]:
        """``(True, result)`` when the history already holds this step's result; its final
        error, raised, when it holds that."""
        journal = self._ctx._execution.journal
        event = journal.results.get(self.position)
        if event is not None:
            self._ctx._resolved(event)
            return True, event.data["result"]
        failures = journal.attempts_failed(self.position)
        if failures and failures[-1].data.get("final"):
            # Raised here, where the call is awaited, as it was the first time: raised at
            # the call, it would stop the calls next to it in a gather from being made.
            self._ctx._resolved(failures[-1])
            raise self._ctx._execution.rebuild_error(failures[-1], self._definition.name)
        return False, None

    def __await__(self) -> Generator[Any, None, R]:
        done, recorded = self.recorded()
        if done:
            return recorded  # type: ignore[no-any-return]
        branch = _BRANCH.get()
        if branch is not None:
            branch.stepping += 1
        try:
            value: R = yield from self._ctx._execution.run_step(
                self.position, self._definition, self._args, self._kwargs
            ).__await__()
        finally:
            if branch is not None:
                branch.stepping -= 1
            self.settled()
        return value

    def settled(self) -> None:
        """Move the run's clock to the recorded outcome, exactly as a replay will."""
        journal = self._ctx._execution.journal
        event = journal.results.get(self.position)
        if event is None:
            failures = journal.attempts_failed(self.position)
            if not failures or not failures[-1].data.get("final"):
                return
            event = failures[-1]
        self._ctx._resolved(event)

    def run_blocking(self, on_loop: Callable[[Awaitable[Any]], Any]) -> R:
        """Run the call from a sync workflow's thread and return its result.

        A sync step runs right here, and its journal writes commit right here too, so a step
        costs no hop to the event loop. An async step runs on the loop as a whole.
        """
        done, recorded = self.recorded()
        if done:
            return recorded  # type: ignore[no-any-return]
        if self._definition.is_async:
            result: R = on_loop(self)
            return result
        try:
            value: R = self._ctx._execution.run_step_blocking(
                self.position, self._definition, self._args, self._kwargs
            )
        finally:
            self.settled()
        return value


class Context:
    """The run's handle on the engine, passed as the first argument of an async workflow."""

    def __init__(self, execution: Execution) -> None:
        self._execution = execution
        self._position = 0
        self._now = execution.journal.started_at
        self._replayed_through = 0
        self._random = random_module.Random(execution.run_id)
        self.run_id: str = execution.run_id
        """The id of this run."""
        self.workflow: str = execution.workflow_name
        """The name of this run's workflow."""

    # -- determinism ------------------------------------------------------------------------

    def _next(self) -> int:
        position = self._position
        self._position += 1
        branch = _BRANCH.get()
        if branch is not None:
            branch.positions.append(position)
            if branch.withdrawn:
                raise _Withdrawn()
        return position

    def _resolved(self, event: Event) -> None:
        """A call was answered from the history by ``event``."""
        self._advance(event.at)
        self._replayed_through = max(self._replayed_through, event.id)
        branch = _BRANCH.get()
        if branch is not None:
            branch.answered_by = max(branch.answered_by, event.id)

    def _advance(self, at: float) -> None:
        self._now = max(self._now, at)

    def now(self) -> float:
        """The run's logical time, in seconds since the epoch: when its latest step, timer,
        signal or child completed (or when it started). The same on every replay."""
        return self._now

    def random(self) -> float:
        """A number in [0, 1); the same sequence on every replay of this run."""
        return self._random.random()

    def uuid(self) -> str:
        """A random UUID (version 4), the same on every replay of this run."""
        return str(uuid_module.UUID(int=self._random.getrandbits(128), version=4))

    def patched(self, change_id: str) -> bool:
        """Whether this run takes the new code path of a change.

        Runs that had passed this point before the change keep the old path (False);
        runs that reach it with the new code take the new path (True), on every replay.
        """
        journal = self._execution.journal
        if change_id in journal.patches:
            return True
        if journal.is_replaying(self._position, self._replayed_through):
            return False
        journal.patches.add(change_id)
        self._execution.record_soon(EventKind.PATCH_APPLIED, name=change_id)
        return True

    # -- for the net interpreter (treadle.runtime.nets), which drives this context ----------

    @property
    def _journal(self) -> replay.RunJournal:
        return self._execution.journal

    def _peek_position(self) -> int:
        """The position the next call will take."""
        return self._position

    def _record_soon(self, kind: EventKind, **fields: Any) -> None:
        self._execution.record_soon(kind, **fields)

    async def _look_for_signals(self, name: str) -> None:
        await self._execution.look_for_signals(name)

    # -- calls ------------------------------------------------------------------------------

    @overload
    def step(
        self, fn: Callable[P, Coroutine[Any, Any, R]], /, *args: P.args, **kwargs: P.kwargs
    ) -> StepCall[R]: ...

    @overload
    def step(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> StepCall[R]: ...

    def step(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> StepCall[Any]:
        """Call a step; ``await`` the returned call for its result.

        The result is recorded once; after a crash the workflow replays and this call returns
        the recorded result without running the step again.
        """
        definition = registry.definition_of(fn)
        position = self._next()
        journal = self._execution.journal
        journal.check_call(position, replay.STEP, definition.name)
        return StepCall(self, position, definition, args, kwargs)

    async def gather(self, *calls: Awaitable[Any]) -> list[Any]:
        """Wait for all calls, running the pending ones at the same time; results in order.

        Every branch is let finish before an error or a suspension propagates, so no step's
        result is lost.
        """
        results: list[Any] = [None] * len(calls)
        pending: dict[int, asyncio.Future[Any]] = {}
        results_of = self._execution.journal.results
        for index, call in enumerate(calls):
            if isinstance(call, StepCall) and call.position in results_of:
                results[index] = call.recorded()[1]  # no task for a recorded result
                continue
            pending[index] = _branch_task(call)
        if pending:
            await _wait_all(pending.values())
        first_error: BaseException | None = None
        suspended: BaseException | None = None
        for index, future in pending.items():
            if future.cancelled():
                raise asyncio.CancelledError()
            error = future.exception()
            if error is None:
                results[index] = future.result()
            elif isinstance(error, Suspend):
                suspended = suspended or error
            elif isinstance(error, EngineSignal):
                raise error
            else:
                first_error = first_error or error
        if first_error is not None:
            raise first_error
        if suspended is not None:
            raise suspended
        return results

    async def first(
        self, *calls: Awaitable[Any], count: int = 1, cancel_children: bool = True
    ) -> list[tuple[int, Any]]:
        """Wait until ``count`` of the calls have finished; return ``(index, result)`` of
        each, in the order they finished. The calls that lost are withdrawn.

        The winners are recorded, so a replay returns the same ones. A winner that raised
        raises here (the first in finishing order), after the losers were withdrawn. Losing
        steps are interrupted and their results are not recorded; the timers of losing
        sleeps and waits are dropped; losing child runs are cancelled, unless
        ``cancel_children=False`` leaves them running (join one later with
        ``ctx.child(workflow, id=child_id)``).
        """
        if not calls or any(not inspect.isawaitable(call) for call in calls):
            _close(calls)
            raise errors.UsageError(
                "ctx.first takes one or more calls (ctx.step(...), ctx.child(...), "
                "ctx.sleep(...), ctx.wait_for(...)), not "
                + (", ".join(repr(c) for c in calls if not inspect.isawaitable(c)) or "none")
            )
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= len(calls):
            _close(calls)
            raise errors.UsageError(
                f"ctx.first(count=...) takes a whole number from 1 to the number of calls "
                f"({len(calls)}), not {count!r}"
            )
        position = self._next()
        journal = self._execution.journal
        journal.check_call(position, replay.FIRST, f"{count} of {len(calls)}")
        branches = [_Branch() for _ in calls]
        for branch, call in zip(branches, calls, strict=True):
            if isinstance(call, StepCall):
                branch.positions.append(call.position)
        decided = journal.decisions.get(position)
        if decided is not None:
            self._resolved(decided)
            return await _replay_first(calls, branches, decided.data["winners"])
        tasks = [_branch_task(call, branch) for call, branch in zip(calls, branches, strict=True)]
        finished: list[int] = []
        running = set(tasks)
        try:
            while running and len(finished) < count:
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                ended = [i for i, task in enumerate(tasks) if task in done]
                # Calls answered from the history at once finish in the order of their
                # outcomes there; calls answered live, after them, in the order they ended.
                ended.sort(key=lambda i: branches[i].answered_by or math.inf)
                for index in ended:
                    error = None if tasks[index].cancelled() else tasks[index].exception()
                    if isinstance(error, EngineSignal) and not isinstance(error, Suspend):
                        raise error  # the lease is gone or the deadline passed: stop here
                    if not isinstance(error, Suspend):
                        finished.append(index)
        except BaseException:
            await _stop(running)
            raise
        # Losers executing a step are interrupted; the others are let finish what they are
        # writing (starting a child, a timer), so that what they started is known here.
        await _stop({task for task in running if branches[tasks.index(task)].stepping})
        if running:
            await _wait_all(running)
        if len(finished) < count:
            raise Suspend()  # every other call waits for something durable
        winners = finished[:count]
        losers = [b for i, b in enumerate(branches) if i not in winners]
        lost = [p for branch in losers for p in branch.positions]
        started_timers = {p for branch in losers for p in branch.timers}
        children = [started.data["child_id"] for p in lost if (started := journal.children.get(p))]
        # A losing wait may have taken its signal just as another call won: it gives it back.
        returned = [p for p in lost if p in journal.consumed]
        event = await self._execution.withdraw(
            EventKind.FIRST_DECIDED,
            position,
            f"{count} of {len(calls)}",
            {"winners": winners, "returned": returned},
            children=children if cancel_children else [],
            # Timers a loser may have set: a sleep's or a wait's, or a long retry delay's.
            timers=[
                p
                for p in lost
                if p in journal.timers or p in started_timers or journal.attempts_failed(p)
            ],
        )
        self._advance(event.at)
        return _outcomes(tasks, winners)

    async def cancel(self, child_id: str) -> bool:
        """Cancel a child run of this run, with its own children, as ``engine.cancel`` does.

        Returns True if it was cancelled, False if it had already finished (the same on every
        replay). A ``ctx.child`` waiting for it raises ``tr.RunCancelledError``.
        """
        if not isinstance(child_id, str) or not child_id:
            raise errors.UsageError("ctx.cancel needs the id of a child run (a non-empty string)")
        position = self._next()
        journal = self._execution.journal
        journal.check_call(position, replay.CANCEL, child_id)
        recorded = journal.decisions.get(position)
        if recorded is None:
            if not journal.started_child(child_id, before=position):
                raise errors.UsageError(
                    f"run {child_id!r} is not a child of run {self.run_id}: ctx.cancel cancels "
                    "runs this run started with ctx.child. Cancel another run from outside "
                    "the workflow with engine.cancel (or `treadle cancel`)."
                )
            recorded = await self._execution.withdraw(
                EventKind.CHILD_CANCEL_REQUESTED,
                position,
                child_id,
                {"child_id": child_id},
                children=[child_id],
            )
            self._advance(recorded.at)
        else:
            self._resolved(recorded)
        return child_id in recorded.data["cancelled"]

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, durably: the run suspends and no worker is held while it waits."""
        seconds = _check_seconds(seconds, "ctx.sleep")
        position = self._next()
        journal = self._execution.journal
        journal.check_call(position, replay.SLEEP, "")
        fired = journal.fired.get(position)
        if fired is not None:
            self._resolved(fired)
            return
        if position not in journal.timers:
            await self._start_timer(position, seconds, replay.SLEEP, "")
        raise Suspend()

    async def _start_timer(self, position: int, seconds: float, purpose: str, name: str) -> None:
        await self._execution.start_timer(position, seconds, purpose, name)
        branch = _BRANCH.get()
        if branch is not None:
            branch.timers.add(position)  # for ctx.first to drop, should this call lose

    async def wait_for(self, signal: str, timeout: float | None = None) -> Any:
        """Wait for the signal named ``signal`` and return its payload.

        Signals are taken in the order they arrived. With ``timeout`` (seconds), raises
        ``tr.WaitTimeoutError`` when none arrived in time.
        """
        if not isinstance(signal, str) or not signal:
            raise errors.UsageError("ctx.wait_for needs a signal name (a non-empty string)")
        if timeout is not None:
            timeout = _check_seconds(timeout, "ctx.wait_for(timeout=...)")
        position = self._next()
        _, payload = await self._wait(position, (signal,), replay.WAIT, signal, timeout)
        return payload

    async def wait_for_any(
        self, signals: Iterable[str], timeout: float | None = None
    ) -> tuple[str, Any]:
        """Wait for a signal with any of the names in ``signals``; return ``(name, payload)``.

        Takes exactly one signal: the oldest of those names that no earlier wait took. With
        ``timeout`` (seconds), raises ``tr.WaitTimeoutError`` when none arrived in time.
        """
        names = tuple(signals) if not isinstance(signals, str) else ()
        if not names or any(not isinstance(n, str) or not n for n in names):
            raise errors.UsageError(
                "ctx.wait_for_any needs a list of signal names (non-empty strings), "
                f"e.g. ['approve', 'reject'], not {signals!r}"
            )
        if len(set(names)) != len(names):
            raise errors.UsageError(f"ctx.wait_for_any was given a name twice: {list(names)}")
        if timeout is not None:
            timeout = _check_seconds(timeout, "ctx.wait_for_any(timeout=...)")
        position = self._next()
        return await self._wait(position, names, replay.WAIT_ANY, replay.any_name(names), timeout)

    async def _wait(
        self, position: int, names: tuple[str, ...], kind: str, name: str, timeout: float | None
    ) -> tuple[str, Any]:
        journal = self._execution.journal
        journal.check_call(position, kind, name)
        taken = journal.consumed.get(position)
        if taken is not None:
            self._resolved(taken)
            return taken.name or "", replay.payload_of(taken)
        timed_out = journal.wait_timeouts.get(position)
        if timed_out is not None:
            self._resolved(timed_out)
            raise _wait_timeout(name, timeout)
        # A wait for several names records which it waited for, so a replay checks them.
        waited = {"any": list(names)} if kind == replay.WAIT_ANY else {}
        fired = journal.fired.get(position) if timeout is not None else None
        arrived = journal.free_signal(names)
        # A signal that arrived before the timeout fired wins, even if the run resumes later.
        if arrived is not None and (fired is None or arrived.id < fired.id):
            payload = replay.payload_of(arrived)
            self._advance(
                await self._execution.record(
                    EventKind.SIGNAL_CONSUMED,
                    position=position,
                    name=arrived.name,
                    data={"signal": arrived.id, "payload": payload} | waited,
                )
            )
            return arrived.name or "", payload
        if fired is not None:
            self._advance(
                await self._execution.record(
                    EventKind.WAIT_TIMED_OUT, position=position, name=name, data=waited or None
                )
            )
            raise _wait_timeout(name, timeout)
        if timeout is not None and position not in journal.timers:
            await self._start_timer(position, timeout, kind, name)
        raise Suspend()

    async def child(
        self,
        workflow: Any,
        /,
        *args: Any,
        id: str | None = None,
        wait: bool = True,
        **kwargs: Any,
    ) -> Any:
        """Start a child run of ``workflow``; return its result (or, with ``wait=False``, its id).

        A child's failure raises ``tr.RunFailedError`` here; cancelling the parent cancels it.
        With the ``id`` of a child this run started before, it waits for that child (the
        join of a child started with ``wait=False``) and starts nothing.
        """
        definition = self._execution.registry.resolve(workflow)
        if id is not None:
            ids.check_run_id(id)
        position = self._next()
        journal = self._execution.journal
        journal.check_call(position, replay.CHILD, definition.name)
        started = journal.children.get(position)
        if started is None:
            child_id = id if id is not None else ids.child_run_id(self.run_id, position)
            # A join of a child this run started needs no arguments: nothing is started.
            if not journal.started_child(child_id, before=position):
                definition.bind(args, kwargs)
            input_text = codec.encode(
                {"args": list(args), "kwargs": kwargs},
                f"the arguments of child workflow {definition.name!r}",
            )
            await self._execution.start_child(
                position,
                definition,
                child_id,
                input_text,
                known=child_id in journal.child_outcomes,
            )
        else:
            child_id = started.data["child_id"]
        if not wait:
            return child_id
        # By id, not by position: a child reports to the position that started it, and a
        # join elsewhere finds the same (earliest) outcome live and on every replay.
        outcome = journal.child_outcomes.get(child_id)
        if outcome is None:
            raise Suspend()
        self._resolved(outcome)
        return self._execution.child_outcome(outcome)


def _branch_task(call: Awaitable[T], branch: _Branch | None = None) -> asyncio.Future[T]:
    """Run ``call`` in a task of its own (as a branch of ``ctx.first`` if given one)."""

    async def run() -> T:
        if branch is not None:
            _BRANCH.set(branch)  # the task's own copy of the context
        return await call

    task = asyncio.ensure_future(run())
    # Read every branch's outcome even when the caller stops looking (it raises the first
    # engine signal, or is cancelled), so asyncio never logs an exception nobody retrieved.
    task.add_done_callback(_retrieve)
    return task


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


async def _wait_all(futures: Iterable[asyncio.Future[Any]]) -> None:
    """Wait for every future; if the waiting task is cancelled, cancel them and let them end."""
    pending = set(futures)
    try:
        await asyncio.wait(pending)
    except BaseException:
        await _stop(pending)  # never leave a branch running on its own
        raise


async def _stop(tasks: set[asyncio.Future[Any]]) -> None:
    """Cancel the tasks and wait until they have ended."""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.shield(asyncio.wait(tasks))


async def _replay_first(
    calls: tuple[Awaitable[Any], ...], branches: list[_Branch], winners: list[int]
) -> list[tuple[int, Any]]:
    """``ctx.first`` whose winners are recorded: the losers only take their positions."""
    tasks: list[asyncio.Future[Any] | None] = []
    for index, (call, branch) in enumerate(zip(calls, branches, strict=True)):
        branch.withdrawn = index not in winners
        if branch.withdrawn and not inspect.iscoroutine(call):
            tasks.append(None)  # a step call that lost: its position is taken, nothing runs
            _close([call])
        else:
            tasks.append(_branch_task(call, branch))
    started = [task for task in tasks if task is not None]
    await _wait_all(started)
    for task in started:
        error = None if task.cancelled() else task.exception()
        if isinstance(error, EngineSignal) and not isinstance(error, _Withdrawn | Suspend):
            raise error
    return _outcomes(tasks, winners)


def _outcomes(
    tasks: Sequence[asyncio.Future[Any] | None], winners: list[int]
) -> list[tuple[int, Any]]:
    """The winners' ``(index, result)``; or the first error among them, raised."""
    results = []
    for index in winners:
        task = tasks[index]
        if task is None or task.cancelled():
            raise asyncio.CancelledError()
        error = task.exception()
        if error is not None:
            raise error
        results.append((index, task.result()))
    return results


def _close(calls: Iterable[Any]) -> None:
    """Close coroutines that will not be awaited, so Python does not warn about them."""
    for call in calls:
        if inspect.iscoroutine(call):
            call.close()


def _wait_timeout(signal: str, timeout: float | None) -> errors.WaitTimeoutError:
    return errors.WaitTimeoutError(
        f"no signal {signal!r} arrived within {timeout} seconds", signal=signal
    )


async def _awaited(call: Awaitable[T]) -> T:
    return await call


def _check_seconds(value: float, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise errors.UsageError(f"{where} takes a number of seconds >= 0, not {value!r}")
    return float(value)


class SyncContext:
    """The context of a workflow written as a plain ``def``: the same calls, without ``await``.

    The workflow runs in a thread of its worker; each call hands over to the worker's event
    loop and blocks until it has an answer. ``submit`` starts a step without waiting, and
    ``gather`` waits for several submitted steps, which run at the same time.
    """

    def __init__(self, context: Context, loop: asyncio.AbstractEventLoop) -> None:
        self._context = context
        self._loop = loop
        self.run_id = context.run_id
        self.workflow = context.workflow

    def _call(self, make: Callable[[], Awaitable[T]]) -> T:
        return asyncio.run_coroutine_threadsafe(_made(make), self._loop).result()

    def _on_loop(self, awaitable: Awaitable[T]) -> T:
        return asyncio.run_coroutine_threadsafe(_awaited(awaitable), self._loop).result()

    def step(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
        """Run a step and return its result (recorded once, replayed after a crash)."""
        # The position is taken here, in the workflow's own thread, so it follows call order.
        call: StepCall[R] = self._context.step(fn, *args, **kwargs)
        return call.run_blocking(self._on_loop)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> StepHandle:
        """Start a step without waiting for it; pass the handles to ``gather``."""
        call = self._context.step(fn, *args, **kwargs)
        return StepHandle(asyncio.run_coroutine_threadsafe(_awaited(call), self._loop))

    def gather(self, *items: Any) -> list[Any]:
        """Results of submitted steps (``StepHandle``s) and plain values, in order."""
        handles = [item for item in items if isinstance(item, StepHandle)]

        async def wait_all() -> list[Any]:
            return await self._context.gather(*(asyncio.wrap_future(h.future) for h in handles))

        results = iter(self._call(wait_all) if handles else [])
        return [next(results) if isinstance(item, StepHandle) else item for item in items]

    def sleep(self, seconds: float) -> None:
        self._call(lambda: self._context.sleep(seconds))

    def wait_for(self, signal: str, timeout: float | None = None) -> Any:
        return self._call(lambda: self._context.wait_for(signal, timeout))

    def wait_for_any(self, signals: Iterable[str], timeout: float | None = None) -> tuple[str, Any]:
        return self._call(lambda: self._context.wait_for_any(signals, timeout))

    def child(
        self, workflow: Any, /, *args: Any, id: str | None = None, wait: bool = True, **kwargs: Any
    ) -> Any:
        return self._call(lambda: self._context.child(workflow, *args, id=id, wait=wait, **kwargs))

    def cancel(self, child_id: str) -> bool:
        return self._call(lambda: self._context.cancel(child_id))

    def now(self) -> float:
        return self._context.now()

    def random(self) -> float:
        return self._context.random()

    def uuid(self) -> str:
        return self._context.uuid()

    def patched(self, change_id: str) -> bool:
        return self._loop_call(lambda: self._context.patched(change_id))

    def _loop_call(self, fn: Callable[[], T]) -> T:
        async def run() -> T:
            return fn()

        return self._call(run)


class StepHandle:
    """A step started by ``SyncContext.submit``."""

    def __init__(self, future: Any) -> None:
        self.future = future


async def _made(make: Callable[[], Awaitable[T]]) -> T:
    return await make()
