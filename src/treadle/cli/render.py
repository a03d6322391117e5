"""Runs and history as tables for people and as JSON for scripts."""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from treadle.core.history import Event
from treadle.core.runs import RunInfo
from treadle.core.status import RunStatus

STATUS_STYLES = {
    RunStatus.PENDING: "bright_black",
    RunStatus.RUNNING: "blue",
    RunStatus.WAITING: "yellow",
    RunStatus.SUCCEEDED: "green",
    RunStatus.FAILED: "bold red",
    RunStatus.CANCELLED: "magenta",
    RunStatus.TIMED_OUT: "red",
}

DETAILS_WIDTH = 60
# Rich fits tables to the console width, 80 columns when output is piped; a log file or a
# `grep` is better served by whole lines than by ids wrapped over two rows.
PIPE_WIDTH = 200


def console(*, terminal: bool, stderr: bool = False) -> Console:
    return Console(stderr=stderr, width=None if terminal else PIPE_WIDTH, highlight=False)


# -- JSON --------------------------------------------------------------------------------------


def run_json(info: RunInfo) -> dict[str, Any]:
    """Every ``RunInfo`` field; times are seconds since the epoch, as the Python API gives."""
    data = dataclasses.asdict(info)
    data["status"] = info.status.value
    return data


def event_json(event: Event) -> dict[str, Any]:
    data = dataclasses.asdict(event)
    data["kind"] = event.kind.value
    return data


def dumps(value: Any, *, pretty: bool = False) -> str:
    return json.dumps(value, indent=2 if pretty else None, ensure_ascii=False)


# -- values ------------------------------------------------------------------------------------


def timestamp(at: float | None, *, seconds: bool = True) -> str:
    """Local time; to the minute where space is short, as in lists."""
    if at is None:
        return "-"
    moment = datetime.datetime.fromtimestamp(at).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _cells(*values: str | Text) -> list[Text]:
    # Plain Text, so that brackets in names and JSON are never read as rich markup.
    return [value if isinstance(value, Text) else Text(value) for value in values]


def duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s"


def run_duration(info: RunInfo, now: float) -> str:
    """How long the run has taken: until it finished, or so far."""
    start = info.started_at if info.started_at is not None else info.created_at
    end = info.finished_at if info.finished_at is not None else now
    return duration(end - start)


def status_text(status: RunStatus) -> Text:
    return Text(status.value, style=STATUS_STYLES.get(status, ""))


def short(value: Any, width: int = DETAILS_WIDTH) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def error_line(error: dict[str, Any] | None) -> str:
    if not error:
        return ""
    return f"{error.get('type', 'error')}: {error.get('message', '')}"


def event_details(event: Event) -> str:
    """The gist of an event's data in one short line."""
    data = event.data
    if data is None:
        return ""
    if isinstance(data, dict):
        if isinstance(data.get("error"), dict):
            return short(error_line(data["error"]))
        for key in ("result", "payload"):
            if key in data and len(data) <= 2:
                return short(f"{key}={json.dumps(data[key], ensure_ascii=False)}")
    return short(data)


# -- tables ------------------------------------------------------------------------------------


def runs_table(runs: Sequence[RunInfo], *, now: float) -> Table:
    # On a narrow terminal the id, status and duration stay whole and the rest wraps.
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("id", no_wrap=True)
    table.add_column("workflow", overflow="fold", min_width=5)
    table.add_column("version", overflow="fold", min_width=4)
    table.add_column("status", no_wrap=True)
    table.add_column("created", min_width=10)
    table.add_column("duration", justify="right", no_wrap=True)
    table.add_column("queue", overflow="fold", min_width=5)
    for info in runs:
        table.add_row(
            *_cells(
                info.id,
                info.workflow,
                info.version,
                status_text(info.status),
                timestamp(info.created_at, seconds=False),
                run_duration(info, now),
                info.queue,
            )
        )
    return table


def run_detail(info: RunInfo, *, now: float) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    rows: list[tuple[str, str | Text]] = [
        ("id", info.id),
        ("workflow", f"{info.workflow} (version {info.version})"),
        ("status", status_text(info.status)),
        ("queue", f"{info.queue} (priority {info.priority})"),
        ("parent", info.parent_id or "-"),
        ("args", dumps(info.args)),
        ("kwargs", dumps(info.kwargs)),
        ("created", timestamp(info.created_at)),
        ("started", timestamp(info.started_at)),
        ("finished", timestamp(info.finished_at)),
        ("updated", timestamp(info.updated_at)),
        ("deadline", timestamp(info.deadline)),
        ("duration", run_duration(info, now)),
    ]
    if info.status is RunStatus.SUCCEEDED:
        rows.append(("result", dumps(info.result, pretty=True)))
    if info.error:
        rows.append(("error", Text(error_line(info.error), style="red")))
    for name, value in rows:
        grid.add_row(*_cells(name, value))
    traceback = (info.error or {}).get("traceback")
    if traceback:
        return Group(grid, Text(""), Text(str(traceback).rstrip(), style="bright_black"))
    return grid


def history_table(events: Sequence[Event], *, width: int) -> Table:
    """The history, one line per event, fitted to ``width`` columns by shortening details."""
    headers = ("id", "time", "kind", "position", "name", "attempt", "details")
    rows: list[tuple[str, ...] | str] = []
    day = None
    for event in events:
        moment = datetime.datetime.fromtimestamp(event.at).astimezone()
        if moment.date() != day:
            # Times show the time of day; a row with the date opens each day of the run.
            day = moment.date()
            rows.append(day.isoformat())
        rows.append(
            (
                str(event.id),
                moment.strftime("%H:%M:%S.%f")[:-3],
                event.kind.value,
                "" if event.position is None else str(event.position),
                event.name or "",
                "" if event.attempt is None else str(event.attempt),
                event_details(event),
            )
        )
    cells = [row for row in rows if isinstance(row, tuple)]
    used = sum(
        max([len(headers[i]), *(len(row[i]) for row in cells)]) for i in range(len(headers) - 1)
    )
    # Rich would squeeze every column of a table too wide for the terminal; only the details
    # should give way (`treadle show --json` has them whole).
    # SIMPLE_HEAD spends 3 characters between columns and 1 at each edge.
    room = max(width - used - 3 * (len(headers) - 1) - 2, 8)
    # No table title: rich squeezes the columns of a titled table (rich 15).
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for header in headers:
        numeric = header in ("id", "position", "attempt")
        table.add_column(header, justify="right" if numeric else "left", no_wrap=True)
    for row in rows:
        if isinstance(row, str):
            table.add_row("", Text(row, style="bold"))
        else:
            table.add_row(*_cells(*row[:-1], short(row[-1], min(room, DETAILS_WIDTH))))
    return table
