"""What the environment tells the command: built once per command, then passed inwards."""

from __future__ import annotations

import dataclasses
import sys

from treadle import errors
from treadle.observe import logs
from treadle.store import urls

ENV_DATABASE = "TREADLE_DATABASE"
ENV_LOG_LEVEL = "TREADLE_LOG_LEVEL"
ENV_LOG_FORMAT = "TREADLE_LOG_FORMAT"
DEFAULT_DATABASE = urls.DEFAULT_URL


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    """The settings of one ``treadle`` command, from its options and environment variables."""

    database: str = DEFAULT_DATABASE
    """Database URL, from ``--database`` or ``TREADLE_DATABASE``."""
    log_level: str = "warning"
    """Lowest level of log records shown: debug, info, warning or error."""
    log_format: str = "human"
    """``human`` lines, or ``json`` objects one per line for log collectors."""
    terminal: bool = False
    """Whether standard output is a terminal: spinners and colours only for people."""

    def __post_init__(self) -> None:
        self._validate()

    def _validate(self) -> None:
        if not self.database:
            raise errors.UsageError(
                f"--database (or {ENV_DATABASE}) is empty: give a URL such as {DEFAULT_DATABASE!r}"
            )
        if self.log_level not in logs.LEVELS:
            raise errors.UsageError(
                f"unknown log level {self.log_level!r}: use one of {', '.join(logs.LEVELS)}"
            )
        if self.log_format not in logs.FORMATS:
            raise errors.UsageError(
                f"unknown log format {self.log_format!r}: use one of {', '.join(logs.FORMATS)}"
            )


def load(database: str, *, log_level: str = "warning", log_format: str = "human") -> Settings:
    """Settings from a command's options; typer has already applied the environment variables."""
    return Settings(
        database=database,
        log_level=log_level,
        log_format=log_format,
        terminal=sys.stdout.isatty(),
    )
