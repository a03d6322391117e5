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


def timestamp(at: float | None, *, millis: bool = False) -> str:
    """Local time; ``millis`` for history, where events often share a second."""
    if at is None:
        return "-"
    moment = datetime.datetime.fromtimestamp(at).astimezone()
    text = moment.strftime("%Y-%m-%d %H:%M:%S.%f" if millis else "%Y-%m-%d %H:%M:%S")
    return text[:-3] if millis else text


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
                return short(f"{key}={short(data[key])}")
    return short(data)


# -- tables ------------------------------------------------------------------------------------


def runs_table(runs: Sequence[RunInfo], *, now: float) -> Table:
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("id", no_wrap=True)
    table.add_column("workflow")
    table.add_column("version")
    table.add_column("status", no_wrap=True)
    table.add_column("created", no_wrap=True)
    table.add_column("duration", justify="right", no_wrap=True)
    table.add_column("queue")
    for info in runs:
        table.add_row(
            *_cells(
                info.id,
                info.workflow,
                info.version,
                status_text(info.status),
                timestamp(info.created_at),
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


def history_table(events: Sequence[Event]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, title="history", title_justify="left")
    table.add_column("id", justify="right")
    table.add_column("time", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("position", justify="right")
    table.add_column("name")
    table.add_column("attempt", justify="right")
    table.add_column("details")
    for event in events:
        table.add_row(
            *_cells(
                str(event.id),
                timestamp(event.at, millis=True),
                event.kind.value,
                "" if event.position is None else str(event.position),
                event.name or "",
                "" if event.attempt is None else str(event.attempt),
                event_details(event),
            )
        )
    return table
