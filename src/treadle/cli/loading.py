"""Turning command-line text into Python: app modules, ``MODULE:WORKFLOW``, JSON arguments."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import types
from collections.abc import Sequence
from typing import Any

from treadle import errors
from treadle.runtime import registry

QUOTING_HINT = "quote strings as JSON, e.g. '\"text\"' (single quotes for the shell)"


def _is_path(spec: str) -> bool:
    return spec.endswith(".py") or os.sep in spec or "/" in spec


def import_module(spec: str, *, option: str = "--app") -> types.ModuleType:
    """Import a dotted module name, found from the current folder, or a ``.py`` file."""
    if not spec:
        raise errors.UsageError(f"{option} needs a module name such as 'orders' or a .py file")
    # The console script starts with its own folder on sys.path, not the user's: put the
    # current folder first, as `python -m` does, so `--app orders` finds ./orders.py.
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    path = _existing_file(spec) if _is_path(spec) else None
    try:
        return importlib.import_module(spec) if path is None else _import_file(path)
    except Exception as exc:  # any error in the user's module means it cannot be used
        raise errors.UsageError(
            f"cannot import {option} module {spec!r}: {type(exc).__name__}: {exc}. "
            "Pass a dotted module name importable from the current folder (or PYTHONPATH), "
            "or the path of a .py file."
        ) from exc


def _existing_file(spec: str) -> str:
    path = os.path.abspath(spec)
    if not os.path.isfile(path):
        raise errors.UsageError(f"there is no Python file {spec!r} (looked at {path})")
    return path


def _import_file(path: str) -> types.ModuleType:
    name = os.path.splitext(os.path.basename(path))[0]
    loaded = sys.modules.get(name)
    if loaded is not None and os.path.abspath(getattr(loaded, "__file__", "") or "") == path:
        return loaded
    # Its folder goes on sys.path so the file can import its neighbours, as it would when run.
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def load_workflow(target: str) -> registry.Workflow[..., Any]:
    """The workflow ``MODULE:WORKFLOW`` names: attribute WORKFLOW of module MODULE."""
    module_spec, sep, attribute = target.rpartition(":")
    if not sep or not module_spec or not attribute:
        raise errors.UsageError(
            f"{target!r} does not name a workflow: write MODULE:WORKFLOW, e.g. orders:fulfil"
        )
    module = import_module(module_spec, option="MODULE:WORKFLOW")
    found = getattr(module, attribute, None)
    if isinstance(found, registry.Workflow):
        return found
    defined = sorted(
        name for name, value in vars(module).items() if isinstance(value, registry.Workflow)
    )
    known = ", ".join(defined) or "none"
    if found is None:
        raise errors.UnknownWorkflowError(
            f"module {module_spec!r} has no workflow {attribute!r} (its workflows: {known})"
        )
    raise errors.UnknownWorkflowError(
        f"{target} is a {type(found).__name__}, not a workflow: decorate it with @tr.workflow "
        f"(workflows in {module_spec!r}: {known})"
    )


def parse_json(text: str, what: str) -> Any:
    """Parse one command-line value as JSON, or say how to write it."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise errors.UsageError(
            f"{what} {text!r} is not JSON ({exc.msg}): {QUOTING_HINT}"
        ) from None


def parse_args(values: Sequence[str]) -> list[Any]:
    return [parse_json(value, f"argument {index}") for index, value in enumerate(values, 1)]


def parse_kwargs(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    value = parse_json(text, "--kwargs")
    if not isinstance(value, dict):
        raise errors.UsageError(
            f'--kwargs must be a JSON object such as \'{{"name": "Ada"}}\', not {text!r}'
        )
    return value


def read_calls(path: str) -> list[list[Any] | dict[str, Any]]:
    """The runs' arguments for ``treadle run --each``: one JSON value per line of ``path``
    (``-`` for standard input), an array of positional arguments or an object of keyword
    arguments; blank lines are skipped."""
    try:
        if path == "-":
            lines = sys.stdin.read().splitlines()
        else:
            with open(path, encoding="utf-8") as file:
                lines = file.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise errors.UsageError(f"--each could not read {path!r}: {exc}") from None
    calls: list[list[Any] | dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        value = parse_json(line, f"line {number} of {path}:")
        if not isinstance(value, list | dict):
            raise errors.UsageError(
                f"line {number} of {path} is {line.strip()!r}: each line holds one run's "
                'arguments, a JSON array (["a", 1]) or a JSON object ({"name": "a"})'
            )
        calls.append(value)
    return calls
