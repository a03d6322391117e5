"""Turns a database URL into a store."""

from __future__ import annotations

import urllib.parse

from treadle import errors
from treadle.store.protocol import Store
from treadle.store.sqlite import SQLiteStore

DEFAULT_URL = "sqlite:///treadle.db"


def open_store(url: str) -> Store:
    """Open the store a URL names: ``sqlite:///relative.db``, ``sqlite:////abs/path.db``, or
    ``postgresql://user:password@host:5432/database``.

    ``?synchronous=full`` keeps every commit through a power loss (SQLite) or a server
    crash (PostgreSQL), at the price of waiting for the disk on each; see docs/durability.md.
    Other options of a PostgreSQL URL go to the driver (``?sslmode=require``, ...).
    """
    if not isinstance(url, str) or not url:
        raise errors.UsageError(
            f"the database URL must be a non-empty string such as {DEFAULT_URL!r}, not {url!r}"
        )
    parsed = urllib.parse.urlsplit(url)
    options = dict(urllib.parse.parse_qsl(parsed.query))
    if parsed.scheme == "sqlite":
        path = urllib.parse.unquote(url.split("://", 1)[1].split("?", 1)[0])
        path = path[1:] if path.startswith("/") else path
        if not path:
            raise errors.UsageError(
                f"the SQLite URL {url!r} names no file: write sqlite:///treadle.db for a file "
                "in this folder or sqlite:////var/lib/app/treadle.db for an absolute path"
            )
        unknown = set(options) - {"synchronous"}
        if unknown:
            raise errors.UsageError(
                f"unknown option(s) {', '.join(sorted(unknown))} in {url!r}: "
                "a SQLite URL takes only ?synchronous=normal|full"
            )
        return SQLiteStore(path, synchronous=options.get("synchronous", "normal").lower())
    if parsed.scheme in ("postgresql", "postgres"):
        # Imported here so that SQLite users need not have the PostgreSQL driver.
        from treadle.store.postgres import PostgresStore

        synchronous = options.get("synchronous", "normal").lower()
        query = [(k, v) for k, v in urllib.parse.parse_qsl(parsed.query) if k != "synchronous"]
        dsn = urllib.parse.urlunsplit(parsed._replace(query=urllib.parse.urlencode(query)))
        return PostgresStore(dsn, synchronous=synchronous)
    raise errors.UsageError(
        f"cannot tell which database {url!r} names: use a URL such as {DEFAULT_URL!r}"
    )
