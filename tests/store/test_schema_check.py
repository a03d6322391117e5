"""Refusing databases Treadle cannot use, and leaving them untouched."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

import treadle as tr
from treadle import errors
from treadle.store import migrations, urls
from treadle.store.sqlite import SQLiteStore


def test_empty_database_is_outdated(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "empty.db"))
    try:
        with pytest.raises(errors.SchemaOutdatedError, match="treadle migrate"):
            store.check_schema()
    finally:
        store.close()


def test_engine_without_migrate_refuses_an_empty_database(tmp_path: Path) -> None:
    with pytest.raises(errors.SchemaOutdatedError):
        tr.Engine(f"sqlite:///{tmp_path}/empty.db", migrate=False)


def test_older_schema_version_is_outdated(tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    store = SQLiteStore(path)
    try:
        store.migrate()
        connection = sqlite3.connect(path)
        connection.execute("UPDATE treadle_meta SET value = '0' WHERE key = 'schema_version'")
        connection.commit()
        connection.close()
        with pytest.raises(errors.SchemaOutdatedError, match="treadle migrate"):
            store.check_schema()
    finally:
        store.close()


def test_newer_schema_version_is_too_new(tmp_path: Path) -> None:
    path = str(tmp_path / "new.db")
    store = SQLiteStore(path)
    try:
        store.migrate()
        newer = migrations.latest("sqlite") + 1
        connection = sqlite3.connect(path)
        connection.execute(
            "UPDATE treadle_meta SET value = ? WHERE key = 'schema_version'", (str(newer),)
        )
        connection.commit()
        connection.close()
        with pytest.raises(errors.SchemaTooNewError, match="upgrade Treadle"):
            store.check_schema()
        with pytest.raises(errors.SchemaTooNewError):
            store.migrate()
        assert store.schema_version() == newer
    finally:
        store.close()
    with pytest.raises(errors.SchemaTooNewError):
        tr.Engine(f"sqlite:///{path}")


def test_a_text_file_is_not_a_treadle_database_and_stays_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("shopping list\n- milk\n- bread\n" * 50)
    before = path.read_bytes()
    with pytest.raises(errors.NotATreadleDatabaseError, match="not a SQLite database"):
        tr.Engine(f"sqlite:///{path}")
    with pytest.raises(errors.NotATreadleDatabaseError):
        urls.open_store(f"sqlite:///{path}")
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["notes.db"]


def test_another_apps_sqlite_file_is_refused_and_stays_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
    connection.execute("INSERT INTO orders (total) VALUES (9.5)")
    connection.commit()
    connection.close()
    before = path.read_bytes()
    with pytest.raises(errors.NotATreadleDatabaseError, match="orders"):
        tr.Engine(f"sqlite:///{path}")
    assert path.read_bytes() == before
    connection = sqlite3.connect(path)
    try:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master")]
    finally:
        connection.close()
    assert tables == ["orders"]


def test_not_a_treadle_database_is_a_schema_error() -> None:
    assert issubclass(errors.NotATreadleDatabaseError, errors.SchemaError)
    assert issubclass(errors.SchemaError, errors.StoreError)
    assert issubclass(errors.StoreError, errors.TreadleError)
