"""Fan-out and fan-in: one step per item over 200 items, with ``ctx.gather``.

An image pipeline makes a thumbnail of each of 200 images. ``ctx.gather`` runs all the steps
at the same time and returns their results in order. Each result is recorded as it arrives
(many in one database commit), so after a crash only the unfinished thumbnails are made again.

Run it with ``python examples/fan_out.py``.
"""

from __future__ import annotations

import asyncio
import os
import time

import treadle as tr

DATABASE = "fan_out.db"
IMAGES = [f"img-{n:03d}.png" for n in range(200)]


@tr.step
async def thumbnail(name: str) -> int:
    await asyncio.sleep(0.05)  # resizing takes a while
    return len(name) * 1024  # bytes written


@tr.step
def publish(count: int, total_bytes: int) -> str:
    return f"published {count} thumbnails ({total_bytes // 1024} KiB)"


@tr.workflow
async def make_thumbnails(ctx: tr.Context, images: list[str]) -> str:
    sizes = await ctx.gather(*(ctx.step(thumbnail, image) for image in images))
    return await ctx.step(publish, len(sizes), sum(sizes))


def main() -> None:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(DATABASE + suffix):
            os.remove(DATABASE + suffix)
    with tr.Engine(f"sqlite:///{DATABASE}") as engine, engine.worker():
        began = time.monotonic()
        run_id = engine.start(make_thumbnails, IMAGES)
        print(engine.result(run_id, timeout=60))
        elapsed = time.monotonic() - began
        completed = sum(1 for e in engine.history(run_id) if e.kind is tr.EventKind.STEP_COMPLETED)
        print(f"{completed} steps recorded in {elapsed:.2f} s (200 x 0.05 s one by one: 10 s)")


if __name__ == "__main__":
    main()
