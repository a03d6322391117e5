"""Where the Model Checking Contest nets live, and their reference figures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

FOLDER = Path(__file__).resolve().parents[3] / "shared" / "mcc"


def folder() -> Path:
    """The MCC folder; CI must have it, so there a missing folder fails instead of skipping."""
    if not (FOLDER / "oracle.json").exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{FOLDER} is missing: CI checks out shared/ beside the clone")
        pytest.skip(f"{FOLDER} is missing")
    return FOLDER


def oracle() -> dict[str, dict[str, int]]:
    figures: dict[str, dict[str, int]] = json.loads((folder() / "oracle.json").read_text())
    return figures


NAMES = sorted(path.stem for path in FOLDER.glob("*.pnml")) or ["(missing)"]
