"""Schema migrations: numbered SQL files per dialect, applied in order, each exactly once."""

from __future__ import annotations

from importlib import resources


def scripts(dialect: str) -> list[tuple[int, str]]:
    """``(version, sql)`` for every migration of ``dialect``, oldest first."""
    folder = resources.files(__package__).joinpath(dialect)
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text("utf-8")))
    return sorted(found)


def latest(dialect: str) -> int:
    return scripts(dialect)[-1][0]
