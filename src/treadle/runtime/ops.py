"""State changes of runs, each composed of named queries inside one transaction.

Every function takes an open transaction and the current time; none commits. A status change
and its history event are always written together.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from treadle import errors
from treadle.core import codec, status
from treadle.core.history import Event, EventKind
from treadle.core.status import RunStatus
from treadle.store.protocol import Reader, Row, Statement, Topic, Transaction

_FINISH_EVENT = {
    RunStatus.SUCCEEDED: EventKind.RUN_SUCCEEDED,
    RunStatus.FAILED: EventKind.RUN_FAILED,
    RunStatus.CANCELLED: EventKind.RUN_CANCELLED,
    RunStatus.TIMED_OUT: EventKind.RUN_TIMED_OUT,
}


@dataclasses.dataclass(frozen=True, slots=True)
class Lease:
    """A worker's claim on a run's task; writes under it are refused once it is lost."""

    run_id: str
    epoch: int
    owner: str

    def params(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "epoch": self.epoch, "owner": self.owner}


@dataclasses.dataclass(frozen=True, slots=True)
class NewRun:
    id: str
    workflow: str
    version: str
    queue: str
    input: str
    priority: int = 0
    parent_id: str | None = None
    parent_position: int | None = None
    deadline: float | None = None

    def topics(self) -> tuple[Topic, ...]:
        """What creating the run notifies: workers claim its task, and the scheduler watches
        its deadline, if it has one."""
        return (Topic.TASKS,) if self.deadline is None else (Topic.TASKS, Topic.TIMERS)


_RUN_FIELDS = tuple(field.name for field in dataclasses.fields(NewRun))


# A parent that is cancelled or times out takes its unfinished children with it; one that
# returns or fails leaves them running (a child started with wait=False is detached work).
_ENDS_CHILDREN = frozenset({RunStatus.CANCELLED, RunStatus.TIMED_OUT})


def event_row(
    run_id: str,
    kind: EventKind,
    at: float,
    *,
    position: int | None = None,
    name: str | None = None,
    attempt: int | None = None,
    data: Any = None,
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "kind": kind.value,
        "at": at,
        "position": position,
        "name": name,
        "attempt": attempt,
        "data": None if data is None else codec.encode(data, f"the {kind.value} event"),
    }


def to_event(row: Row) -> Event:
    return Event(
        id=row["id"],
        run_id=row["run_id"],
        kind=EventKind(row["kind"]),
        at=row["at"],
        position=row["position"],
        name=row["name"],
        attempt=row["attempt"],
        data=codec.decode(row["data"]),
    )


def append(tx: Transaction, run_id: str, kind: EventKind, now: float, **fields: Any) -> None:
    tx.defer([("insert_event", event_row(run_id, kind, now, **fields))])


def wake(tx: Transaction, run_id: str, now: float) -> None:
    """Give the run a task (or mark its task woken) so that a worker looks at it again."""
    tx.defer([("wake_run", {"run_id": run_id, "now": now})])


def holds(tx: Transaction, lease: Lease) -> bool:
    return tx.fetch_one("holds_lease", lease.params()) is not None


def new_run(run: NewRun, now: float) -> Statement:
    """The statement that inserts the run, its ``run_created`` event and its task, or
    changes nothing when the id is taken."""
    data = {"workflow": run.workflow, "version": run.version, "queue": run.queue}
    if run.parent_id is not None:
        data["parent_id"] = run.parent_id
    params = {field: getattr(run, field) for field in _RUN_FIELDS}
    return (
        "create_run",
        params | {"now": now, "data": codec.encode(data, "the run_created event")},
    )


def create_run(tx: Transaction, run: NewRun, now: float) -> Row | None:
    """Insert the run and its task; return the existing row instead when the id is taken."""
    if tx.execute(*new_run(run, now)) == 0:
        return tx.fetch_one("get_run", {"id": run.id})
    return None


def get_run(reader: Reader, run_id: str) -> Row:
    row = reader.fetch_one("get_run", {"id": run_id})
    if row is None:
        raise errors.RunNotFoundError(
            f"no run has the id {run_id!r} in this database: check the id "
            "(`treadle runs` lists them) and the --database you point at",
            run_id=run_id,
        )
    return row


def finish_run(
    tx: Transaction,
    run_id: str,
    new_status: RunStatus,
    now: float,
    *,
    result: str | None = None,
    error: dict[str, Any] | None = None,
    lease: Lease | None = None,
) -> bool:
    """Move an unfinished run to a final status, cancel its children, tell its parent.

    With a ``lease``, only while that lease holds.
    """
    if lease is not None:
        finished = tx.fetch_one(*ending(lease, new_status, now, result=result, error=error))
    else:
        finished = _finish_without_lease(tx, run_id, new_status, now, result, error)
    if finished is None:
        return False
    if new_status in _ENDS_CHILDREN:
        for child in tx.fetch_all("unfinished_children", {"id": run_id}):
            finish_run(
                tx,
                child["id"],
                RunStatus.CANCELLED,
                now,
                error={
                    "type": "treadle.RunCancelled",
                    "message": f"parent run {run_id} {new_status.value.replace('_', ' ')}",
                },
            )
    if finished["parent_id"] is not None:
        tell_parent(tx, finished, now)
    return True


def _finish_without_lease(
    tx: Transaction,
    run_id: str,
    new_status: RunStatus,
    now: float,
    result: str | None,
    error: dict[str, Any] | None,
) -> Row | None:
    params = _end_params(run_id, new_status, now, result, error)
    finished = tx.fetch_one("finish_run", params)
    if finished is not None:
        # Without a lease the run may have no task, and a wake-up may be inserting one
        # (waiting for the run row this update locks): only a statement that begins after
        # that insert committed sees it, so the deletes follow the update rather than ride
        # in it as they do in finish_run_fenced, whose run holds its task.
        event = event_row(run_id, _FINISH_EVENT[new_status], now) | {"data": params["data"]}
        tx.defer(
            [
                ("insert_event", event),
                ("delete_task", {"run_id": run_id}),
                ("delete_timers", {"run_id": run_id}),
            ]
        )
    return finished


def ending(
    lease: Lease,
    new_status: RunStatus,
    now: float,
    *,
    result: str | None = None,
    error: dict[str, Any] | None = None,
) -> Statement:
    """The statement that ends a run under its lease (``finish_run`` with a ``lease``, but
    for the children and the parent): its final status and event, its task and timers gone.
    It returns the run as it ends, or nothing when the run had ended or the lease is lost."""
    params = _end_params(lease.run_id, new_status, now, result, error)
    return ("finish_run_fenced", params | {"epoch": lease.epoch, "owner": lease.owner})


def _end_params(
    run_id: str, new_status: RunStatus, now: float, result: str | None, error: dict[str, Any] | None
) -> dict[str, Any]:
    kind = _FINISH_EVENT[new_status]
    data: dict[str, Any] | None = None
    if result is not None:
        data = {"result": codec.decode(result)}
    elif error is not None:
        data = {"error": error}
    return {
        "id": run_id,
        "status": new_status.value,
        "result": result,
        "error": None if error is None else codec.encode(error, "the run's error"),
        "now": now,
        "kind": kind.value,
        "data": None if data is None else codec.encode(data, f"the {kind.value} event"),
    }


def ends_alone(new_status: RunStatus, parent_id: str | None) -> bool:
    """Whether ``ending``'s statement is all that ``finish_run`` does, under a lease, for
    such a run: no children to cancel, no parent to tell."""
    return new_status not in _ENDS_CHILDREN and parent_id is None


def tell_parent(tx: Transaction, child: Row, now: float) -> None:
    """Record a finished child in its parent's history and wake the parent."""
    parent = tx.fetch_one("get_run", {"id": child["parent_id"]})
    if parent is None or RunStatus(parent["status"]).finished:
        return  # nobody waits for it any more; the parent's history stays closed
    outcome: dict[str, Any] = {"child_id": child["id"], "status": child["status"]}
    if child["result"] is not None:
        outcome["result"] = codec.decode(child["result"])
    if child["error"] is not None:
        outcome["error"] = codec.decode(child["error"])
    append(
        tx,
        child["parent_id"],
        EventKind.CHILD_COMPLETED,
        now,
        position=child["parent_position"],
        name=child["workflow"],
        data=outcome,
    )
    wake(tx, child["parent_id"], now)


def cancel_child(tx: Transaction, child_id: str, parent_id: str, now: float) -> bool:
    """Cancel a parent's child run (and its children) unless it has finished; say if it was."""
    child = tx.fetch_one("get_run", {"id": child_id})
    if child is None or child["parent_id"] != parent_id:
        return False
    return finish_run(
        tx,
        child_id,
        RunStatus.CANCELLED,
        now,
        error={"type": "treadle.RunCancelled", "message": f"cancelled by parent run {parent_id}"},
    )


def signal(tx: Transaction, run_id: str, name: str, payload: str, now: float) -> None:
    run = get_run(tx, run_id)
    if status.RunStatus(run["status"]).finished:
        raise errors.RunFinishedError(
            f"run {run_id} is already {run['status']} and takes no more signals; "
            f"signal {name!r} was not stored",
            run_id=run_id,
        )
    append(
        tx,
        run_id,
        EventKind.SIGNAL_RECEIVED,
        now,
        name=name,
        data={"payload": codec.decode(payload)},
    )
    wake(tx, run_id, now)


def cancel(tx: Transaction, run_id: str, now: float) -> None:
    run = get_run(tx, run_id)
    if status.RunStatus(run["status"]).finished:
        raise errors.RunFinishedError(
            f"run {run_id} is already {run['status']}; there is nothing to cancel",
            run_id=run_id,
        )
    finish_run(
        tx,
        run_id,
        RunStatus.CANCELLED,
        now,
        error={"type": "treadle.RunCancelled", "message": "cancelled on request"},
    )


def retry(tx: Transaction, run_id: str, now: float) -> None:
    """Send a failed or timed-out run back to work; a run with a deadline gets as long as it
    had the first time, from now."""
    run = get_run(tx, run_id)
    if RunStatus(run["status"]) not in status.RETRYABLE:
        raise errors.RunNotRetryableError(
            f"run {run_id} has status {run['status']}: only failed or timed-out runs can be "
            "retried (cancel a running one first, or start a new run)",
            run_id=run_id,
        )
    allowed = _time_allowed(tx, run)
    deadline = None if allowed is None else now + allowed
    tx.execute("reopen_run", {"id": run_id, "now": now, "deadline": deadline})
    data: dict[str, Any] = {"previous_status": run["status"]}
    if allowed is not None:
        data["time_allowed"] = allowed
    append(tx, run_id, EventKind.RUN_RETRIED, now, data=data)
    wake(tx, run_id, now)


def _time_allowed(tx: Transaction, run: Row) -> float | None:
    """How long the run may take from a (re)start: ``deadline - created_at`` until a retry,
    which records it in its event (the deadline then counts from the retry)."""
    if run["deadline"] is None:
        return None
    for row in reversed(tx.fetch_all("history", {"run_id": run["id"]})):
        if row["kind"] == EventKind.RUN_RETRIED.value:
            allowed = codec.decode(row["data"]).get("time_allowed")
            if allowed is not None:
                return float(allowed)
            break  # retried by an older Treadle: the window below is the best left
    return float(run["deadline"] - run["created_at"])


def fire_timer(tx: Transaction, run_id: str, position: int, now: float) -> bool:
    if not tx.execute("delete_timer", {"run_id": run_id, "position": position}):
        return False  # another process fired it first
    append(tx, run_id, EventKind.TIMER_FIRED, now, position=position)
    wake(tx, run_id, now)
    return True


def time_out(tx: Transaction, run_id: str, now: float) -> bool:
    return finish_run(
        tx,
        run_id,
        RunStatus.TIMED_OUT,
        now,
        error={"type": "treadle.RunTimedOut", "message": "the run passed its deadline"},
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Claimed:
    lease: Lease
    run: Row
    events: list[Event]


def claim(
    tx: Transaction, owner: str, queues: list[str], limit: int, now: float, lease_seconds: float
) -> list[Claimed]:
    """Take up to ``limit`` ready tasks, mark their runs running, and load their histories
    (``claiming``'s statements, here in one transaction)."""
    lease, start = claiming(owner, queues, limit, now, lease_seconds)
    return claimed(owner, tx.fetch_each([*lease, *start]))


# Numbers each claim of this process; with the owner (unique to a worker) it names the claim.
_claims = itertools.count(1)


def claiming(
    owner: str, queues: list[str], limit: int, now: float, lease_seconds: float
) -> tuple[list[Statement], list[Statement]]:
    """A claim, as two transactions to commit in turn (``Store.write_in_turn``): lease up to
    ``limit`` ready tasks to ``owner`` under a new claim number; then mark their runs
    running (those that have not finished meanwhile), record their starts, drop the tasks
    of finished runs and read the histories. The second finds the claim's tasks by owner
    and number, so both go to the database at once; the tasks stay leased in between.

    Two transactions, not one, so that a claim never holds a task while it waits for a
    run: a cancel or a wake-up locks the run first and then its task, and in one
    transaction the two could wait for each other. ``claimed`` makes sense of the rows."""
    claim = {"owner": owner, "claim": next(_claims), "now": now}
    lease_tasks = claim | {
        "queues": codec.encode(queues, "queues"),
        "lease_until": now + lease_seconds,
        "limit": limit,
    }
    return (
        [("claim_tasks", lease_tasks)],
        [("start_runs", claim), ("histories", claim)],
    )


def claimed(owner: str, results: list[list[Row]]) -> list[Claimed]:
    """What a claim hands to its worker, from the rows of ``claiming``'s statements."""
    tasks, runs_started, history = results
    runs = {run["id"]: run for run in runs_started}
    epochs = {row["run_id"]: row["epoch"] for row in tasks if row["run_id"] in runs}
    events: dict[str, list[Event]] = {run_id: [] for run_id in epochs}
    for row in history:
        if row["run_id"] in events:
            events[row["run_id"]].append(to_event(row))
    return [
        Claimed(Lease(run_id, epoch, owner), runs[run_id], events[run_id])
        for run_id, epoch in epochs.items()
    ]
