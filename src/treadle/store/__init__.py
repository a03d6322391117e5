"""Where all state lives: the ``Store`` protocol and its backends."""

from __future__ import annotations
