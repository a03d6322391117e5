"""The pure model of Treadle: no I/O, no clocks, no asyncio.

Clocks and randomness come in as arguments.
"""

from __future__ import annotations
