"""Database URLs: what opens a store and what is refused with a clear message."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from treadle import errors
from treadle.store import urls


def pragma(path: str, name: str) -> object:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        connection.close()


def test_absolute_path(tmp_path: Path) -> None:
    store = urls.open_store(f"sqlite:///{tmp_path}/a.db")
    try:
        assert store.path == f"{tmp_path}/a.db"
        assert store.synchronous == "normal"
    finally:
        store.close()
    assert (tmp_path / "a.db").exists()
    assert pragma(str(tmp_path / "a.db"), "journal_mode") == "wal"


def test_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = urls.open_store("sqlite:///relative.db")
    try:
        assert store.path == "relative.db"
    finally:
        store.close()
    assert (tmp_path / "relative.db").exists()


@pytest.mark.parametrize("mode", ["full", "FULL", "normal"])
def test_synchronous_option_is_accepted(tmp_path: Path, mode: str) -> None:
    store = urls.open_store(f"sqlite:///{tmp_path}/s.db?synchronous={mode}")
    try:
        assert store.synchronous == mode.lower()
        row = store._connection.execute("PRAGMA synchronous").fetchone()
        assert next(iter(row.values())) == {"full": 2, "normal": 1}[mode.lower()]
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("mysql://localhost/db", "cannot tell which database"),
        ("treadle.db", "cannot tell which database"),
        ("sqlite://", "names no file"),
        ("sqlite:///", "names no file"),
        ("sqlite:///?synchronous=full", "names no file"),
        ("sqlite:///x.db?cache=shared", "unknown option"),
        ("sqlite:///x.db?synchronous=full&journal=off", "journal"),
        ("sqlite:///x.db?synchronous=off", "synchronous"),
        ("", "non-empty"),
    ],
)
def test_bad_urls_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, match: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(errors.UsageError, match=match):
        urls.open_store(url)
    assert list(tmp_path.iterdir()) == []


def test_non_string_url_is_refused() -> None:
    with pytest.raises(errors.UsageError):
        urls.open_store(None)  # type: ignore[arg-type]


def test_missing_folder_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(errors.DatabaseUnavailableError, match="does not exist"):
        urls.open_store(f"sqlite:///{tmp_path}/no/such/folder/x.db")
