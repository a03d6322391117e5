"""Opening the database the way each command needs: create it, or insist that it exists."""

from __future__ import annotations

import os
import urllib.parse

from treadle import errors
from treadle.runtime.engine import Engine
from treadle.store import urls
from treadle.store.protocol import Store


def sqlite_path(url: str) -> str | None:
    """The file a ``sqlite:///`` URL names, read as ``store.urls.open_store`` reads it."""
    if urllib.parse.urlsplit(url).scheme != "sqlite":
        return None
    path = urllib.parse.unquote(url.split("://", 1)[1].split("?", 1)[0])
    return path[1:] if path.startswith("/") else path


def require_existing(url: str) -> None:
    """Refuse a SQLite URL whose file does not exist, instead of creating an empty database.

    Commands that only read or act on existing runs would otherwise leave a new, empty
    database behind a typo in --database and report "no such run", hiding the real mistake.
    """
    path = sqlite_path(url)
    if path and not os.path.exists(path):
        raise errors.UsageError(
            f"there is no database at {path} (from {url}): check --database or "
            "TREADLE_DATABASE, or create it with `treadle migrate`"
        )


def open_engine(url: str, *, create: bool) -> Engine:
    """An ``Engine``; with ``create`` it makes or upgrades the schema, else the file must exist."""
    if not create:
        require_existing(url)
    return Engine(url, migrate=create)


def open_migrated_store(url: str) -> Store:
    """A store with the current schema, created or upgraded as ``Engine`` does, for workers."""
    store = urls.open_store(url)
    try:
        store.migrate()
        store.check_schema()
    except BaseException:
        store.close()
        raise
    return store


def migrate(url: str) -> tuple[int, int]:
    """Create or upgrade the schema; the schema versions before and after."""
    store = urls.open_store(url)
    try:
        versions = store.migrate()
        store.check_schema()
        return versions
    finally:
        store.close()
