"""The engine: client, replay of durable functions, workers and the scheduler."""

from __future__ import annotations
