"""The client: start runs, wait for results, signal, cancel, retry, inspect."""

from __future__ import annotations

import asyncio
import builtins
import collections
import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from treadle import errors
from treadle.core import codec, ids
from treadle.core.history import Event
from treadle.core.nets.changes import NetChange
from treadle.core.runs import RunInfo, RunPage
from treadle.core.status import RunStatus
from treadle.runtime import ops, registry, remote_errors, schedules, waiters
from treadle.runtime.nets import client as nets
from treadle.runtime.worker import Worker, WorkerOptions
from treadle.store import transact, urls
from treadle.store.protocol import Reader, Row, Topic

MAX_PAGE = 1000


_last_id = (0, 0)
_id_lock = threading.Lock()


def new_run_id(clock: Callable[[], float] = time.time) -> str:
    """A new run id, later than every id this process made before (so lists keep order)."""
    global _last_id
    millis, entropy = int(clock() * 1000), int.from_bytes(os.urandom(10), "big")
    with _id_lock:
        last_millis, last_entropy = _last_id
        if millis <= last_millis:
            millis, entropy = last_millis, last_entropy + 1
        _last_id = (millis, entropy)
    return ids.run_id(millis, (entropy % 2**80).to_bytes(10, "big"))


def run_info(row: Row) -> RunInfo:
    inputs = codec.decode(row["input"]) or {}
    return RunInfo(
        id=row["id"],
        workflow=row["workflow"],
        version=row["version"],
        status=RunStatus(row["status"]),
        queue=row["queue"],
        priority=row["priority"],
        parent_id=row["parent_id"],
        args=inputs.get("args", []),
        kwargs=inputs.get("kwargs", {}),
        result=codec.decode(row["result"]),
        error=codec.decode(row["error"]),
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        updated_at=row["updated_at"],
        deadline=row["deadline"],
    )


def raise_outcome(info: RunInfo) -> Any:
    """The run's result, or the error it ended with, raised as the matching ``RunError``."""
    if info.status is RunStatus.SUCCEEDED:
        return info.result
    error = info.error or {}
    message = f"run {info.id} ({info.workflow}) {info.status}: {error.get('message', '')}"
    if info.status is RunStatus.CANCELLED:
        raise errors.RunCancelledError(message, run_id=info.id)
    if info.status is RunStatus.TIMED_OUT:
        raise errors.RunTimedOutError(message, run_id=info.id)
    raise remote_errors.run_failed(
        info.id,
        error,
        f"run {info.id} ({info.workflow}) failed with {error.get('type', 'an error')}: "
        f"{error.get('message', '')}",
    )


class Engine:
    """A connection to a Treadle database: start runs and follow them.

    ``tr.Engine("sqlite:///treadle.db")`` opens (and creates, or upgrades) an embedded
    database. Runs are executed by workers: ``treadle worker`` processes, or one in this
    process with ``engine.worker()``.
    """

    def __init__(
        self,
        database: str = urls.DEFAULT_URL,
        *,
        registry_: registry.Registry | None = None,
        migrate: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.registry = registry_ or registry.default_registry
        self._clock = clock
        self._store = urls.open_store(database)
        self._waiters = waiters.Waiters(self._store)
        try:
            if migrate:
                self._store.migrate()
            self._store.check_schema()
        except BaseException:
            self._store.close()
            raise

    # -- starting and following runs ---------------------------------------------------------

    def start(
        self,
        workflow: Any,
        /,
        *args: Any,
        id: str | None = None,
        queue: str | None = None,
        **kwargs: Any,
    ) -> str:
        """Start a run of ``workflow`` (a ``@tr.workflow`` function or its name); return its id.

        Starting with an ``id`` that exists returns that run's id and starts nothing.
        """
        definition = self.registry.resolve(workflow)
        (run_id,) = self._start_runs(
            definition, [self._new_run(definition, args, kwargs, id)], queue
        )
        return run_id

    def start_many(
        self,
        workflow: Any,
        calls: Iterable[Sequence[Any] | Mapping[str, Any]],
        /,
        *,
        ids: Sequence[str] | None = None,
        queue: str | None = None,
    ) -> list[str]:
        """Start a run of ``workflow`` for each item of ``calls``, all in one transaction;
        return their ids, in order.

        Each item holds one run's arguments: a tuple (or list) of positional arguments, or a
        dict of keyword arguments: ``engine.start_many(fulfil, [(order,) for order in
        orders])``. ``ids`` names the runs, one id per item; as with ``start``, an id that
        exists returns that run and starts nothing. Every item is checked before anything is
        stored, so one bad item starts no run, and the runs are stored together: all or
        none. One round trip and one commit for all of them, where ``start`` in a loop pays
        one each.
        """
        definition = self.registry.resolve(workflow)
        if isinstance(calls, str | bytes | Mapping) or not isinstance(calls, Iterable):
            raise errors.UsageError(
                f"start_many takes a list of calls, one per run, not {type(calls).__name__}: "
                "e.g. [(1,), (2,)] or [{'order': 1}, {'order': 2}]"
            )
        items = list(calls)
        names: list[str | None] = [None] * len(items)
        if ids is not None:
            if isinstance(ids, str) or len(ids) != len(items):
                raise errors.UsageError(
                    f"ids must be a list with one id per call ({len(items)}), not {ids!r}"
                )
            names = list(ids)
            taken = {name for name, count in collections.Counter(names).items() if count > 1}
            if taken:
                raise errors.UsageError(f"ids must differ from one another; repeated: {taken}")
        runs = []
        for index, (call, name) in enumerate(zip(items, names, strict=True)):
            if isinstance(call, Mapping):
                args, kwargs = (), dict(call)
            elif isinstance(call, tuple | list):
                args, kwargs = tuple(call), {}
            else:
                raise errors.UsageError(
                    f"call {index} is {call!r}: each call holds one run's arguments, a tuple "
                    f"of positional arguments (({call!r},) for a single one) or a dict of "
                    "keyword arguments"
                )
            try:
                runs.append(self._new_run(definition, args, kwargs, name))
            except errors.UsageError as exc:
                raise errors.UsageError(f"call {index}: {exc}") from exc
        return self._start_runs(definition, runs, queue) if runs else []

    def _new_run(
        self,
        definition: registry.WorkflowDefinition,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        run_id: str | None,
    ) -> ops.NewRun:
        """A run of ``definition`` with these arguments, checked; its queue is set later."""
        definition.bind(args, kwargs)
        input_text = codec.encode(
            {"args": list(args), "kwargs": kwargs}, f"the arguments of workflow {definition.name!r}"
        )
        return ops.NewRun(
            id=ids.check_run_id(run_id) if run_id is not None else new_run_id(self._clock),
            workflow=definition.name,
            version=definition.version,
            queue=definition.queue,
            input=input_text,
        )

    def _start_runs(
        self, definition: registry.WorkflowDefinition, runs: list[ops.NewRun], queue: str | None
    ) -> list[str]:
        """Store ``runs``, on ``queue`` if given, in one transaction. An id that exists is
        that run's answer, if it is a run of the same workflow; if not, nothing is stored."""
        if queue is not None and (not isinstance(queue, str) or not queue):
            raise errors.UsageError(f"queue must be a non-empty name, not {queue!r}")
        now = self._clock()
        deadline = now + definition.timeout if definition.timeout else None
        runs = [
            dataclasses.replace(run, queue=queue or run.queue, deadline=deadline) for run in runs
        ]
        statements = [ops.new_run(run, now) for run in runs]
        topics = {topic for run in runs for topic in run.topics()}

        def same_workflow(reader: Reader, created: list[int]) -> None:
            for run, count in zip(runs, created, strict=True):
                existing = ops.get_run(reader, run.id) if not count else None
                if existing is not None and existing["workflow"] != definition.name:
                    raise errors.RunConflictError(
                        f"run id {run.id!r} is taken by a run of workflow "
                        f"{existing['workflow']!r}; choose another id to start "
                        f"{definition.name!r}",
                        run_id=run.id,
                    )

        if len(runs) == 1:
            # One round trip; a run that was not created left nothing behind to undo.
            same_workflow(self._store, transact.write(self._store, statements, notify=topics))
        else:
            transact.run(
                self._store,
                lambda tx: same_workflow(tx, tx.execute_each(statements)),
                notify=topics,
            )
        return [run.id for run in runs]

    def result(self, run_id: str, timeout: float | None = None) -> Any:
        """Wait for the run to finish and return its result, or raise the error it ended with.

        Raises ``RunFailedError``, ``RunCancelledError`` or ``RunTimedOutError`` for a run that
        did not succeed, and ``ResultTimeoutError`` when ``timeout`` seconds pass first. Any
        number of threads may wait at once (see ``runtime.waiters``).
        """
        give_up = None if timeout is None else time.monotonic() + timeout
        info = run_info(self._waiters.wait(run_id, give_up))
        if not info.status.finished:
            raise errors.ResultTimeoutError(
                f"run {run_id} is still {info.status} after {timeout} s; it goes on "
                "running (is a worker serving its queue?)",
                run_id=run_id,
            )
        return raise_outcome(info)

    def signal(self, run_id: str, name: str, payload: Any = None) -> None:
        """Deliver the signal ``name`` with ``payload`` to a run waiting (now or later) for it."""
        if not isinstance(name, str) or not name:
            raise errors.UsageError(f"a signal needs a name (a non-empty string), not {name!r}")
        text = codec.encode(payload, f"the payload of signal {name!r}")
        now = self._clock()
        transact.run(
            self._store,
            lambda tx: ops.signal(tx, run_id, name, text, now),
            notify=(Topic.TASKS,),
        )

    def cancel(self, run_id: str) -> None:
        """Cancel the run and, with it, its unfinished children."""
        now = self._clock()
        # A run's parent never changes, so it can be read first: a parent is told, as a task.
        has_parent = ops.get_run(self._store, run_id)["parent_id"] is not None
        topics = (Topic.RUNS, Topic.TASKS) if has_parent else (Topic.RUNS,)
        transact.run(self._store, lambda tx: ops.cancel(tx, run_id, now), notify=topics)

    def retry(self, run_id: str) -> None:
        """Send a failed or timed-out run back to work, resuming from its failed step."""
        now = self._clock()

        # Whether a run has a deadline never changes, so it can be read first: a new deadline
        # is for the scheduler.
        has_deadline = ops.get_run(self._store, run_id)["deadline"] is not None
        topics = (Topic.TASKS, Topic.TIMERS) if has_deadline else (Topic.TASKS,)
        transact.run(self._store, lambda tx: ops.retry(tx, run_id, now), notify=topics)

    def change_net(self, run_id: str, change: NetChange) -> nets.NetState:
        """Change the topology of a running flow or net case.

        The changed net is analysed from the run's current marking; a change that fails
        raises ``NetChangeRefusedError`` with the findings and nothing is sent. Otherwise the
        run applies it at its next firing boundary, after checking it again against its
        marking then (history: ``net_changed`` or ``net_change_refused``). Returns the state
        the change was checked against, with the changed net.
        """
        return nets.change(self._store, self.registry, run_id, change, self._clock())

    def net(self, run_id: str) -> nets.NetState:
        """A flow or net run's current net and marking, as its history tells them."""
        return nets.state(self._store, self.registry, run_id)

    # -- inspecting --------------------------------------------------------------------------

    def get(self, run_id: str) -> RunInfo:
        """The run's status, timestamps, inputs, and result or error."""
        return run_info(ops.get_run(self._store, run_id))

    def list(
        self,
        *,
        status: str | RunStatus | None = None,
        workflow: str | None = None,
        parent: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> RunPage:
        """Runs, newest first, filtered by status, workflow or parent run; ``limit`` a page."""
        if status is not None:
            try:
                status = RunStatus(status)
            except ValueError:
                raise errors.UsageError(
                    f"unknown status {status!r}: use one of {', '.join(s.value for s in RunStatus)}"
                ) from None
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise errors.UsageError(f"limit must be a whole number from 1 to {MAX_PAGE}")
        params = {
            "status": status.value if status else None,
            "workflow": workflow,
            "parent_id": parent,
            "before": before,
            "limit": limit + 1,
        }
        with self._store.snapshot() as tx:
            rows = tx.fetch_all("list_runs", params)
        runs = [run_info(row) for row in rows[:limit]]
        return RunPage(runs=runs, next_cursor=runs[-1].id if len(rows) > limit else None)

    def history(self, run_id: str) -> builtins.list[Event]:
        """The run's history events, oldest first."""
        with self._store.snapshot() as tx:
            ops.get_run(tx, run_id)
            return [ops.to_event(row) for row in tx.fetch_all("history", {"run_id": run_id})]

    def counts(self) -> dict[str, int]:
        """How many runs there are in each status."""
        with self._store.snapshot() as tx:
            return {row["status"]: row["n"] for row in tx.fetch_all("count_runs_by_status")}

    # -- schedules ---------------------------------------------------------------------------

    def schedule(
        self,
        schedule_id: str,
        workflow: Any,
        cron: str,
        *,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        timezone: str = schedules.DEFAULT_TIMEZONE,
        queue: str | None = None,
        catch_up: str = schedules.DEFAULT_CATCH_UP,
    ) -> schedules.Schedule:
        """Create the schedule ``schedule_id``, or update it: start a run of ``workflow`` with
        ``args`` and ``kwargs`` at every fire time of ``cron`` read in ``timezone``.

        ``cron`` has 5 fields, or 6 with seconds first, or is an alias such as ``@daily``.
        ``catch_up`` says what to do about fires missed while no scheduler ran: ``"latest"``
        (the default) starts one run for the most recent, ``"all"`` one for each, ``"none"``
        none. Runs start on the workflow version registered now. The elected scheduler among
        the workers fires it; an update keeps a paused schedule paused.
        """
        spec = schedules.prepare(
            self.registry,
            schedule_id,
            workflow,
            cron,
            args=args,
            kwargs=kwargs,
            timezone=timezone,
            queue=queue,
            catch_up=catch_up,
        )
        now = self._clock()
        return transact.run(
            self._store, lambda tx: schedules.save(tx, spec, now), notify=(Topic.TIMERS,)
        )

    def get_schedule(self, schedule_id: str) -> schedules.Schedule:
        """The schedule, with its next fire time and the last run it started."""
        with self._store.snapshot() as tx:
            return schedules.get(tx, schedule_id)

    def list_schedules(self) -> builtins.list[schedules.Schedule]:
        """Every schedule, by id."""
        with self._store.snapshot() as tx:
            return [schedules.to_schedule(row) for row in tx.fetch_all("list_schedules")]

    def pause_schedule(self, schedule_id: str) -> schedules.Schedule:
        """Stop firing the schedule until ``resume_schedule``; its runs go on."""
        now = self._clock()
        return transact.run(
            self._store, lambda tx: schedules.set_paused(tx, schedule_id, True, now)
        )

    def resume_schedule(self, schedule_id: str) -> schedules.Schedule:
        """Fire the schedule again, from its first fire time after now."""
        now = self._clock()
        return transact.run(
            self._store,
            lambda tx: schedules.set_paused(tx, schedule_id, False, now),
            notify=(Topic.TIMERS,),
        )

    def delete_schedule(self, schedule_id: str) -> None:
        """Delete the schedule; the runs it started stay."""
        transact.run(self._store, lambda tx: schedules.delete(tx, schedule_id))

    # -- workers and lifetime ----------------------------------------------------------------

    def worker(self, **options: Any) -> EmbeddedWorker:
        """A worker in a background thread of this process, for scripts, notebooks and tests.

        ``with engine.worker(): ...`` runs it for the block. Options are those of
        ``WorkerOptions`` (``queues``, ``concurrency``, ``lease_seconds``, ...).
        """
        if "queues" in options and isinstance(options["queues"], str):
            options["queues"] = (options["queues"],)
        if "queues" in options:
            options["queues"] = tuple(options["queues"])
        return EmbeddedWorker(self.database, self.registry, WorkerOptions(**options))

    def close(self) -> None:
        self._waiters.close()
        self._store.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class EmbeddedWorker:
    """A ``Worker`` running in a daemon thread with its own event loop and connection."""

    def __init__(self, database: str, registry_: registry.Registry, options: WorkerOptions) -> None:
        self._store = urls.open_store(database)
        self.worker = Worker(self._store, registry_=registry_, options=options)
        self._thread = threading.Thread(target=self._main, name="treadle-worker", daemon=True)
        self._error: BaseException | None = None

    def _main(self) -> None:
        try:
            asyncio.run(self.worker.run())
        except BaseException as exc:  # reported by stop()
            self._error = exc
        finally:
            self._store.close()

    def start(self) -> EmbeddedWorker:
        self._thread.start()
        self.worker.wait_started(10)
        return self

    def stop(self, timeout: float | None = None) -> None:
        self.worker.stop()
        self._thread.join(timeout)
        if self._error is not None:
            raise self._error

    def __enter__(self) -> EmbeddedWorker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
