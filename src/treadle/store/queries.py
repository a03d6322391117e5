"""Loads the named queries of a dialect from ``sql/<dialect>.sql``."""

from __future__ import annotations

import functools
from importlib import resources

from treadle.store.protocol import iter_blocks


@functools.cache
def load(dialect: str) -> dict[str, str]:
    text = resources.files(__package__).joinpath("sql", f"{dialect}.sql").read_text("utf-8")
    return dict(iter_blocks(text))
