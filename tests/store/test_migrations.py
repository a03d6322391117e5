"""Schema migrations: create the schema, run at most once, match a fresh install."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from conftest import POSTGRES_ADMIN, run_sql
from treadle.store import migrations, urls

TABLES = {"treadle_meta", "runs", "history", "tasks", "timers"}


def schema_of(url: str) -> set[tuple[str, ...]]:
    """Every table, column, index and constraint, as the database itself describes them."""
    if url.startswith("sqlite:///"):
        rows = run_sql(
            url, "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        )
        return {(kind, name, " ".join((sql or "").split())) for kind, name, sql in rows}
    columns = run_sql(
        url,
        "SELECT 'column', table_name, column_name, data_type, is_nullable, "
        "coalesce(column_default, ''), is_identity FROM information_schema.columns "
        "WHERE table_schema = current_schema()",
    )
    indexes = run_sql(
        url,
        "SELECT 'index', tablename, indexname, indexdef FROM pg_indexes "
        "WHERE schemaname = current_schema()",
    )
    return {tuple(str(value) for value in row) for row in columns + indexes}


def tables_of(url: str) -> set[str]:
    return {row[1] for row in schema_of(url) if row[0] in ("table", "column")}


def meta_of(url: str) -> dict[str, str]:
    return {key: value for key, value in run_sql(url, "SELECT key, value FROM treadle_meta")}


@pytest.fixture
def dialect(backend: str) -> str:
    return backend


@pytest.fixture
def second_empty_db_url(backend: str, empty_db_url: str) -> Iterator[str]:
    """Another empty database beside ``empty_db_url``."""
    if backend == "sqlite":
        yield empty_db_url.replace("empty.db", "stepwise.db")
        return
    name = empty_db_url.rsplit("/", 1)[1] + "_2"
    run_sql(POSTGRES_ADMIN, f"CREATE DATABASE {name}")
    try:
        yield POSTGRES_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        run_sql(POSTGRES_ADMIN, f"DROP DATABASE {name} WITH (FORCE)")


def test_migrations_are_numbered_from_one_without_gaps(dialect: str) -> None:
    versions = [version for version, _ in migrations.scripts(dialect)]
    assert versions == list(range(1, len(versions) + 1))
    assert migrations.latest(dialect) == versions[-1]


def test_both_dialects_have_the_same_versions() -> None:
    assert [v for v, _ in migrations.scripts("sqlite")] == [
        v for v, _ in migrations.scripts("postgres")
    ]


def test_migrate_creates_the_schema(empty_db_url: str, dialect: str) -> None:
    store = urls.open_store(empty_db_url)
    try:
        assert store.schema_version() is None
        before, after = store.migrate()
        assert (before, after) == (0, migrations.latest(dialect))
        assert store.schema_version() == migrations.latest(dialect)
        store.check_schema()
    finally:
        store.close()
    assert tables_of(empty_db_url) >= TABLES
    assert meta_of(empty_db_url)["schema_version"] == str(migrations.latest(dialect))


def test_migrating_twice_is_a_no_op(empty_db_url: str, dialect: str) -> None:
    store = urls.open_store(empty_db_url)
    latest = migrations.latest(dialect)
    try:
        store.migrate()
        schema = schema_of(empty_db_url)
        assert store.migrate() == (latest, latest)
        assert schema_of(empty_db_url) == schema
        assert meta_of(empty_db_url) == {"schema_version": str(latest)}
    finally:
        store.close()
    reopened = urls.open_store(empty_db_url)
    try:
        assert reopened.migrate() == (latest, latest)
    finally:
        reopened.close()
    assert schema_of(empty_db_url) == schema


def test_a_fresh_install_equals_the_migrated_schema(
    empty_db_url: str, second_empty_db_url: str, dialect: str
) -> None:
    store = urls.open_store(empty_db_url)
    try:
        store.migrate()
    finally:
        store.close()

    # Apply every migration one at a time, each in its own session, as upgrades over the
    # releases would.
    stepwise = second_empty_db_url
    for version, script in migrations.scripts(dialect):
        record = (
            "INSERT INTO treadle_meta (key, value) VALUES ('schema_version', "
            f"'{version}') ON CONFLICT (key) DO UPDATE SET value = excluded.value;"
        )
        if dialect == "sqlite":
            connection = sqlite3.connect(stepwise.removeprefix("sqlite:///"))
            try:
                connection.executescript(script + "\n" + record)
            finally:
                connection.close()
        else:
            for statement in [*migrations.statements(script), record]:
                run_sql(stepwise, statement)
    assert schema_of(empty_db_url) == schema_of(stepwise)
    assert meta_of(empty_db_url) == meta_of(stepwise)

    upgraded = urls.open_store(stepwise)
    try:
        upgraded.check_schema()
        latest = migrations.latest(dialect)
        assert upgraded.migrate() == (latest, latest)
    finally:
        upgraded.close()


def test_the_postgres_schema_has_the_tables_and_indexes_of_sqlite() -> None:
    """The dialects may differ in types, never in what exists: same tables, same indexes."""

    def names(dialect: str, keyword: str) -> set[str]:
        found = set()
        for _, script in migrations.scripts(dialect):
            for line in script.splitlines():
                words = line.replace("(", " ").split()
                if keyword in words:
                    found.add(words[words.index(keyword) + 1])
        return found

    for keyword in ("TABLE", "INDEX"):
        assert names("sqlite", keyword) == names("postgres", keyword), keyword
