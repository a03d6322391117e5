"""Log output for Treadle processes: readable lines for people, JSON lines for machines.

The engine logs to loggers named ``treadle.*`` and passes details such as ``run_id`` as
``extra`` fields; both formats carry those fields, so a log line can be traced to its run.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from typing import Any, TextIO

from treadle import errors

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("human", "json")

# Attributes every LogRecord has; anything else on a record came in through ``extra=``.
_RECORD_FIELDS = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
) | {"message", "asctime", "taskName"}

# Marks the handler ``configure`` installed, so configuring twice replaces it, not doubles it.
_OWNED = "_treadle_owned"


def extras(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` fields of a record (``run_id``, ``step``, ...), in the order given."""
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _RECORD_FIELDS and not key.startswith("_")
    }


class JSONFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message`` and extras."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
        entry: dict[str, Any] = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in extras(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: a log line must never fail because an extra is not JSON.
        return json.dumps(entry, default=str, ensure_ascii=False)


class HumanFormatter(logging.Formatter):
    """``time level logger: message key=value ...`` on one line, for a terminal or a file."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = extras(record)
        if not fields:
            return line
        head, sep, tail = line.partition("\n")  # keep a traceback below the fields
        details = " ".join(f"{key}={value}" for key, value in fields.items())
        return f"{head} {details}{sep}{tail}"


def configure(
    level: str,
    fmt: str,
    *,
    stream: TextIO | None = None,
    human_handler: logging.Handler | None = None,
) -> logging.Handler:
    """Send log records at ``level`` and above to ``stream`` (stderr) in format ``fmt``.

    ``human_handler`` replaces the plain handler of the ``human`` format, so a command line
    can render logs its own way on a terminal. Returns the installed handler. Calling this
    again replaces the handler it installed before.
    """
    if level not in LEVELS:
        raise errors.UsageError(f"unknown log level {level!r}: use one of {', '.join(LEVELS)}")
    if fmt not in FORMATS:
        raise errors.UsageError(f"unknown log format {fmt!r}: use one of {', '.join(FORMATS)}")
    handler: logging.Handler
    if fmt == "human" and human_handler is not None:
        handler = human_handler
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(JSONFormatter() if fmt == "json" else HumanFormatter())
    setattr(handler, _OWNED, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OWNED, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    # The process belongs to the command line, so the root level is ours to set; records of
    # the user's own loggers then show at the same level as Treadle's.
    root.setLevel(level.upper())
    # The connection pool warns at every failed attempt while PostgreSQL is away; the store
    # reports the outage itself, once, and its end.
    logging.getLogger("psycopg.pool").setLevel(max(logging.ERROR, root.level))
    return handler
