"""Running a worker in the foreground until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from treadle.runtime.worker import Worker

log = logging.getLogger("treadle.cli")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def serve(worker: Worker, *, on_started: Callable[[], None]) -> None:
    """Run ``worker`` on a new event loop until a stop signal, then let it stop gracefully.

    The first SIGTERM or SIGINT asks the worker to stop claiming and to finish or hand back
    its runs within its grace period; a second one stops waiting and hands them back now.
    """
    asyncio.run(_serve(worker, on_started))


async def _serve(worker: Worker, on_started: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    running = asyncio.ensure_future(worker.run())
    requests: list[signal.Signals] = []

    def on_signal(signum: signal.Signals) -> None:
        requests.append(signum)
        if len(requests) == 1:
            log.info("%s received: stopping the worker (again to stop at once)", signum.name)
            worker.stop()
        else:
            log.warning("%s received again: handing back the runs still executing", signum.name)
            running.cancel()

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        while not worker.wait_started(0) and not running.done():
            await asyncio.sleep(0.01)
        if worker.wait_started(0):
            on_started()
        if requests:
            # Worker.stop() does nothing until run() has set up its loop; a signal that came
            # before that must be passed on now, or the worker would ignore it.
            worker.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
