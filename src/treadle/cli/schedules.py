"""``treadle schedule``: cron schedules that start runs, fired by the workers' elected scheduler."""

from __future__ import annotations

import dataclasses
import sys
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from treadle import errors
from treadle.cli import database, loading, options, render, settings
from treadle.runtime import schedules

app = typer.Typer(
    name="schedule",
    help="Start a workflow on a cron schedule; list, show, pause, resume and delete schedules.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

Database = options.Database
ScheduleId = Annotated[str, typer.Argument(metavar="ID", help="Schedule id.")]
AsJSON = options.AsJSON


def _print(text: str) -> None:
    # Plain writes, not rich: ids and JSON must reach pipes unwrapped and without markup.
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def schedule_json(schedule: schedules.Schedule) -> dict[str, Any]:
    """Every ``Schedule`` field; times are seconds since the epoch, as the Python API gives."""
    data = dataclasses.asdict(schedule)
    data["catch_up"] = schedule.catch_up.value
    return data


def _state(schedule: schedules.Schedule) -> Text:
    if schedule.paused:
        return Text("paused", style="yellow")
    if schedule.next_fire_at is None:
        return Text("ended", style="bright_black")
    return Text("active", style="green")


def _table(items: list[schedules.Schedule]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for header in ("id", "workflow", "cron", "time zone", "state", "next fire", "last run"):
        table.add_column(header, overflow="fold")
    for item in items:
        table.add_row(
            Text(item.id),
            Text(f"{item.workflow} v{item.version}"),
            Text(item.cron),
            Text(item.timezone),
            _state(item),
            Text(render.timestamp(item.next_fire_at)),
            Text(item.last_run_id or "-"),
        )
    return table


def _detail(item: schedules.Schedule) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    rows: list[tuple[str, str | Text]] = [
        ("id", item.id),
        ("workflow", f"{item.workflow} v{item.version}"),
        ("queue", item.queue),
        ("arguments", render.short({"args": item.args, "kwargs": item.kwargs})),
        ("cron", item.cron),
        ("time zone", item.timezone),
        ("catch up", item.catch_up.value),
        ("state", _state(item)),
        ("next fire", render.timestamp(item.next_fire_at)),
        ("last fire", render.timestamp(item.last_fire_at)),
        ("last run", item.last_run_id or "-"),
        ("created", render.timestamp(item.created_at)),
        ("updated", render.timestamp(item.updated_at)),
    ]
    for name, value in rows:
        table.add_row(Text(name), value if isinstance(value, Text) else Text(value))
    return table


@app.command()
def add(
    schedule_id: ScheduleId,
    target: Annotated[
        str, typer.Argument(metavar="MODULE:WORKFLOW", help="e.g. reports:nightly or app.py:beat")
    ],
    cron: Annotated[
        str,
        typer.Argument(
            metavar="CRON",
            help="5 fields ('0 3 * * *'), 6 with seconds first ('*/10 * * * * *'), or @daily...",
        ),
    ],
    args: Annotated[
        str | None,
        typer.Argument(
            metavar="[ARGS_JSON]",
            help="The workflow's positional arguments as a JSON array, e.g. '[\"eu\", 3]'.",
            show_default=False,
        ),
    ] = None,
    kwargs: Annotated[
        str | None, typer.Option("--kwargs", help="Keyword arguments as a JSON object.")
    ] = None,
    timezone: Annotated[
        str, typer.Option("--tz", help="IANA time zone the cron is read in, e.g. Europe/Paris.")
    ] = schedules.DEFAULT_TIMEZONE,
    queue: Annotated[
        str | None, typer.Option("--queue", help="Queue, instead of the workflow's own.")
    ] = None,
    catch_up: Annotated[
        schedules.CatchUp,
        typer.Option(
            "--catch-up",
            help="Fires missed while no worker ran: latest starts one run for the most "
            "recent, all one for each, none none.",
        ),
    ] = schedules.DEFAULT_CATCH_UP,
    as_json: AsJSON = False,
    database_url: Database = settings.DEFAULT_DATABASE,
) -> None:
    """Create a schedule, or update the one with this ID: start MODULE:WORKFLOW at every
    fire time of CRON.

    The workers' elected scheduler fires it (`treadle worker` must be running); runs start on
    the workflow version the module defines now. Updating keeps a paused schedule paused.
    """
    config = settings.load(database_url)
    # Everything that can be wrong with the input is found before the database is touched.
    definition = loading.load_workflow(target)
    positional = [] if args is None else loading.parse_json(args, "ARGS_JSON")
    if not isinstance(positional, list):
        raise errors.UsageError(
            f"ARGS_JSON must be a JSON array of arguments such as '[1, \"eu\"]', not {args!r}"
        )
    named = loading.parse_kwargs(kwargs)
    with database.open_engine(config.database, create=True) as engine:
        saved = engine.schedule(
            schedule_id,
            definition,
            cron,
            args=positional,
            kwargs=named,
            timezone=timezone,
            queue=queue,
            catch_up=catch_up,
        )
    if as_json:
        _print(render.dumps(schedule_json(saved)))
        return
    state = "paused" if saved.paused else f"next fire {render.timestamp(saved.next_fire_at)}"
    _print(f"schedule {saved.id}: {saved.workflow} at '{saved.cron}' ({saved.timezone}), {state}")


@app.command(name="list")
def list_(as_json: AsJSON = False, database_url: Database = settings.DEFAULT_DATABASE) -> None:
    """List the schedules, by id, with their next fire time and the last run they started."""
    config = settings.load(database_url)
    with database.open_engine(config.database, create=False) as engine:
        items = engine.list_schedules()
    if as_json:
        _print(render.dumps([schedule_json(item) for item in items]))
        return
    out = render.console(terminal=config.terminal)
    if not items:
        out.print("no schedules")
        return
    out.print(_table(items))


@app.command()
def show(
    schedule_id: ScheduleId,
    as_json: AsJSON = False,
    database_url: Database = settings.DEFAULT_DATABASE,
) -> None:
    """Show a schedule: what it starts, when it fires next, the last run it started."""
    config = settings.load(database_url)
    with database.open_engine(config.database, create=False) as engine:
        item = engine.get_schedule(schedule_id)
    if as_json:
        _print(render.dumps(schedule_json(item)))
        return
    render.console(terminal=config.terminal).print(_detail(item))


@app.command()
def pause(schedule_id: ScheduleId, database_url: Database = settings.DEFAULT_DATABASE) -> None:
    """Stop firing a schedule until it is resumed; the runs it started go on."""
    config = settings.load(database_url)
    with database.open_engine(config.database, create=False) as engine:
        engine.pause_schedule(schedule_id)
    _print(f"paused schedule {schedule_id}")


@app.command()
def resume(schedule_id: ScheduleId, database_url: Database = settings.DEFAULT_DATABASE) -> None:
    """Fire a paused schedule again, from its first fire time after now (missed ones are
    skipped)."""
    config = settings.load(database_url)
    with database.open_engine(config.database, create=False) as engine:
        item = engine.resume_schedule(schedule_id)
    _print(f"resumed schedule {schedule_id}: next fire {render.timestamp(item.next_fire_at)}")


@app.command()
def delete(schedule_id: ScheduleId, database_url: Database = settings.DEFAULT_DATABASE) -> None:
    """Delete a schedule; the runs it started stay."""
    config = settings.load(database_url)
    with database.open_engine(config.database, create=False) as engine:
        engine.delete_schedule(schedule_id)
    _print(f"deleted schedule {schedule_id}")
