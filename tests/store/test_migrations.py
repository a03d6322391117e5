"""Schema migrations: create the schema, run at most once, match a fresh install."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from treadle.store import migrations
from treadle.store.sqlite import SQLiteStore

TABLES = {"treadle_meta", "runs", "history", "tasks", "timers"}


def schema_of(path: str) -> set[tuple[str, str, str]]:
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchall()
    finally:
        connection.close()
    return {(kind, name, " ".join((sql or "").split())) for kind, name, sql in rows}


def meta_of(path: str) -> dict[str, str]:
    connection = sqlite3.connect(path)
    try:
        return dict(connection.execute("SELECT key, value FROM treadle_meta").fetchall())
    finally:
        connection.close()


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [version for version, _ in migrations.scripts("sqlite")]
    assert versions == list(range(1, len(versions) + 1))
    assert migrations.latest("sqlite") == versions[-1]


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    path = str(tmp_path / "m.db")
    store = SQLiteStore(path)
    try:
        assert store.schema_version() is None
        before, after = store.migrate()
        assert (before, after) == (0, migrations.latest("sqlite"))
        assert store.schema_version() == migrations.latest("sqlite")
        store.check_schema()
    finally:
        store.close()
    tables = {name for kind, name, _ in schema_of(path) if kind == "table"}
    assert tables >= TABLES
    assert meta_of(path)["schema_version"] == str(migrations.latest("sqlite"))


def test_migrating_twice_is_a_no_op(tmp_path: Path) -> None:
    path = str(tmp_path / "m.db")
    store = SQLiteStore(path)
    try:
        store.migrate()
        schema = schema_of(path)
        latest = migrations.latest("sqlite")
        assert store.migrate() == (latest, latest)
        assert schema_of(path) == schema
        assert meta_of(path) == {"schema_version": str(latest)}
    finally:
        store.close()
    reopened = SQLiteStore(path)
    try:
        assert reopened.migrate() == (latest, latest)
    finally:
        reopened.close()
    assert schema_of(path) == schema


def test_a_fresh_install_equals_the_migrated_schema(tmp_path: Path) -> None:
    fresh = str(tmp_path / "fresh.db")
    store = SQLiteStore(fresh)
    try:
        store.migrate()
    finally:
        store.close()

    # Apply every migration one at a time, each in its own session, as upgrades over the
    # releases would.
    stepwise = str(tmp_path / "stepwise.db")
    for version, script in migrations.scripts("sqlite"):
        connection = sqlite3.connect(stepwise)
        try:
            connection.executescript(
                script + "\nINSERT INTO treadle_meta (key, value) VALUES ('schema_version', "
                f"'{version}') ON CONFLICT (key) DO UPDATE SET value = excluded.value;"
            )
        finally:
            connection.close()
    assert schema_of(fresh) == schema_of(stepwise)
    assert meta_of(fresh) == meta_of(stepwise)

    upgraded = SQLiteStore(stepwise)
    try:
        upgraded.check_schema()
        latest = migrations.latest("sqlite")
        assert upgraded.migrate() == (latest, latest)
    finally:
        upgraded.close()
