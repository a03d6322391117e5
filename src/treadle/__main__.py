"""``python -m treadle ...`` runs the ``treadle`` command, e.g. to start workers from scripts."""

from __future__ import annotations

from treadle.cli import app

if __name__ == "__main__":
    app.main()
