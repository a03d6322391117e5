"""Cron schedules: a workflow started at the fire times of a cron expression.

A schedule is a row of the ``schedules`` table: what each fire starts (the workflow's name,
version and queue, its encoded arguments, the run's timeout), a cron expression with its time
zone, what to do about fires missed while no scheduler ran, and ``next_fire_at``. The elected
scheduler (``runtime.scheduler``) calls ``fire_due`` inside its fenced transaction: it starts
the runs of the fires that are due and moves ``next_fire_at`` past them in that transaction,
so a fire is either wholly done or not at all. Each fire's run id follows from the schedule's
id and the fire time, and starting an existing id starts nothing: two schedulers racing, or
a tick tried again, cannot start a fire's run twice.

Cron expressions are read here, with croniter; ``core`` stays free of it.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import hashlib
import logging
import zoneinfo
from collections.abc import Sequence
from typing import Any

import croniter

from treadle import errors
from treadle.core import codec, ids
from treadle.runtime import ops, registry
from treadle.store.protocol import Reader, Row, Transaction

log = logging.getLogger("treadle.scheduler")

DEFAULT_TIMEZONE = "UTC"
MAX_ID_LENGTH = 100
LATE_AFTER = 10.0
"""With ``catch_up="none"``, a fire reached more than this many seconds after its time counts
as missed and starts no run. A scheduler fail-over takes about 3.5 s, so it misses nothing."""
BROKEN_RETRY = 60.0
"""A schedule whose expression this process cannot read (its time zone is unknown here, say)
is looked at again after this many seconds, perhaps by another process."""
ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
CRON_HINT = (
    "write 5 fields (minute hour day-of-month month day-of-week, e.g. '*/5 * * * *'), 6 with "
    "seconds first (e.g. '*/10 * * * * *'), or one of " + ", ".join(ALIASES)
)


class CatchUp(enum.StrEnum):
    """What a schedule does about fires that passed while no scheduler ran."""

    LATEST = "latest"  # one run, for the most recent missed fire (the default)
    ALL = "all"  # a run for every missed fire, oldest first
    NONE = "none"  # no run for a missed fire; the schedule goes on from the next one


DEFAULT_CATCH_UP = CatchUp.LATEST


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Schedule:
    """A cron schedule as stored, with when it fires next and the last run it started."""

    id: str
    """Chosen by the user; saving a schedule under an existing id updates it."""
    workflow: str
    version: str
    """The workflow version its runs start on: the one registered when it was saved."""
    queue: str
    args: list[Any]
    kwargs: dict[str, Any]
    cron: str
    timezone: str
    """The IANA time zone the cron expression is read in, e.g. ``Europe/Paris``."""
    catch_up: CatchUp
    paused: bool
    next_fire_at: float | None
    """Seconds since the epoch of the next fire; ``None`` while paused or when it never
    fires again."""
    last_fire_at: float | None
    """The fire time of the last run started."""
    last_run_id: str | None
    created_at: float
    updated_at: float


class Cron:
    """A cron expression read in a time zone; its fire times are seconds since the epoch."""

    def __init__(self, expression: str, timezone: str = DEFAULT_TIMEZONE) -> None:
        if not isinstance(timezone, str) or not timezone:
            raise errors.UsageError(
                f"a time zone must be an IANA name such as 'UTC' or 'Europe/Paris', not "
                f"{timezone!r}"
            )
        try:
            self.zone = zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise errors.UsageError(
                f"unknown time zone {timezone!r}: use an IANA name such as 'UTC', "
                "'Europe/Paris' or 'America/New_York'"
            ) from None
        if not isinstance(expression, str) or not expression.strip():
            raise errors.UsageError(f"a cron expression is needed: {CRON_HINT}")
        fields = expression.split()
        aliased = len(fields) == 1 and fields[0].lower() in ALIASES
        if not aliased and len(fields) not in (5, 6):
            raise errors.UsageError(
                f"{expression!r} has {len(fields)} field{'' if len(fields) == 1 else 's'}, "
                "not a cron expression Treadle reads: "
                f"{CRON_HINT}"
            )
        self.expression = " ".join(fields)
        self.timezone = timezone
        try:
            self._iterator(0.0).get_next(float)
        except croniter.CroniterBadDateError:
            raise errors.UsageError(
                f"cron expression {expression!r} never fires (no such date): check its "
                "day-of-month and month fields"
            ) from None
        except (croniter.CroniterError, ValueError, TypeError, KeyError) as exc:
            raise errors.UsageError(
                f"{expression!r} is not a valid cron expression ({exc}): {CRON_HINT}"
            ) from None

    def _iterator(self, at: float) -> croniter.croniter:
        start = datetime.datetime.fromtimestamp(at, self.zone)
        return croniter.croniter(self.expression, start, second_at_beginning=True)

    def next_after(self, at: float) -> float | None:
        """The first fire time strictly after ``at``; ``None`` when there is none."""
        try:
            return float(self._iterator(at).get_next(float))
        except croniter.CroniterBadDateError:
            return None

    def latest_until(self, at: float) -> float | None:
        """The last fire time at or before ``at``; ``None`` when there is none."""
        try:
            latest = float(self._iterator(at).get_prev(float))
        except croniter.CroniterBadDateError:
            return None
        # get_prev is strictly before its start: ``at`` itself may be a fire time.
        following = self.next_after(latest)
        return following if following is not None and following <= at else latest


def run_id_for(schedule_id: str, fire_at: float) -> str:
    """The id of the run a fire starts: the same for the same schedule and fire time, and in
    the format (and order by time) of every other run id."""
    entropy = hashlib.sha256(f"schedule:{schedule_id}".encode()).digest()[:10]
    return ids.run_id(round(fire_at * 1000), entropy)


# -- saving --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Spec:
    """A schedule checked and ready to store."""

    id: str
    workflow: str
    version: str
    queue: str
    input: str
    timeout: float | None
    cron: Cron
    catch_up: CatchUp


def check_id(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise errors.UsageError(f"a schedule id must be a non-empty string, not {value!r}")
    if len(value) > MAX_ID_LENGTH:
        raise errors.UsageError(
            f"a schedule id must be at most {MAX_ID_LENGTH} characters, not {len(value)}"
        )
    if not value.isprintable() or any(ch.isspace() for ch in value):
        raise errors.UsageError(
            f"a schedule id must be printable and contain no white space, not {value!r}"
        )
    return value


def check_catch_up(value: Any) -> CatchUp:
    try:
        return CatchUp(value)
    except ValueError:
        choices = ", ".join(repr(mode.value) for mode in CatchUp)
        raise errors.UsageError(f"catch_up must be one of {choices}, not {value!r}") from None


def prepare(
    registry_: registry.Registry,
    schedule_id: str,
    workflow: Any,
    cron: str,
    *,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    queue: str | None = None,
    catch_up: str | CatchUp = DEFAULT_CATCH_UP,
) -> Spec:
    """Check everything about a schedule before anything is stored."""
    schedule_id = check_id(schedule_id)
    definition = registry_.resolve(workflow)
    if isinstance(args, str | bytes) or not isinstance(args, Sequence):
        raise errors.UsageError(f"args must be a list of arguments, not {args!r}")
    kwargs = {} if kwargs is None else kwargs
    if not isinstance(kwargs, dict) or not all(isinstance(key, str) for key in kwargs):
        raise errors.UsageError(f"kwargs must be a dict with str keys, not {kwargs!r}")
    definition.bind(tuple(args), kwargs)
    text = codec.encode(
        {"args": list(args), "kwargs": kwargs},
        f"the arguments of schedule {schedule_id!r} (workflow {definition.name!r})",
    )
    if queue is not None and (not isinstance(queue, str) or not queue):
        raise errors.UsageError(f"queue must be a non-empty name, not {queue!r}")
    return Spec(
        id=schedule_id,
        workflow=definition.name,
        version=definition.version,
        queue=queue or definition.queue,
        input=text,
        timeout=definition.timeout,
        cron=Cron(cron, timezone),
        catch_up=check_catch_up(catch_up),
    )


def save(tx: Transaction, spec: Spec, now: float) -> Schedule:
    """Create the schedule, or update the one with its id (which stays paused if it was)."""
    existing = tx.fetch_one("get_schedule_for_update", {"id": spec.id})
    # The same timing keeps its next fire (one due now still fires); a new one starts from now.
    next_fire_at = spec.cron.next_after(now)
    if (
        existing is not None
        and existing["next_fire_at"] is not None
        and (existing["cron"], existing["timezone"]) == (spec.cron.expression, spec.cron.timezone)
    ):
        next_fire_at = existing["next_fire_at"]
    tx.execute(
        "save_schedule",
        {
            "id": spec.id,
            "workflow": spec.workflow,
            "version": spec.version,
            "queue": spec.queue,
            "input": spec.input,
            "timeout": spec.timeout,
            "cron": spec.cron.expression,
            "timezone": spec.cron.timezone,
            "catch_up": spec.catch_up.value,
            "next_fire_at": next_fire_at,
            "now": now,
        },
    )
    return get(tx, spec.id)


def set_paused(tx: Transaction, schedule_id: str, paused: bool, now: float) -> Schedule:
    """Pause, or resume from the first fire after ``now``: fires passed while paused are
    skipped, whatever the catch-up mode."""
    row = _row(tx, schedule_id, "get_schedule_for_update")
    if bool(row["paused"]) == paused:
        return to_schedule(row)
    next_fire_at = row["next_fire_at"]
    if not paused:
        next_fire_at = Cron(row["cron"], row["timezone"]).next_after(now)
    tx.execute(
        "set_schedule_paused",
        {"id": schedule_id, "paused": int(paused), "next_fire_at": next_fire_at, "now": now},
    )
    return get(tx, schedule_id)


def delete(tx: Transaction, schedule_id: str) -> None:
    """Delete the schedule; the runs it started stay."""
    if not tx.execute("delete_schedule", {"id": check_id(schedule_id)}):
        raise _not_found(schedule_id)


def get(reader: Reader, schedule_id: str) -> Schedule:
    return to_schedule(_row(reader, schedule_id, "get_schedule"))


def _row(reader: Reader, schedule_id: str, query: str) -> Row:
    row = reader.fetch_one(query, {"id": check_id(schedule_id)})
    if row is None:
        raise _not_found(schedule_id)
    return row


def _not_found(schedule_id: str) -> errors.UsageError:
    return errors.UsageError(
        f"no schedule has the id {schedule_id!r} in this database: check the id "
        "(`treadle schedule list` lists them) and the --database you point at"
    )


def to_schedule(row: Row) -> Schedule:
    inputs = codec.decode(row["input"]) or {}
    paused = bool(row["paused"])
    return Schedule(
        id=row["id"],
        workflow=row["workflow"],
        version=row["version"],
        queue=row["queue"],
        args=inputs.get("args", []),
        kwargs=inputs.get("kwargs", {}),
        cron=row["cron"],
        timezone=row["timezone"],
        catch_up=CatchUp(row["catch_up"]),
        paused=paused,
        next_fire_at=None if paused else row["next_fire_at"],
        last_fire_at=row["last_fire_at"],
        last_run_id=row["last_run_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


# -- firing --------------------------------------------------------------------------------------


def fire_due(tx: Transaction, now: float, limit: int) -> int:
    """Start the runs of due fires (at most ``limit`` per schedule) and move each schedule's
    next fire on; return how many runs were started."""
    started = 0
    for row in tx.fetch_all("due_schedules", {"now": now, "limit": limit}):
        started += _fire(tx, row, now, limit)
    return started


def _fire(tx: Transaction, row: Row, now: float, limit: int) -> int:
    try:
        cron = Cron(row["cron"], row["timezone"])
    except errors.UsageError as exc:
        log.warning(
            "schedule %s cannot fire here (%s); trying again in %g s",
            row["id"],
            exc,
            BROKEN_RETRY,
        )
        tx.execute(
            "advance_schedule",
            {
                "id": row["id"],
                "next_fire_at": now + BROKEN_RETRY,
                "last_fire_at": None,
                "last_run_id": None,
            },
        )
        return 0
    due = row["next_fire_at"]
    fires, next_fire_at = due_fires(cron, CatchUp(row["catch_up"]), due, now, limit)
    if fires[:1] != [due]:
        log.info(
            "schedule %s missed its fires from %s (no scheduler ran); catch_up=%r starts %s",
            row["id"],
            _iso(due),
            row["catch_up"],
            f"one run, for {_iso(fires[-1])}" if fires else "no run for them",
            extra={"schedule": row["id"]},
        )
    started, last_run_id = 0, None
    for fire_at in fires:
        last_run_id = run_id_for(row["id"], fire_at)
        run = ops.NewRun(
            id=last_run_id,
            workflow=row["workflow"],
            version=row["version"],
            queue=row["queue"],
            input=row["input"],
            deadline=now + row["timeout"] if row["timeout"] else None,
        )
        if ops.create_run(tx, run, now) is None:
            started += 1
            log.debug(
                "schedule %s started run %s for its fire at %s",
                row["id"],
                last_run_id,
                _iso(fire_at),
                extra={"run_id": last_run_id, "schedule": row["id"]},
            )
    tx.execute(
        "advance_schedule",
        {
            "id": row["id"],
            "next_fire_at": next_fire_at,
            "last_fire_at": fires[-1] if fires else None,
            "last_run_id": last_run_id,
        },
    )
    return started


def due_fires(
    cron: Cron, catch_up: CatchUp, due: float, now: float, limit: int
) -> tuple[list[float], float | None]:
    """The fire times to start runs for, given the first one due, and the next fire after them.

    Fires later than the first are missed fires when they are due too (no scheduler ran for
    a while); ``catch_up`` says which get a run.
    """
    if catch_up is CatchUp.ALL:
        fires: list[float] = []
        at: float | None = due
        while at is not None and at <= now and len(fires) < limit:
            fires.append(at)
            at = cron.next_after(at)
        return fires, at
    latest = max(cron.latest_until(now) or due, due)
    fires = [] if catch_up is CatchUp.NONE and now - latest > LATE_AFTER else [latest]
    return fires, cron.next_after(max(now, latest))


def _iso(at: float) -> str:
    return datetime.datetime.fromtimestamp(at, datetime.UTC).isoformat()
