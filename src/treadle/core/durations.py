"""Readable durations, in seconds: ``tr.hours(48)``."""

from __future__ import annotations


def seconds(n: float) -> float:
    return float(n)


def minutes(n: float) -> float:
    return n * 60.0


def hours(n: float) -> float:
    return n * 3600.0


def days(n: float) -> float:
    return n * 86400.0
