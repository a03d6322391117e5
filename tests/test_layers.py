"""Imports go downwards only (DESIGN.md section 4), checked on the source with ast."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "treadle"
STDLIB = set(sys.stdlib_module_names) | {"__future__"}

# Which treadle modules each layer may import (besides the standard library, where noted).
RULES: dict[str, tuple[bool, tuple[str, ...]]] = {
    # layer: (may import third-party packages, treadle modules it may import)
    "core": (False, ("treadle.core", "treadle.errors")),
    "observe": (False, ("treadle.core", "treadle.errors", "treadle.observe")),
    "store": (True, ("treadle.core", "treadle.errors", "treadle.store")),
    "bus": (True, ("treadle.core", "treadle.errors", "treadle.store", "treadle.bus")),
    "accel": (True, ("treadle.core", "treadle.errors", "treadle.accel")),
    "runtime": (
        True,
        ("treadle.core", "treadle.errors", "treadle.store", "treadle.observe", "treadle.runtime"),
    ),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text("utf-8"), str(path))
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target == "treadle":
                # ``from treadle import errors`` imports the submodule ``treadle.errors``.
                found.extend((node.lineno, f"treadle.{alias.name}") for alias in node.names)
            else:
                found.append((node.lineno, target))
    return found


def allowed(layer: str, imported: str) -> bool:
    third_party, internal = RULES[layer]
    top = imported.split(".")[0]
    if top == "treadle":
        return any(imported == m or imported.startswith(m + ".") for m in internal)
    if top in STDLIB:
        return True
    return third_party


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_source_is_found() -> None:
    assert (PACKAGE / "core" / "retry.py") in MODULES


@pytest.mark.parametrize("layer", sorted(name for name in RULES if (PACKAGE / name).exists()))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    folder = PACKAGE / layer
    wrong = [
        f"{path.relative_to(SRC)}:{line} imports {imported}"
        for path in sorted(folder.rglob("*.py"))
        for line, imported in imports_of(path)
        if not allowed(layer, imported)
    ]
    assert wrong == []


def test_core_uses_no_io_or_asyncio() -> None:
    forbidden = {"asyncio", "sqlite3", "socket", "os", "subprocess", "threading", "time"}
    wrong = [
        f"{path.relative_to(SRC)}:{line} imports {imported}"
        for path in sorted((PACKAGE / "core").rglob("*.py"))
        for line, imported in imports_of(path)
        if imported.split(".")[0] in forbidden
    ]
    assert wrong == []


def test_errors_module_imports_only_the_standard_library() -> None:
    wrong = [imported for _, imported in imports_of(PACKAGE / "errors.py")]
    assert all(imported.split(".")[0] in STDLIB for imported in wrong), wrong


def test_the_checker_sees_relative_and_package_imports(tmp_path: Path) -> None:
    # The rule must catch ``from treadle import runtime`` written inside core.
    sample = PACKAGE / "core" / "replay.py"
    names = [imported for _, imported in imports_of(sample)]
    assert "treadle.errors" in names
    assert not allowed("core", "treadle.runtime")
    assert not allowed("core", "treadle.store.sqlite")
    assert not allowed("store", "treadle.runtime.ops")
    assert not allowed("store", "treadle.server")
    assert not allowed("store", "treadle.cli")
    assert not allowed("store", "treadle.bus")
    assert not allowed("runtime", "treadle.server.app")
    assert not allowed("runtime", "treadle.cli")
    assert not allowed("observe", "treadle.store")
    assert not allowed("core", "typer")
    assert allowed("core", "dataclasses")
    assert allowed("runtime", "treadle.observe.metrics")
