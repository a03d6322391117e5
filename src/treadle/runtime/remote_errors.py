"""Errors recorded in one process, raised again in another.

A failure is stored as JSON (its type's dotted name, message, arguments, traceback). Raising
it again looks the type up by name: the same code, live or on replay, client or worker,
gets the same type to catch.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

from treadle import errors


@functools.cache
def find_type(type_name: str) -> type[Exception] | None:
    """The exception class a dotted name refers to, if this process can import it."""
    module_name, _, qualname = type_name.rpartition(".")
    if not module_name:
        return None
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except Exception:  # not importable here: the caller falls back to a description
        return None
    if isinstance(target, type) and issubclass(target, Exception):
        return target
    return None


def step_error(error: dict[str, Any], step: str) -> Exception:
    """The exception a recorded step failure describes, or ``StepFailedError`` if it cannot
    be built again here."""
    type_name = error.get("type", "")
    found = find_type(type_name)
    if found is not None:
        try:
            return found(*error.get("args", []))
        except Exception:  # its constructor wants something else: describe it instead
            pass
    return errors.StepFailedError(
        f"step {step!r} failed with {type_name}: {error.get('message', '')}",
        error_type=type_name,
        step=step,
    )


_FAILED_AS: dict[type[Exception], type[errors.RunFailedError]] = {}


def _failed_as(original: type[Exception]) -> type[errors.RunFailedError]:
    # A RunFailedError that is also an instance of the run's own error type, so that both
    # ``except tr.RunFailedError`` and ``except InsufficientFunds`` catch it.
    made = _FAILED_AS.get(original)
    if made is None:
        made = _FAILED_AS[original] = type(
            f"RunFailedError[{original.__qualname__}]",
            (errors.RunFailedError, original),
            # Recorded (and imported again) under the public name: treadle.RunFailedError.
            {"__module__": "treadle", "__qualname__": "RunFailedError"},
        )
    return made


def run_failed(run_id: str, error: dict[str, Any], message: str) -> errors.RunFailedError:
    """The ``RunFailedError`` for a failed run, of the run's own error type too when it can."""
    fields = {
        "run_id": run_id,
        "error_type": error.get("type", ""),
        "remote_traceback": error.get("traceback", ""),
    }
    original = find_type(error.get("type", ""))
    if original is not None and not issubclass(original, errors.TreadleError):
        try:
            return _failed_as(original)(message, **fields)
        except Exception:  # incompatible layout or constructor: the plain error will do
            pass
    return errors.RunFailedError(message, **fields)
