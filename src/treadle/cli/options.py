"""Command-line options that several ``treadle`` commands share."""

from __future__ import annotations

from typing import Annotated

import typer

from treadle.cli import settings

Database = Annotated[
    str,
    typer.Option(
        "--database",
        envvar=settings.ENV_DATABASE,
        help="Database URL, e.g. sqlite:///treadle.db or sqlite:////abs/path.db.",
        show_envvar=True,
    ),
]
AsJSON = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of text.")]
