"""Run ids: sortable by creation time, so paging by id is paging by age."""

from __future__ import annotations

import base64

from treadle import errors

# base32hex keeps the byte order in the text order; mapped onto Crockford's lowercase
# alphabet (no i, l, o, u), which keeps that order too.
_CROCKFORD = str.maketrans("0123456789ABCDEFGHIJKLMNOPQRSTUV", "0123456789abcdefghjkmnpqrstvwxyz")


def run_id(millis: int, entropy: bytes) -> str:
    """A 26-character id: 48 bits of milliseconds then 80 bits of ``entropy`` (10 bytes)."""
    if len(entropy) != 10:
        raise ValueError("a run id needs 10 bytes of entropy")
    raw = (millis & (2**48 - 1)).to_bytes(6, "big") + entropy
    return base64.b32hexencode(raw)[:26].decode("ascii").translate(_CROCKFORD)


def child_run_id(parent_id: str, position: int) -> str:
    """A child's id follows from its parent and call position, so a replay finds the same child."""
    return f"{parent_id}.{position}"


def check_run_id(value: str) -> str:
    """User-chosen ids are printable and short enough for any index and any URL."""
    if not isinstance(value, str) or not value:
        raise errors.UsageError(f"a run id must be a non-empty string, not {value!r}")
    if len(value) > 200:
        raise errors.UsageError(f"a run id must be at most 200 characters, not {len(value)}")
    if not value.isprintable() or any(ch.isspace() for ch in value):
        raise errors.UsageError(
            f"a run id must be printable and contain no white space, not {value!r}"
        )
    return value
