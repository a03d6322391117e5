"""The JSON codec: what can be stored, what cannot, and how errors are described."""

from __future__ import annotations

import datetime
import math

import pytest

from treadle import errors
from treadle.core import codec


def test_encode_names_the_value_and_says_json() -> None:
    with pytest.raises(errors.SerializationError) as caught:
        codec.encode({"when": datetime.date(2024, 1, 1)}, "the result of step 'charge'")
    message = str(caught.value)
    assert "the result of step 'charge'" in message
    assert "JSON" in message
    assert isinstance(caught.value, errors.UsageError)
    assert isinstance(caught.value.__cause__, TypeError)


@pytest.mark.parametrize("value", [math.nan, math.inf, {1, 2}, object(), b"bytes"])
def test_values_json_cannot_hold_are_refused(value: object) -> None:
    with pytest.raises(errors.SerializationError, match="the payload"):
        codec.encode(value, "the payload")


def test_encode_is_compact_and_keeps_unicode() -> None:
    assert codec.encode({"a": [1, 2], "b": "é"}, "x") == '{"a":[1,2],"b":"é"}'


def test_decode_none_is_none() -> None:
    assert codec.decode(None) is None
    assert codec.decode("null") is None


@pytest.mark.parametrize(
    "value",
    [None, True, 0, -3, 1.5, "text", [], {}, {"nested": {"list": [1, "two", None, 3.25]}}],
)
def test_roundtrip_keeps_json_values(value: object) -> None:
    text, back = codec.roundtrip(value, "x")
    assert back == value
    assert codec.decode(text) == value


def test_roundtrip_gives_what_a_replay_will_see() -> None:
    text, back = codec.roundtrip({"t": (1, 2), 3: "int key"}, "x")
    assert back == {"t": [1, 2], "3": "int key"}
    assert codec.decode(text) == back


def test_describe_error_names_type_message_args_and_traceback() -> None:
    try:
        raise ValueError("bad amount", 42)
    except ValueError as exc:
        described = codec.describe_error(exc)
    assert described["type"] == "builtins.ValueError"
    assert described["message"] == "('bad amount', 42)"
    assert described["args"] == ["bad amount", 42]
    assert "ValueError" in described["traceback"]
    assert "test_describe_error_names_type_message_args_and_traceback" in described["traceback"]
    codec.encode(described, "the description")  # it is JSON itself


class _Custom(Exception):
    pass


def test_describe_error_uses_the_qualified_type_name() -> None:
    described = codec.describe_error(_Custom("x"))
    assert described["type"] == f"{__name__}._Custom"
    assert described["message"] == "x"


def test_describe_error_with_arguments_json_cannot_hold() -> None:
    described = codec.describe_error(KeyError(object()))
    assert described["type"] == "builtins.KeyError"
    assert len(described["args"]) == 1
    assert isinstance(described["args"][0], str)
    codec.encode(described, "the description")
