"""Run ids: 26 characters, sortable by creation time; user ids are checked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from treadle import errors
from treadle.core import ids

ALPHABET = set("0123456789abcdefghjkmnpqrstvwxyz")
MAX_MILLIS = 2**48 - 1


def test_run_id_is_26_lowercase_crockford_characters() -> None:
    value = ids.run_id(1_700_000_000_000, bytes(range(10)))
    assert len(value) == 26
    assert set(value) <= ALPHABET


def test_run_id_is_deterministic_in_its_inputs() -> None:
    entropy = b"\x01" * 10
    assert ids.run_id(5, entropy) == ids.run_id(5, entropy)
    assert ids.run_id(5, entropy) != ids.run_id(5, b"\x02" * 10)


@pytest.mark.parametrize("entropy", [b"", b"\x00" * 9, b"\x00" * 11])
def test_run_id_needs_ten_bytes_of_entropy(entropy: bytes) -> None:
    with pytest.raises(ValueError, match="10 bytes"):
        ids.run_id(0, entropy)


@given(
    earlier=st.integers(0, MAX_MILLIS - 1),
    gap=st.integers(1, MAX_MILLIS),
    first=st.binary(min_size=10, max_size=10),
    second=st.binary(min_size=10, max_size=10),
)
def test_run_ids_sort_in_time_order(earlier: int, gap: int, first: bytes, second: bytes) -> None:
    later = min(MAX_MILLIS, earlier + gap)
    a, b = ids.run_id(earlier, first), ids.run_id(later, second)
    assert len(a) == len(b) == 26
    assert a < b


@given(millis=st.integers(0, MAX_MILLIS), entropy=st.binary(min_size=10, max_size=10))
def test_run_ids_are_well_formed(millis: int, entropy: bytes) -> None:
    value = ids.run_id(millis, entropy)
    assert len(value) == 26
    assert set(value) <= ALPHABET
    assert ids.check_run_id(value) == value


def test_child_run_id_follows_from_parent_and_position() -> None:
    assert ids.child_run_id("parent", 3) == "parent.3"
    assert ids.child_run_id("parent", 3) == ids.child_run_id("parent", 3)


@pytest.mark.parametrize("value", ["order-A-1001", "x", "a" * 200, "ünïcode", "a.b:c/d"])
def test_check_run_id_accepts_printable_ids(value: str) -> None:
    assert ids.check_run_id(value) == value


@pytest.mark.parametrize(
    "value",
    ["", "a" * 201, "has space", "tab\there", "new\nline", "nul\x00", "bell\x07", None, 42],
)
def test_check_run_id_rejects_bad_ids(value: object) -> None:
    with pytest.raises(errors.UsageError, match="run id"):
        ids.check_run_id(value)  # type: ignore[arg-type]
