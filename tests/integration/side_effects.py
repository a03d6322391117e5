"""A counter of side effects outside Treadle's database, shared by the runtime tests.

Steps call ``count(key)`` with a key unique to their test, so tests can assert how often a
step really ran (as opposed to how often its result was recorded).
"""

from __future__ import annotations

import collections
import threading

_lock = threading.Lock()
CALLS: collections.Counter[str] = collections.Counter()


def count(key: str) -> int:
    """Count one execution under ``key``; return how many there have been."""
    with _lock:
        CALLS[key] += 1
        return CALLS[key]
