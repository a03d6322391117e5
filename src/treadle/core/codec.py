"""Values cross process boundaries as JSON text; this module is the only place that converts."""

from __future__ import annotations

import json
import traceback
from typing import Any

from treadle import errors

_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_decoder = json.JSONDecoder()


def encode(value: Any, what: str) -> str:
    """Encode ``value`` as JSON, or say which value (``what``) cannot be stored and why."""
    try:
        return _encoder.encode(value)
    except (TypeError, ValueError) as exc:
        raise errors.SerializationError(
            f"{what} cannot be stored: {exc}. Treadle stores values as JSON, so pass "
            "dicts, lists, strings, numbers, booleans or None (convert other objects first, "
            "for example with dataclasses.asdict or str)."
        ) from exc


def decode(text: str | None) -> Any:
    return None if text is None else _decoder.decode(text)


_SCALARS = (str, int, bool, type(None))


def roundtrip(value: Any, what: str) -> tuple[str, Any]:
    """The stored text and the value a replay will see, so live and replayed runs agree."""
    text = encode(value, what)
    if type(value) in _SCALARS:
        return text, value  # JSON gives these back unchanged; skip the decode
    return text, _decoder.decode(text)


def describe_error(exc: BaseException) -> dict[str, Any]:
    """A JSON-ready description of an exception, enough to rebuild it where its type exists."""
    cls = type(exc)
    args: list[Any] = []
    try:
        args = json.loads(_encoder.encode(list(exc.args)))
    except (TypeError, ValueError):
        args = [str(exc)]
    return {
        "type": f"{cls.__module__}.{cls.__qualname__}",
        "message": str(exc),
        "args": args,
        "traceback": "".join(traceback.format_exception(exc)),
    }
