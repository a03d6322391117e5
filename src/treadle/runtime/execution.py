"""One claimed run, executed by replay until it finishes or suspends."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import functools
import logging
import random
import time
from collections.abc import Callable, Collection, Generator, Iterator, Sequence
from typing import Any, TypeVar

from treadle import errors
from treadle.core import codec
from treadle.core.history import Event, EventKind
from treadle.core.replay import RunJournal
from treadle.core.status import RunStatus
from treadle.runtime import group_commit, ops, registry, remote_errors, step_info
from treadle.runtime.context import Context, SyncContext
from treadle.runtime.control import (
    APPEND,
    INVOKE,
    SLEEP,
    WRITE,
    DeadlinePassed,
    Fenced,
    Suspend,
)
from treadle.runtime.group_commit import Committed, GroupCommit
from treadle.store import transact
from treadle.store.protocol import Store, Topic, Transaction

T = TypeVar("T")


class _LostToAnOutage(Exception):
    """Rolls back a write under the lease that found the database lost since the claim.

    An ``Exception``, so that the group commit hands it to the write's caller alone, where
    ``_stopping_the_run`` turns it into the ``Fenced`` that stops the run."""


@contextlib.contextmanager
def _stopping_the_run() -> Iterator[None]:
    try:
        yield
    except _LostToAnOutage:
        raise Fenced() from None


log = logging.getLogger("treadle.worker")

# A retry delay up to this many seconds is waited out in the worker, holding the run; a
# longer one suspends the run on a durable timer so that the worker is free meanwhile.
IN_PROCESS_DELAY = 5.0


class Execution:
    def __init__(
        self,
        claimed: ops.Claimed,
        definition: registry.WorkflowDefinition,
        *,
        store: Store,
        commits: GroupCommit,
        registry_: registry.Registry,
        clock: Callable[[], float],
        step_threads: concurrent.futures.Executor,
        workflow_threads: concurrent.futures.Executor,
    ) -> None:
        self.lease = claimed.lease
        self.run_id = claimed.lease.run_id
        self.run = claimed.run
        self.definition = definition
        self.workflow_name = definition.name
        self.registry = registry_
        self.journal = RunJournal.from_events(self.run_id, claimed.events)
        self.deadline: float | None = claimed.run["deadline"]
        self.requeued = False
        """Whether the run went back to the queue at its end (woken while it ran)."""
        self._store = store
        self._outages = store.outages
        self._commits = commits
        self._clock = clock
        self._step_threads = step_threads
        self._workflow_threads = workflow_threads
        self._lease_params = {"epoch": self.lease.epoch, "owner": self.lease.owner}
        self._owner_json = codec.encode(self.lease.owner, "worker id")

    # -- the run as a whole ------------------------------------------------------------------

    async def execute(self) -> None:
        try:
            await self._execute()
        except Fenced:
            log.info(
                "run %s: lease lost or run finished elsewhere; stopped",
                self.run_id,
                extra={"run_id": self.run_id},
            )
            if not self._current():
                await self._hand_back()

    async def _execute(self) -> None:
        inputs = codec.decode(self.run["input"])
        args, kwargs = inputs.get("args", []), inputs.get("kwargs", {})
        context = Context(self)
        fn = self.definition.fn
        try:
            if self.definition.is_async:
                value = await fn(context, *args, **kwargs)
            else:
                loop = asyncio.get_running_loop()
                sync_context = SyncContext(context, loop)
                value = await loop.run_in_executor(
                    self._workflow_threads, functools.partial(fn, sync_context, *args, **kwargs)
                )
        except Suspend:
            await self._suspend()
        except DeadlinePassed:
            await self._finish(
                RunStatus.TIMED_OUT,
                error={"type": "treadle.RunTimedOut", "message": "the run passed its deadline"},
            )
        except Exception as exc:
            await self._finish(RunStatus.FAILED, error=codec.describe_error(exc))
        else:
            try:
                text = codec.encode(value, f"the result of workflow {self.workflow_name!r}")
            except errors.SerializationError as exc:
                await self._finish(RunStatus.FAILED, error=codec.describe_error(exc))
            else:
                await self._finish(RunStatus.SUCCEEDED, result=text)

    async def _finish(
        self, status: RunStatus, *, result: str | None = None, error: dict[str, Any] | None = None
    ) -> None:
        lease, now = self.lease, self._clock()
        parent_id = self.run["parent_id"]
        # Clients wait for the result; a parent waits too, woken as a task.
        topics = (Topic.RUNS,) if parent_id is None else (Topic.RUNS, Topic.TASKS)
        if ops.ends_alone(status, parent_id):
            # One statement, sent with its commit: one round trip.
            ending = ops.ending(lease, status, now, result=result, error=error)
            with _stopping_the_run():
                rows = await self._commits.write_rows(ending, notify=topics, guard=self._check)
            finished = bool(rows)
        else:
            finish = functools.partial(
                ops.finish_run,
                run_id=lease.run_id,
                new_status=status,
                now=now,
                result=result,
                error=error,
                lease=lease,
            )
            finished = await self._write(finish, notify=topics)
        if not finished:
            log.info(
                "run %s: finished here but its lease was lost; result dropped",
                self.run_id,
                extra={"run_id": self.run_id},
            )

    async def _suspend(self) -> None:
        lease, now = self.lease, self._clock()

        def suspend(tx: Transaction) -> bool:
            """Whether the task went back to the queue."""
            if not ops.holds(tx, lease):
                return False
            tx.defer([("set_status", {"id": lease.run_id, "status": "waiting", "now": now})])
            ops.append(tx, lease.run_id, EventKind.RUN_WAITING, now)
            if tx.execute("delete_task_unless_woken", lease.params()):
                return False
            # Something arrived while we ran (a signal, a fired timer): go round again.
            tx.defer([("release_task", lease.params() | {"available_at": now})])
            return True

        # No notification: a task released here is claimed again by this worker, which looks
        # as this execution ends (``requeued``); nobody else waits for a run that waits.
        self.requeued = await self._write(suspend)

    # -- writing under the lease -------------------------------------------------------------

    def _current(self) -> bool:
        """Whether the database has stayed reachable since the claim.

        Across an outage, writes that did not wait for the disk (this run's last journal
        rows, the claim itself) may be gone while this execution goes on as if they were
        there; the rest of the run would be recorded on top of a gap. So after an outage
        every write of this execution counts as fenced, and the run is handed back to be
        replayed from what the database holds.
        """
        return self._store.outages == self._outages

    def _landed(self, inserted: int) -> bool:
        return inserted == 1 and self._current()

    def _check(self) -> None:
        if not self._current():
            raise _LostToAnOutage()

    def _guarded(self, operation: Callable[[Transaction], T]) -> Callable[[Transaction], T]:
        def guarded(tx: Transaction) -> T:
            value = operation(tx)
            self._check()  # rolls the transaction back
            return value

        return guarded

    async def _write(
        self, operation: Callable[[Transaction], T], *, notify: Collection[Topic] = ()
    ) -> T:
        """Commit ``operation`` with the other writes of this turn (``GroupCommit``)."""
        with _stopping_the_run():
            return await self._commits.submit(self._guarded(operation), notify=notify)

    async def _hand_back(self) -> None:
        """Release the run's task so that a claim replays the run now, not once the lease
        expires."""
        lease, now = self.lease, self._clock()

        def release(tx: Transaction) -> None:
            tx.execute("release_task", lease.params() | {"available_at": now})

        try:
            await self._commits.submit(release, notify=(Topic.TASKS,))
        except errors.StoreError:
            pass  # the lease expires instead

    # -- recording ---------------------------------------------------------------------------

    async def record(self, kind: EventKind, **fields: Any) -> float:
        """Append an event under the lease and return its time; raise ``Fenced`` if the lease
        is gone."""
        row, event = self._event(kind, fields)
        self._recorded(self._landed(await self._append(row)), event)
        return event.at

    def _append(self, row: dict[str, Any]) -> Committed[int]:
        # A history row under the lease: a replay would write it again if it were lost.
        return self._commits.append(row)

    def _event(self, kind: EventKind, fields: dict[str, Any]) -> tuple[dict[str, Any], Event]:
        """The row to insert under the lease, and the event the journal gets once it is in."""
        now = self._clock()
        row = ops.event_row(self.run_id, kind, now, **fields) | self._lease_params
        event = Event(
            0,
            self.run_id,
            kind,
            now,
            fields.get("position"),
            fields.get("name"),
            fields.get("attempt"),
            fields.get("data"),
        )
        return row, event

    def _recorded(self, inserted: bool, event: Event) -> None:
        if not inserted:
            raise Fenced()
        self.journal.add(event)

    def record_soon(self, kind: EventKind, **fields: Any) -> None:
        """Append an event without waiting; a lost lease shows at the next ``record``."""
        row, _ = self._event(kind, fields)
        self._append(row)

    async def look_for_signals(self, name: str) -> None:
        """Add to the journal the signals called ``name`` that arrived since the run was
        claimed (the net interpreter looks for topology changes between firings)."""
        run_id, known = self.run_id, {event.id for event in self.journal.signals}

        def read(tx: Transaction) -> list[Event]:
            rows = tx.fetch_all("history", {"run_id": run_id})
            return [ops.to_event(r) for r in rows if r["kind"] == "signal_received"]

        for event in await self._commits.submit(read):
            if event.name == name and event.id not in known:
                self.journal.add(event)

    async def start_timer(self, position: int, seconds: float, purpose: str, name: str) -> None:
        fire_at = self._clock() + seconds
        row = ops.event_row(
            self.run_id,
            EventKind.TIMER_STARTED,
            self._clock(),
            position=position,
            name=name,
            data={"fire_at": fire_at, "purpose": purpose},
        )
        lease = self.lease

        def write(tx: Transaction) -> bool:
            if not ops.holds(tx, lease):
                return False
            tx.execute("insert_event", row)
            tx.execute(
                "insert_timer", {"run_id": lease.run_id, "position": position, "fire_at": fire_at}
            )
            return True

        if not await self._write(write, notify=(Topic.TIMERS,)):
            raise Fenced()

    async def start_child(
        self,
        position: int,
        definition: registry.WorkflowDefinition,
        child_id: str,
        input_text: str,
        *,
        known: bool = False,
    ) -> None:
        """Start the child (or join this run's existing child ``child_id``) at ``position``;
        ``known``: its outcome is already in the journal, so it need not be told again."""
        now, lease = self._clock(), self.lease
        child = ops.NewRun(
            id=child_id,
            workflow=definition.name,
            version=definition.version,
            queue=definition.queue,
            input=input_text,
            priority=self.run["priority"],
            parent_id=self.run_id,
            parent_position=position,
            deadline=now + definition.timeout if definition.timeout else None,
        )
        started = {"child_id": child_id}

        def write(tx: Transaction) -> str:
            if not ops.holds(tx, lease):
                return "fenced"
            existing = ops.create_run(tx, child, now)
            if existing is not None and existing["workflow"] != definition.name:
                return "conflict"
            if existing is not None and existing["parent_id"] != lease.run_id:
                # Its outcome goes to its own parent (or to nobody): this run would wait for
                # ever. Refused whatever its status, so that a replay decides the same.
                return "foreign"
            ops.append(
                tx,
                lease.run_id,
                EventKind.CHILD_STARTED,
                now,
                position=position,
                name=definition.name,
                data=started,
            )
            if existing is not None and RunStatus(existing["status"]).finished and not known:
                ops.tell_parent(
                    tx, existing | {"parent_id": lease.run_id, "parent_position": position}, now
                )
            return "started"

        outcome = await self._write(write, notify=child.topics())
        if outcome == "fenced":
            raise Fenced()
        if outcome == "conflict":
            raise errors.RunConflictError(
                f"child run id {child_id!r} is taken by a run of another workflow: choose "
                "another id",
                run_id=child_id,
            )
        if outcome == "foreign":
            raise errors.RunConflictError(
                f"run {child_id!r} is not a child of run {self.run_id}: ctx.child(..., id=...) "
                "starts a child with that id or waits for a child this run started, not a run "
                "started by a client or by another run. Choose another id, or follow that "
                "run from outside the workflow with engine.result.",
                run_id=child_id,
            )
        self.journal.add(
            Event(
                0,
                self.run_id,
                EventKind.CHILD_STARTED,
                now,
                position,
                definition.name,
                None,
                started,
            )
        )

    async def withdraw(
        self,
        kind: EventKind,
        position: int,
        name: str,
        data: dict[str, Any],
        *,
        children: Sequence[str] = (),
        timers: Sequence[int] = (),
    ) -> Event:
        """Record a decision at ``position`` and, in the same transaction, cancel those of
        this run's ``children`` that have not finished and drop its timers at ``timers``.

        The event's ``data`` gets ``cancelled``: the children that were cancelled.
        """
        if not children and not timers:
            # Nothing to withdraw: a journal append, which shares the group commit.
            data = data | {"cancelled": []}
            at = await self.record(kind, position=position, name=name, data=data)
            return Event(0, self.run_id, kind, at, position, name, None, data)
        now, lease = self._clock(), self.lease

        def write(tx: Transaction) -> list[str] | None:
            if not ops.holds(tx, lease):
                return None
            cancelled = [c for c in children if ops.cancel_child(tx, c, lease.run_id, now)]
            for timer in timers:
                tx.execute("delete_timer", {"run_id": lease.run_id, "position": timer})
            row = ops.event_row(
                lease.run_id,
                kind,
                now,
                position=position,
                name=name,
                data=data | {"cancelled": cancelled},
            )
            tx.execute("insert_event", row)
            return cancelled

        # Clients may wait for the children's results. This run, their parent, is told in its
        # own history and holds its task; dropped timers need no scheduler.
        cancelled = await self._write(write, notify=(Topic.RUNS,) if children else ())
        if cancelled is None:
            raise Fenced()
        event = Event(
            0, self.run_id, kind, now, position, name, None, data | {"cancelled": cancelled}
        )
        self.journal.add(event)
        return event

    # -- outcomes ----------------------------------------------------------------------------

    def child_outcome(self, event: Event) -> Any:
        data = event.data or {}
        child_id, status = data.get("child_id", ""), data.get("status")
        if status == RunStatus.SUCCEEDED:
            return data.get("result")
        error = data.get("error") or {}
        message = f"child run {child_id} {status}: {error.get('message', '')}"
        if status == RunStatus.CANCELLED:
            raise errors.RunCancelledError(message, run_id=child_id)
        if status == RunStatus.TIMED_OUT:
            raise errors.RunTimedOutError(message, run_id=child_id)
        raise remote_errors.run_failed(child_id, error, message)

    def rebuild_error(self, event: Event, step: str) -> Exception:
        return remote_errors.step_error((event.data or {}).get("error") or {}, step)

    # -- steps -------------------------------------------------------------------------------

    def check_deadline(self) -> None:
        if self.deadline is not None and self._clock() >= self.deadline:
            raise DeadlinePassed()

    def step_attempts(
        self, position: int, definition: registry.StepDefinition
    ) -> Generator[tuple[str, Any], Any, Any]:
        """The attempts of one step with their retries, written once for both drivers.

        It does no I/O itself; it yields what it needs done and is sent the answer:
        ``(INVOKE, StepInfo)``: run the step function once, send ``(True, value)`` or
        ``(False, error)``; ``(APPEND, row)``: append the history row under the lease, send
        whether it went in; ``(WRITE, (operation, topics))``: commit the operation, notify
        ``topics``, send its return value; ``(SLEEP, seconds)``: wait, send nothing.
        ``run_step`` drives it on the event loop (writes share its group commit);
        ``SyncContext`` drives it from a sync workflow's own thread, which runs sync steps
        and commits in place, with no hop to the loop.
        """
        failures = self.journal.attempts_failed(position)
        attempt = len(failures) + 1
        if failures:
            yield from self._wait_until(failures[-1].data.get("retry_at"), position)
        policy = definition.retry
        what = f"the result of step {definition.name!r}"
        while True:
            self.check_deadline()
            started = self._clock()
            info = step_info.StepInfo(
                run_id=self.run_id, step=definition.name, position=position, attempt=attempt
            )
            ok, outcome = yield INVOKE, info
            if ok:
                try:
                    text, value = codec.roundtrip(outcome, what)
                except errors.SerializationError as exc:
                    ok, outcome = False, exc
                else:
                    row, event = self._result(position, definition.name, attempt, text, started)
                    inserted = yield APPEND, row
                    self._recorded(inserted, dataclasses.replace(event, data={"result": value}))
                    return value
            again = not isinstance(outcome, errors.SerializationError) and policy.retries(
                attempt, outcome
            )
            retry_at = self._clock() + policy.delay(attempt, random.random()) if again else None
            described = codec.describe_error(outcome)
            data = {
                "error": described,
                "retry_at": retry_at,
                "final": not again,
                "started_at": started,
                "worker": self.lease.owner,
            }
            row, event = self._event(
                EventKind.STEP_FAILED,
                {"position": position, "name": definition.name, "attempt": attempt, "data": data},
            )
            self._recorded((yield APPEND, row), event)
            if not again:
                # Raise what a replay will raise, so code that catches by type takes the same
                # branch live and on replay; the original stays attached as the cause.
                rebuilt = remote_errors.step_error(described, definition.name)
                if type(rebuilt) is type(outcome):
                    raise outcome
                raise rebuilt from outcome
            yield from self._wait_until(retry_at, position)
            attempt += 1

    async def run_step(
        self,
        position: int,
        definition: registry.StepDefinition,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        attempts = self.step_attempts(position, definition)
        reply: Any = None
        while True:
            try:
                kind, work = attempts.send(reply)
            except StopIteration as done:
                return done.value
            if kind is INVOKE:
                try:
                    reply = (True, await self._invoke(definition, args, kwargs, work))
                except Exception as exc:
                    reply = (False, exc)
            elif kind is APPEND:
                reply = self._landed(await self._append(work))
            elif kind is WRITE:
                operation, topics = work
                reply = await self._write(operation, notify=topics)
            else:
                await asyncio.sleep(work)
                reply = None

    def run_step_blocking(
        self,
        position: int,
        definition: registry.StepDefinition,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """``run_step`` for a sync step called from a sync workflow's own thread: the step
        runs here and its records are committed from here, with no hop to the event loop."""
        attempts = self.step_attempts(position, definition)
        reply: Any = None
        while True:
            try:
                kind, work = attempts.send(reply)
            except StopIteration as done:
                return done.value
            if kind is INVOKE:
                try:
                    reply = (True, self._invoke_blocking(definition, args, kwargs, work))
                except Exception as exc:
                    reply = (False, exc)
            elif kind is APPEND:
                (count,) = group_commit.append_journal(self._store, [work])
                reply = self._landed(count)
            elif kind is WRITE:
                operation, topics = work
                with _stopping_the_run():
                    reply = transact.run(self._store, self._guarded(operation), notify=topics)
            else:
                time.sleep(work)
                reply = None

    def _result(
        self, position: int, name: str, attempt: int, text: str, started: float
    ) -> tuple[dict[str, Any], Event]:
        now = self._clock()
        # The result is already JSON text: splice it in rather than encode it twice.
        row = {
            "run_id": self.run_id,
            "kind": EventKind.STEP_COMPLETED.value,
            "at": now,
            "position": position,
            "name": name,
            "attempt": attempt,
            "data": f'{{"result":{text},"started_at":{started!r},"worker":{self._owner_json}}}',
        } | self._lease_params
        event = Event(0, self.run_id, EventKind.STEP_COMPLETED, now, position, name, attempt)
        return row, event

    def _invoke_blocking(
        self,
        definition: registry.StepDefinition,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        info: step_info.StepInfo,
    ) -> Any:
        """Call a sync step in the calling thread (a sync workflow's), under its timeout."""
        if definition.timeout is None:
            return step_info.call_as(info, definition.fn, *args, **kwargs)
        attempt = self._step_threads.submit(step_info.call_as, info, definition.fn, *args, **kwargs)
        try:
            return attempt.result(timeout=definition.timeout)
        except TimeoutError as exc:
            raise _timed_out(definition) from exc

    async def _invoke(
        self,
        definition: registry.StepDefinition,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        info: step_info.StepInfo,
    ) -> Any:
        if definition.is_async:
            running: Any = definition.fn(*args, **kwargs)
        else:
            running = asyncio.get_running_loop().run_in_executor(
                self._step_threads,
                functools.partial(step_info.call_as, info, definition.fn, *args, **kwargs),
            )
        try:
            # An async step's body runs in this task, so it sees what is set here.
            with step_info.Running(info):
                if definition.timeout is None:
                    return await running
                async with asyncio.timeout(definition.timeout):
                    return await running
        except TimeoutError as exc:
            raise _timed_out(definition) from exc

    def _wait_until(self, at: float | None, position: int) -> Generator[tuple[str, Any], Any, None]:
        if at is None:
            return
        delay = at - self._clock()
        if delay <= 0:
            return
        if delay <= IN_PROCESS_DELAY:
            yield SLEEP, delay
            return
        lease = self.lease

        def write(tx: Transaction) -> bool:
            if not ops.holds(tx, lease):
                return False
            tx.execute(
                "insert_timer", {"run_id": lease.run_id, "position": position, "fire_at": at}
            )
            return True

        if not (yield WRITE, (write, (Topic.TIMERS,))):
            raise Fenced()
        raise Suspend()


def _timed_out(definition: registry.StepDefinition) -> errors.StepTimeoutError:
    # The attempt's thread, if it has one, cannot be stopped: it runs on, and its result
    # is dropped.
    return errors.StepTimeoutError(
        f"step {definition.name!r} ran past its timeout of {definition.timeout} s",
        step=definition.name,
    )
