"""``treadle net``: a running flow or net case's net and marking, and changes to it.

Both commands import the module that registers the workflow (``--app``): the net a run
started with is the registered one, and the changes it went through are in its history.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from treadle import errors
from treadle.cli import database, loading, options, settings
from treadle.core.flows import compiler
from treadle.core.nets import changes, model
from treadle.runtime.nets import client

app = typer.Typer(
    name="net",
    help="Show a running flow or net case, or change its topology.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

Database = options.Database
Apps = Annotated[
    list[str],
    typer.Option(
        "--app",
        help="Module that registers the run's workflow (dotted name or .py file); repeat for more.",
    ),
]
RunId = Annotated[str, typer.Argument(metavar="RUN", help="Run id.")]
AsJSON = options.AsJSON


def _print(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _show(current: client.NetState) -> str:
    marking = model.show_marking(current.marking, current.net.places)
    running = ", ".join(current.running) or "nothing"
    return (
        f"run {current.run_id} ({current.workflow} v{current.version}) {current.status}: "
        f"{current.firings} firings, {current.changes} changes, marking {marking}, "
        f"running {running}\n" + compiler.describe(current.net)
    )


@app.command()
def show(
    run_id: RunId,
    apps: Apps,
    as_json: AsJSON = False,
    database_url: Database = settings.DEFAULT_DATABASE,
) -> None:
    """Print the run's current net (with the changes applied so far) and its marking."""
    config = settings.load(database_url)
    for name in apps:
        loading.import_module(name, option="--app")
    with database.open_engine(config.database, create=False) as engine:
        current = engine.net(run_id)
    _print(json.dumps(client.describe_state(current)) if as_json else _show(current))


@app.command()
def change(
    run_id: RunId,
    apps: Apps,
    file: Annotated[
        typer.FileText,
        typer.Option(
            "--file",
            help='The change as JSON: {"add_places": [...], "add_transitions": [...], '
            '"add_arcs": [...], "remove_...": [...]}; - reads standard input.',
        ),
    ],
    database_url: Database = settings.DEFAULT_DATABASE,
) -> None:
    """Change a running case's net: checked against its current marking first.

    The changed net must pass the analysis from the run's marking (no deadlock, the final
    marking still reachable, bounded); otherwise the findings are printed and nothing is
    sent (exit 2). An accepted change is applied by the run at its next firing boundary.
    """
    config = settings.load(database_url)
    for name in apps:
        loading.import_module(name, option="--app")
    requested = _read_change(file.read(), "standard input" if file.name == "<stdin>" else file.name)
    with database.open_engine(config.database, create=False) as engine:
        current = engine.change_net(run_id, requested)
    _print(f"sent the change to run {run_id}; it applies at the next firing boundary")
    _print(compiler.describe(current.net))


def _read_change(text: str, name: str) -> changes.NetChange:
    """The change a file holds, or a usage error saying what is wrong with the file."""
    where = f"the change file {name}"
    if not text.strip():
        raise errors.UsageError(
            f"{where} is empty: write the change as a JSON object, e.g. "
            '{"add_places": ["reviewed"], "add_arcs": [{"source": "review", "target": '
            '"reviewed"}]}'
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise errors.UsageError(
            f"{where} is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    try:
        return changes.NetChange.from_json(data)
    except errors.InvalidNetError as exc:
        raise errors.InvalidNetError(f"{where}: {exc.message}") from None
