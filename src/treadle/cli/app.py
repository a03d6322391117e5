"""The ``treadle`` command: its options, its sub-commands, and how errors end it."""

from __future__ import annotations

import enum
import logging
import sys
import time
from typing import Annotated

import typer
from rich.logging import RichHandler

from treadle import errors
from treadle.cli import (
    check,
    database,
    exits,
    loading,
    nets,
    options,
    render,
    schedules,
    serving,
    settings,
    waiting,
)
from treadle.core.status import RunStatus
from treadle.observe import logs
from treadle.runtime.engine import Engine
from treadle.runtime.worker import Worker, WorkerOptions

app = typer.Typer(
    name="treadle",
    help="Durable workflows in plain Python: start, follow and operate runs, and run workers.",
    epilog=exits.HELP,
    no_args_is_help=True,
    add_completion=False,
    # Markdown joins wrapped docstring lines into paragraphs and renders `code` and lists.
    rich_markup_mode="markdown",
    pretty_exceptions_show_locals=False,
)

_WORKER_DEFAULTS = WorkerOptions()


class LogFormat(enum.StrEnum):
    HUMAN = "human"  # readable lines; coloured on a terminal
    JSON = "json"  # one JSON object per line, for log collectors


class LogLevel(enum.StrEnum):
    DEBUG = "debug"  # everything, including each claim and commit
    INFO = "info"  # worker start and stop, runs handed back
    WARNING = "warning"  # only what needs attention


Database = options.Database
AsJSON = options.AsJSON


def _print(text: str, *, err: bool = False) -> None:
    # Plain writes, not rich: ids and JSON must reach pipes unwrapped and without markup.
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")
    stream.flush()


def _configure_logs(config: settings.Settings) -> None:
    handler = None
    if config.log_format == LogFormat.HUMAN and sys.stderr.isatty():
        handler = RichHandler(
            console=render.console(terminal=True, stderr=True), show_path=False, markup=False
        )
    logs.configure(config.log_level, config.log_format, human_handler=handler)


# -- workers -----------------------------------------------------------------------------------


@app.command()
def worker(
    apps: Annotated[
        list[str],
        typer.Option(
            "--app",
            help="Module that defines the workflows and steps (dotted name or .py file); "
            "repeat for more.",
        ),
    ],
    database_url: Database = settings.DEFAULT_DATABASE,
    queues: Annotated[
        str, typer.Option("--queues", help="Comma-separated queues to take runs from.")
    ] = ",".join(_WORKER_DEFAULTS.queues),
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="Runs executed at the same time.")
    ] = _WORKER_DEFAULTS.concurrency,
    threads: Annotated[
        int, typer.Option("--threads", help="Threads for sync steps and sync workflows.")
    ] = _WORKER_DEFAULTS.threads,
    lease_seconds: Annotated[
        float,
        typer.Option(
            "--lease-seconds",
            help="How long a claim lasts without a heartbeat; a dead worker's runs move on "
            "after it.",
        ),
    ] = _WORKER_DEFAULTS.lease_seconds,
    poll_interval: Annotated[
        float,
        typer.Option("--poll-interval", help="Longest pause between looks for work (seconds)."),
    ] = _WORKER_DEFAULTS.poll_interval,
    grace_seconds: Annotated[
        float,
        typer.Option(
            "--grace-seconds",
            help="On SIGTERM/SIGINT, how long running runs may take to finish before they are "
            "handed back.",
        ),
    ] = _WORKER_DEFAULTS.grace_seconds,
    log_format: Annotated[
        LogFormat,
        typer.Option(
            "--log-format",
            envvar=settings.ENV_LOG_FORMAT,
            help="human: readable lines; json: one JSON object per line.",
        ),
    ] = LogFormat.HUMAN,
    log_level: Annotated[
        LogLevel,
        typer.Option(
            "--log-level", envvar=settings.ENV_LOG_LEVEL, help="Lowest level of logs shown."
        ),
    ] = LogLevel.INFO,
) -> None:
    """Run a worker: claim runs from the queues and execute them, until SIGTERM or SIGINT.

    Creates or upgrades the database schema first. On SIGTERM or SIGINT the worker stops
    claiming, lets running runs finish within --grace-seconds, hands back the rest, and
    exits 0; a second signal hands them back at once.
    """
    config = settings.load(database_url, log_level=log_level.value, log_format=log_format.value)
    _configure_logs(config)
    for name in apps:
        loading.import_module(name, option="--app")
    options = WorkerOptions(
        queues=tuple(q.strip() for q in queues.split(",") if q.strip()),
        concurrency=concurrency,
        threads=threads,
        lease_seconds=lease_seconds,
        poll_interval=poll_interval,
        grace_seconds=grace_seconds,
    )
    store = database.open_migrated_store(config.database)
    try:
        runner = Worker(store, options=options)
        known = ", ".join(f"{name} v{version}" for name, version in runner.registry.names())
        if not known:
            logging.getLogger("treadle.cli").warning(
                "the --app modules define no workflows (@tr.workflow); this worker has "
                "nothing to run"
            )

        def announce() -> None:
            _print(
                f"worker {runner.id} started: queues {','.join(options.queues)}, "
                f"database {config.database}, workflows {known or 'none'}"
            )

        serving.serve(runner, on_started=announce)
    finally:
        store.close()


# -- starting and following runs -----------------------------------------------------------------


@app.command()
def run(
    target: Annotated[
        str, typer.Argument(metavar="MODULE:WORKFLOW", help="e.g. orders:fulfil or app.py:fulfil")
    ],
    args: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[ARG]...",
            help="Positional arguments, each JSON: 42, '\"text\"', '{\"id\": 1}'.",
            show_default=False,
        ),
    ] = None,
    kwargs: Annotated[
        str | None, typer.Option("--kwargs", help="Keyword arguments as a JSON object.")
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option("--id", help="Run id; starting an id that exists starts nothing again."),
    ] = None,
    queue: Annotated[
        str | None, typer.Option("--queue", help="Queue, instead of the workflow's own.")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the run to finish and print its result.")
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Seconds to wait at most (implies --wait); exit 3 after."),
    ] = None,
    each: Annotated[
        str | None,
        typer.Option(
            "--each",
            metavar="FILE",
            help="Start a run per line of FILE (- for standard input), all at once: each "
            "line a JSON array of positional arguments or a JSON object of keyword arguments.",
        ),
    ] = None,
    as_json: AsJSON = False,
    database_url: Database = settings.DEFAULT_DATABASE,
) -> None:
    """Start a run of a workflow and print its id; with --wait, print its result.

    A worker must be running elsewhere (`treadle worker --app MODULE`) to execute the run;
    this command only records it. With --wait it follows the run, then prints the result as
    JSON and exits 0, or prints the error and exits 1 if the run failed, was cancelled or
    timed out. With --json it prints one JSON object: the run (all fields once finished).
    With --each it starts one run per line of a file in one transaction and prints their
    ids, one per line (--json: a JSON array).
    """
    config = settings.load(database_url)
    _configure_logs(config)
    if timeout is not None and timeout <= 0:
        raise errors.UsageError(f"--timeout must be a number of seconds > 0, not {timeout}")
    wait = wait or timeout is not None
    # Everything that can be wrong with the input is found before the database is touched.
    definition = loading.load_workflow(target)
    if each is not None:
        if args or kwargs is not None or run_id is not None or wait:
            raise errors.UsageError(
                "--each reads every run's arguments from its file: give it no ARG, --kwargs, "
                "--id, --wait or --timeout"
            )
        calls = loading.read_calls(each)
        with database.open_engine(config.database, create=True) as engine:
            started_all = engine.start_many(definition, calls, queue=queue)
        if as_json:
            _print(render.dumps(started_all))
        elif started_all:
            _print("\n".join(started_all))
        return
    positional = loading.parse_args(args or [])
    named = loading.parse_kwargs(kwargs)
    with database.open_engine(config.database, create=True) as engine:
        existed = run_id is not None and _exists(engine, run_id)
        started = engine.start(definition, *positional, id=run_id, queue=queue, **named)
        if existed:
            _print(f"run {started} exists already; nothing new was started", err=True)
        if not wait:
            if as_json:
                _print(render.dumps(render.run_json(engine.get(started))))
            else:
                _print(started)
            return
        if not as_json:
            _print(started)
        live = render.console(terminal=True, stderr=True) if sys.stderr.isatty() else None
        try:
            info = waiting.follow(engine, started, timeout=timeout, console=live)
        except KeyboardInterrupt:
            _print(f"stopped waiting; run {started} goes on (`treadle show {started}`)", err=True)
            raise typer.Exit(130) from None
    if as_json:
        _print(render.dumps(render.run_json(info)))
    elif info.status is RunStatus.SUCCEEDED:
        _print(render.dumps(info.result, pretty=config.terminal))
    if info.status is not RunStatus.SUCCEEDED:
        _print(
            f"error: run {info.id} ({info.workflow}) {info.status}: "
            f"{render.error_line(info.error)}",
            err=True,
        )
        raise typer.Exit(exits.ExitCode.RUN_DID_NOT_SUCCEED)


def _exists(engine: Engine, run_id: str) -> bool:
    try:
        engine.get(run_id)
    except errors.RunNotFoundError:
        return False
    return True


# -- inspecting --------------------------------------------------------------------------------


@app.command()
def runs(
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="pending, running, waiting, succeeded, failed, cancelled or timed_out.",
        ),
    ] = None,
    workflow: Annotated[str | None, typer.Option("--workflow", help="Workflow name.")] = None,
    parent: Annotated[
        str | None, typer.Option("--parent", help="Only the child runs of this run.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Runs per page.")] = 50,
    before: Annotated[
        str | None, typer.Option("--before", help="Cursor printed below the previous page.")
    ] = None,
    as_json: AsJSON = False,
    database_url: Database = settings.DEFAULT_DATABASE,
) -> None:
    """List runs, newest first.

    With --json, prints a JSON array of runs; the next page's cursor, when there is one,
    goes to standard error.
    """
    config = settings.load(database_url)
    _configure_logs(config)
    with database.open_engine(config.database, create=False) as engine:
        page = engine.list(
            status=status, workflow=workflow, parent=parent, limit=limit, before=before
        )
    more = f"more: treadle runs --before {page.next_cursor}" if page.next_cursor else None
    if as_json:
        _print(render.dumps([render.run_json(info) for info in page.runs]))
        if more:
            _print(more, err=True)
        return
    out = render.console(terminal=config.terminal)
    if not page.runs:
        out.print("no runs" + (" match these filters" if status or workflow or parent else ""))
        return
    out.print(render.runs_table(page.runs, now=time.time()))
    if more:
        out.print(more, markup=False)


@app.command()
def show(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id.")],
    as_json: AsJSON = False,
    database_url: Database = settings.DEFAULT_DATABASE,
) -> None:
    """Show a run (its fields, result or error) and its history.

    With --json, prints {"run": {...}, "history": [...]}.
    """
    config = settings.load(database_url)
    _configure_logs(config)
    with database.open_engine(config.database, create=False) as engine:
        info = engine.get(run_id)
        events = engine.history(run_id)
    if as_json:
        _print(
            render.dumps(
                {"run": render.run_json(info), "history": [render.event_json(e) for e in events]}
            )
        )
        return
    out = render.console(terminal=config.terminal)
    out.print(render.run_detail(info, now=time.time()))
    out.print()
    out.print("history", style="bold", markup=False)
    out.print(render.history_table(events, width=out.width))


# -- acting on runs ----------------------------------------------------------------------------


@app.command()
def signal(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id.")],
    name: Annotated[str, typer.Argument(metavar="NAME", help="Signal name.")],
    payload: Annotated[
        str | None,
        typer.Argument(metavar="[PAYLOAD_JSON]", help="Payload as JSON, e.g. '{\"ok\": true}'."),
    ] = None,
    database_url: Database = settings.DEFAULT_DATABASE,
) -> None:
    """Send a signal to a run; a run waiting for it (now or later) receives the payload."""
    config = settings.load(database_url)
    _configure_logs(config)
    value = None if payload is None else loading.parse_json(payload, "the payload")
    with database.open_engine(config.database, create=False) as engine:
        engine.signal(run_id, name, value)
    _print(f"sent signal {name!r} to run {run_id}")


@app.command()
def cancel(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id.")],
    database_url: Database = settings.DEFAULT_DATABASE,
) -> None:
    """Cancel a run that has not finished, and its unfinished child runs."""
    config = settings.load(database_url)
    _configure_logs(config)
    with database.open_engine(config.database, create=False) as engine:
        engine.cancel(run_id)
    _print(f"cancelled run {run_id}")


@app.command()
def retry(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id.")],
    database_url: Database = settings.DEFAULT_DATABASE,
) -> None:
    """Send a failed or timed-out run back to work; it resumes from its failed step."""
    config = settings.load(database_url)
    _configure_logs(config)
    with database.open_engine(config.database, create=False) as engine:
        engine.retry(run_id)
    _print(f"run {run_id} is pending again; a worker resumes it from its failed step")


# -- the database ------------------------------------------------------------------------------


@app.command()
def migrate(database_url: Database = settings.DEFAULT_DATABASE) -> None:
    """Create the database schema, or upgrade it to this Treadle's version."""
    config = settings.load(database_url)
    _configure_logs(config)
    before, after = database.migrate(config.database)
    if before == after:
        _print(f"{config.database}: schema version {after}, up to date")
    else:
        _print(f"{config.database}: schema version {before} -> {after}")


# -- checking definitions ----------------------------------------------------------------------

app.command(name="check", epilog=check.HELP)(check.command)

# -- running flows and nets --------------------------------------------------------------------

app.add_typer(nets.app, name="net")

# -- cron schedules ----------------------------------------------------------------------------

app.add_typer(schedules.app, name="schedule")


def main() -> None:
    """The console script: run the command, and turn Treadle errors into one line and a code."""
    try:
        app(prog_name="treadle")
    except errors.TreadleError as exc:
        _print(f"error: {exc.message}", err=True)
        sys.exit(exits.code_for(exc))
