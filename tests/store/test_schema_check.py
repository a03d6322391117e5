"""Refusing databases Treadle cannot use, and leaving them untouched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import treadle as tr
from conftest import run_sql
from treadle import errors
from treadle.store import migrations, urls


def test_empty_database_is_outdated(empty_db_url: str) -> None:
    store = urls.open_store(empty_db_url)
    try:
        assert store.schema_version() is None
        with pytest.raises(errors.SchemaOutdatedError, match="treadle migrate"):
            store.check_schema()
    finally:
        store.close()


def test_engine_without_migrate_refuses_an_empty_database(empty_db_url: str) -> None:
    with pytest.raises(errors.SchemaOutdatedError):
        tr.Engine(empty_db_url, migrate=False)


def _set_version(url: str, version: int) -> None:
    run_sql(url, f"UPDATE treadle_meta SET value = '{version}' WHERE key = 'schema_version'")


def test_older_schema_version_is_outdated(empty_db_url: str) -> None:
    store = urls.open_store(empty_db_url)
    try:
        store.migrate()
        _set_version(empty_db_url, 0)
        with pytest.raises(errors.SchemaOutdatedError, match="treadle migrate"):
            store.check_schema()
    finally:
        store.close()


def test_newer_schema_version_is_too_new(empty_db_url: str) -> None:
    store = urls.open_store(empty_db_url)
    try:
        store.migrate()
        newer = migrations.latest(store.dialect) + 1
        _set_version(empty_db_url, newer)
        with pytest.raises(errors.SchemaTooNewError, match="upgrade Treadle"):
            store.check_schema()
        with pytest.raises(errors.SchemaTooNewError):
            store.migrate()
        assert store.schema_version() == newer
    finally:
        store.close()
    with pytest.raises(errors.SchemaTooNewError):
        tr.Engine(empty_db_url)


def test_another_apps_database_is_refused_and_stays_unchanged(empty_db_url: str) -> None:
    store = urls.open_store(empty_db_url)  # creates the SQLite file
    store.close()
    run_sql(empty_db_url, "CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
    run_sql(empty_db_url, "INSERT INTO orders (id, total) VALUES (1, 9.5)")
    with pytest.raises(errors.NotATreadleDatabaseError, match="orders"):
        tr.Engine(empty_db_url)
    with pytest.raises(errors.NotATreadleDatabaseError, match="orders"):
        # SQLite refuses the file on opening, PostgreSQL when first asked about the schema.
        store = urls.open_store(empty_db_url)
        try:
            store.migrate()
        finally:
            store.close()
    assert run_sql(empty_db_url, "SELECT total FROM orders") == [(9.5,)]
    if empty_db_url.startswith("sqlite"):
        tables = "SELECT name FROM sqlite_master"
    else:
        tables = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    assert run_sql(empty_db_url, tables) == [("orders",)]


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


def test_another_apps_sqlite_file_stays_byte_for_byte_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    url = f"sqlite:///{path}"
    run_sql(url, "CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
    before = path.read_bytes()
    with pytest.raises(errors.NotATreadleDatabaseError, match="orders"):
        tr.Engine(url)
    assert path.read_bytes() == before


def test_not_a_treadle_database_is_a_schema_error() -> None:
    assert issubclass(errors.NotATreadleDatabaseError, errors.SchemaError)
    assert issubclass(errors.SchemaError, errors.StoreError)
    assert issubclass(errors.StoreError, errors.TreadleError)
