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


def statements(script: str) -> list[str]:
    """The statements of a migration script, in order (each ends with ``;`` at a line end)."""
    found: list[str] = []
    pending: list[str] = []
    for line in script.splitlines():
        if line.strip().startswith("--") and not pending:
            continue
        pending.append(line)
        if line.rstrip().endswith(";"):
            found.append("\n".join(pending).strip())
            pending = []
    if any(line.strip() and not line.strip().startswith("--") for line in pending):
        raise ValueError(f"a migration ends in an unfinished statement: {pending!r}")
    return found
