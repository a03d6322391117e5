"""The worker: claims runs under a lease, executes them, and hands them back on shutdown."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import functools
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable

from treadle import errors
from treadle.core import codec
from treadle.core.history import EventKind
from treadle.runtime import ops, registry, scheduler
from treadle.runtime.execution import Execution
from treadle.runtime.group_commit import GroupCommit
from treadle.store import transact
from treadle.store.protocol import Listener, Store, Topic, Transaction

log = logging.getLogger("treadle.worker")

# A run whose workflow (or version) this worker does not have goes back to the queue and is
# offered again after this many seconds, to a worker that may have it.
UNKNOWN_WORKFLOW_DELAY = 5.0
HOUSEKEEPING_INTERVAL = 1.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class WorkerOptions:
    """How a worker claims and runs work."""

    queues: tuple[str, ...] = (registry.DEFAULT_QUEUE,)
    """Queues this worker takes runs from."""
    concurrency: int = 100
    """Runs executed at the same time (async workflows share one event loop)."""
    threads: int = 32
    """Threads for sync steps called from async workflows, and for steps with a timeout.

    Sync workflows run in threads of their own, one per running run (up to
    ``concurrency``), and call their sync steps in that thread."""
    lease_seconds: float = 10.0
    """How long a claim lasts without a heartbeat; a dead worker's runs move on after it."""
    poll_interval: float = 1.0
    """Longest pause between looks for work when no wake-up arrives."""
    grace_seconds: float = 10.0
    """On shutdown, how long running runs may take to finish before they are handed back."""

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        if not self.queues or not all(isinstance(q, str) and q for q in self.queues):
            raise errors.UsageError("a worker needs at least one queue name, e.g. 'default'")
        for name in ("concurrency", "threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise errors.UsageError(f"worker {name} must be a whole number >= 1, not {value!r}")
        for name in ("lease_seconds", "poll_interval", "grace_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise errors.UsageError(f"worker {name} must be a number > 0, not {value!r}")


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Worker:
    """Executes runs from a store. ``await worker.run()`` until ``worker.stop()`` is called."""

    def __init__(
        self,
        store: Store,
        *,
        registry_: registry.Registry | None = None,
        options: WorkerOptions | None = None,
        worker_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.registry = registry_ or registry.default_registry
        self.options = options or WorkerOptions()
        self.id = worker_id or new_worker_id()
        self._clock = clock
        self._active: dict[str, asyncio.Task[None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._scheduler_wake: asyncio.Event | None = None
        self._started = threading.Event()
        self._warned: set[tuple[str, str]] = set()
        self._stop_requested = False
        self._saturated = False

    # -- lifecycle ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the worker to stop claiming, finish or hand back its runs, and return.

        Safe to call from any thread and from signal handlers.
        """
        self._stop_requested = True
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopping.set)

    def wait_started(self, timeout: float | None = None) -> bool:
        return self._started.wait(timeout)

    async def run(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self._stopping, self._wake, self._scheduler_wake = (
            asyncio.Event(),
            asyncio.Event(),
            asyncio.Event(),
        )
        if self._stop_requested:
            self._stopping.set()
        options = self.options
        self._commits = GroupCommit(self.store)
        self._threads = concurrent.futures.ThreadPoolExecutor(
            options.threads, thread_name_prefix="treadle-step"
        )
        self._workflow_threads = concurrent.futures.ThreadPoolExecutor(
            options.concurrency, thread_name_prefix="treadle-workflow"
        )
        # One listener for both loops: the claim loop's topic and the scheduler's.
        listener = self.store.listener((Topic.TASKS, Topic.TIMERS))
        loop.add_reader(listener.fileno(), self._on_notification, listener)
        background = [
            asyncio.ensure_future(self._heartbeat()),
            asyncio.ensure_future(self._housekeeping()),
            asyncio.ensure_future(
                scheduler.run(
                    self._clock,
                    self._scheduler_wake,
                    self.store.notify,
                    options.poll_interval,
                    store=self.store,
                    holder=self.id,
                    stopping=self._stopping,
                )
            ),
        ]
        log.info("worker %s started on queues %s", self.id, ",".join(options.queues))
        self._started.set()
        try:
            await self._claim_loop()
            await self._drain()
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            loop.remove_reader(listener.fileno())
            listener.close()
            self._release_all()
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._workflow_threads.shutdown(wait=False, cancel_futures=True)
            log.info("worker %s stopped", self.id)

    def _on_notification(self, listener: Listener) -> None:
        topics = listener.drain()
        assert self._wake is not None and self._scheduler_wake is not None
        if Topic.TASKS in topics:
            self._wake.set()
        if Topic.TIMERS in topics:
            # Only the elected scheduler waits for this; the others let it pass.
            self._scheduler_wake.set()

    # -- claiming ----------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        assert self._stopping is not None and self._wake is not None
        options = self.options
        stop_waiter = asyncio.ensure_future(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                self._wake.clear()
                free = options.concurrency - len(self._active)
                if free > 0:
                    try:
                        claimed = self._claim(free)
                    except errors.StoreError as exc:
                        # The database is away (restarting, say): keep the runs we hold,
                        # look again after a pause; the store reconnects by itself.
                        log.warning("worker %s could not claim work (%s); retrying", self.id, exc)
                        claimed = []
                    # No second claim right away: a run that arrives meanwhile sends a
                    # wake-up, and an empty claim would only hold up the runs just started
                    # (their first writes wait for the event loop it occupies).
                    for item in claimed:
                        self._start(item)
                    # Every slot taken: more runs may be waiting, so a run that ends looks.
                    # Otherwise a new run sends a wake-up of its own, and a look at every end
                    # would be an empty claim on the way of the next run's start.
                    self._saturated = len(claimed) >= free
                wake_waiter = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait(
                    {wake_waiter, stop_waiter},
                    timeout=options.poll_interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                wake_waiter.cancel()
        finally:
            stop_waiter.cancel()

    def _claim(self, limit: int) -> list[ops.Claimed]:
        """Lease up to ``limit`` tasks and start their runs: two transactions in one round
        trip on PostgreSQL (see ``ops.claiming``). Neither waits for the disk: a claim that
        a crash of the database undoes leaves the run to be claimed again, and this worker's
        writes under it fenced."""
        now, options = self._clock(), self.options
        transactions = ops.claiming(
            self.id, list(options.queues), limit, now, options.lease_seconds
        )
        return ops.claimed(self.id, self.store.write_in_turn(transactions, durable=False))

    def _start(self, claimed: ops.Claimed) -> None:
        run = claimed.run
        definition = self.registry.get(run["workflow"], run["version"])
        if definition is None:
            self._hand_back_unknown(claimed)
            return
        execution = Execution(
            claimed,
            definition,
            store=self.store,
            commits=self._commits,
            registry_=self.registry,
            clock=self._clock,
            step_threads=self._threads,
            workflow_threads=self._workflow_threads,
        )
        run_id = claimed.lease.run_id
        stale = self._active.get(run_id)
        if stale is not None:
            # This worker's own lease on the run expired (a stall longer than the lease) and it
            # claimed the run again: the old execution can no longer write, so it goes.
            stale.cancel()
        task = asyncio.ensure_future(self._execute(execution))
        self._active[run_id] = task
        task.add_done_callback(functools.partial(self._done, run_id))

    async def _execute(self, execution: Execution) -> None:
        try:
            await execution.execute()
            if execution.requeued and self._wake is not None:
                self._wake.set()
        except errors.DatabaseUnavailableError as exc:
            # The store has logged the outage once already; one line per run is enough here.
            log.warning(
                "run %s: a write failed while the database was away (%s); the run goes on "
                "when its lease expires",
                execution.run_id,
                exc,
                extra={"run_id": execution.run_id},
            )
        except errors.StoreError:
            log.exception(
                "run %s: the database refused a write; the run will be retried "
                "when its lease expires",
                execution.run_id,
                extra={"run_id": execution.run_id},
            )
        except Exception:
            log.exception(
                "run %s: internal error while executing",
                execution.run_id,
                extra={"run_id": execution.run_id},
            )

    def _done(self, run_id: str, task: asyncio.Future[None]) -> None:
        if self._active.get(run_id) is task:  # not the execution that replaced it
            del self._active[run_id]
        if self._wake is not None and self._saturated:
            self._wake.set()

    def _hand_back_unknown(self, claimed: ops.Claimed) -> None:
        run = claimed.run
        key = (run["workflow"], run["version"])
        if key not in self._warned:
            self._warned.add(key)
            known = ", ".join(f"{n} v{v}" for n, v in self.registry.names()) or "none"
            log.warning(
                "run %s needs workflow %r version %r, which this worker does not have "
                "(it has: %s); handing it back for another worker. Deploy that version, "
                "or retire its runs.",
                run["id"],
                key[0],
                key[1],
                known,
            )
        params = claimed.lease.params() | {"available_at": self._clock() + UNKNOWN_WORKFLOW_DELAY}

        reason = f"no worker here has workflow {key[0]!r} version {key[1]!r}"

        def hand_back(tx: Transaction) -> None:
            now = self._clock()
            tx.defer([("set_status", {"id": run["id"], "status": "waiting", "now": now})])
            ops.append(tx, run["id"], EventKind.RUN_WAITING, now, data={"reason": reason})
            tx.defer([("release_task", params)])

        self._commits.submit(hand_back)

    # -- leases ------------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        interval = self.options.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            until = self._clock() + self.options.lease_seconds
            try:
                # Only the runs still executing here: a run whose execution ended without
                # handing its task back (the database was away) must reach its expiry and
                # move on, not be kept by this worker's heartbeat forever.
                ids = codec.encode(list(self._active), "run ids")
                await self._commits.submit(
                    functools.partial(_renew, owner=self.id, until=until, ids=ids)
                )
            except errors.StoreError:
                log.warning("worker %s could not renew its leases; retrying", self.id)

    async def _housekeeping(self) -> None:
        # One thread of its own, so the store's fsyncs never wait behind user steps.
        with concurrent.futures.ThreadPoolExecutor(1, "treadle-housekeeping") as thread:
            while True:
                await asyncio.sleep(HOUSEKEEPING_INTERVAL)
                try:
                    await asyncio.get_running_loop().run_in_executor(thread, self.store.checkpoint)
                except errors.StoreError as exc:
                    log.warning("worker %s: housekeeping failed (%s); will try again", self.id, exc)

    async def _drain(self) -> None:
        if not self._active:
            return
        log.info(
            "worker %s stopping: waiting up to %ss for %d runs",
            self.id,
            self.options.grace_seconds,
            len(self._active),
        )
        _, pending = await asyncio.wait(
            list(self._active.values()), timeout=self.options.grace_seconds
        )
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _release_all(self) -> None:
        try:
            now = self._clock()
            released = transact.run(
                self.store, lambda tx: tx.execute("release_owner", {"owner": self.id, "now": now})
            )
        except errors.StoreError:
            log.warning(
                "worker %s could not hand back its runs; they move on when their leases expire",
                self.id,
            )
            return
        if released:
            log.info("worker %s handed back %d runs", self.id, released)
            self.store.notify((Topic.TASKS,))


def _renew(tx: Transaction, *, owner: str, until: float, ids: str) -> int:
    return tx.execute("renew_leases", {"owner": owner, "lease_until": until, "ids": ids})
