"""The ``treadle`` command: the one place that reads the environment and the terminal.

Everything below it takes keyword arguments; ``cli.settings.Settings`` carries what the
environment said inwards.
"""

from __future__ import annotations
