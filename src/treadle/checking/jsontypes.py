"""Which Python types JSON can hold: Treadle stores arguments, results and payloads as JSON."""

from __future__ import annotations

import collections.abc
import inspect
import types
import typing
from typing import Any

_JSON_CLASSES = (str, int, float, bool, list, tuple, dict, type(None))
"""What the JSON encoder takes (and their subclasses: str enums, TypedDicts, named tuples)."""

_UNION_ORIGINS = (typing.Union, types.UnionType)


def not_json(hint: Any) -> str | None:
    """The part of type ``hint`` that JSON cannot hold, or None when all of it can.

    Only definite answers count: ``Any``, type variables, protocols, abstract collections and
    anything not understood pass, because a finding must be true.
    """
    if hint is None or hint is Any or hint is object or isinstance(hint, typing.TypeVar):
        return None
    supertype = getattr(hint, "__supertype__", None)
    if supertype is not None:  # typing.NewType
        return not_json(supertype)
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return not_json(typing.get_args(hint)[0])
    if origin is typing.Literal or origin is typing.ClassVar:
        return None
    if origin in _UNION_ORIGINS:
        for arm in typing.get_args(hint):
            culprit = not_json(arm)
            if culprit is not None:
                return culprit
        return None
    if origin is not None:
        culprit = _class_not_json(origin)
        if culprit is not None:
            return culprit
        for argument in typing.get_args(hint):
            if argument is Ellipsis or isinstance(argument, list):
                continue  # tuple[int, ...] and Callable[[...], ...]
            culprit = not_json(argument)
            if culprit is not None:
                return culprit
        return None
    if isinstance(hint, type):
        return _class_not_json(hint)
    return None


def _class_not_json(cls: Any) -> str | None:
    if not isinstance(cls, type) or issubclass(cls, _JSON_CLASSES):
        return None
    if cls is collections.abc.Callable:
        return "Callable"
    if cls.__module__ in ("typing", "collections.abc") or inspect.isabstract(cls):
        return None  # Sequence, Mapping, Iterable...: a list or a dict fits them
    if getattr(cls, "_is_protocol", False):
        return None
    return type_name(cls)


def type_name(hint: Any) -> str:
    if isinstance(hint, type) and typing.get_origin(hint) is None:
        return hint.__qualname__ if hint.__module__ == "builtins" else hint.__name__
    return repr(hint).replace("typing.", "")
