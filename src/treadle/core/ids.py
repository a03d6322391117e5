"""Run ids: sortable by creation time, so paging by id is paging by age."""

from __future__ import annotations

from treadle import errors

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lowercase


def run_id(millis: int, entropy: bytes) -> str:
    """A 26-character id: 48 bits of milliseconds then 80 bits of ``entropy`` (10 bytes)."""
    if len(entropy) != 10:
        raise ValueError("a run id needs 10 bytes of entropy")
    number = (millis & (2**48 - 1)) << 80 | int.from_bytes(entropy, "big")
    out = []
    for _ in range(26):
        number, digit = divmod(number, 32)
        out.append(_ALPHABET[digit])
    return "".join(reversed(out))


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
