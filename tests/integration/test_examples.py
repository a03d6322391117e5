"""Every script in examples/ runs to completion and prints what it is there to show.

The scripts are found with a glob, so a new example is covered as soon as it is added: it
must exit 0; list a line of its output in ``KEY_LINES`` to check what it prints as well.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

KEY_LINES = {
    "quickstart.py": "run order-A-1001 -> {'receipt': 'receipt-A-1001-4200'",
    "retries.py": "the flaky step succeeded on attempt 3, the declined card was tried once",
    "approval.py": "bob's claim: escalated",
    "child_workflows.py": "after cancelling the parent: parent cancelled, child cancelled",
    "timers.py": "ctx.uuid() and ctx.now() were the same in all 2 executions",
    "sync_workflow.py": "'broken': ['https://example.com/careers'], 'ticket': 'TICKET-1'",
    "fan_out.py": "published 200 thumbnails",
    "retry_failed_run.py": "extract and transform ran once; only load ran again",
    "versioning.py": "run started before the deploy: ['welcomed', 'activated']",
    # The routing transitions fire at once; charge, pack and insure in the order they finish.
    "order_flow.py": "fired in order B-7: begin, validate, multi_choice, gift_wrap.skip, ",
    "order_net.py": "result: shipped {'reservation': 'reservation-42', 'amount': 90, "
    "'reviewed': True}",
    "check_order_net.py": "net fixed_order: 8 markings, 10 edges, bounded, sound workflow net: ok",
    "schedules.py": "while paused: 0 new runs",
    "many_runs.py": "started again: still 300 runs",
}


def test_examples_are_found() -> None:
    found = {path.name for path in EXAMPLES.glob("*.py")}
    assert set(KEY_LINES) <= found, f"missing examples: {set(KEY_LINES) - found}"


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.py")), ids=lambda path: path.name)
def test_example_runs(example: Path, tmp_path: Path) -> None:
    # Each example makes its database in the current folder: give it an empty one.
    done = subprocess.run(
        [sys.executable, str(example)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{example.name} exited {done.returncode}:\n{output}"
    key_line = KEY_LINES.get(example.name)
    if key_line is not None:
        assert key_line in done.stdout, f"{example.name} did not print {key_line!r}:\n{output}"
