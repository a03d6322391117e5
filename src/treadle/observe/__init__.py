"""Observability: structured logs (traces and metrics join them here later).

May import only the standard library, ``treadle.core`` and ``treadle.errors``: the runtime
imports this layer, so it must not import the runtime back.
"""

from __future__ import annotations
