"""Retrying a failed run: fix the cause, then resume from the failed step.

A nightly ETL run extracts and transforms the day's orders, then fails to load them because
the warehouse is down: the ``load`` step's attempts run out and the run ends ``failed``.
A failed run stays in the database with its history. Once the warehouse is back,
``engine.retry(run_id)`` (or ``treadle retry RUN_ID``) sends it back to work: the earlier
steps return their recorded results without running again, and only ``load`` is tried anew.

Run it with ``python examples/retry_failed_run.py``.
"""

from __future__ import annotations

import collections
import os

import treadle as tr

DATABASE = "retry_failed_run.db"

calls: collections.Counter[str] = collections.Counter()
warehouse_online = False


class WarehouseDown(Exception):
    """The data warehouse refused the connection."""


@tr.step
def extract(day: str) -> list[dict[str, int]]:
    calls["extract"] += 1
    return [{"order": n, "cents": 1000 + n} for n in range(5)]


@tr.step
def transform(rows: list[dict[str, int]]) -> list[dict[str, float]]:
    calls["transform"] += 1
    return [{"order": row["order"], "euros": row["cents"] / 100} for row in rows]


@tr.step(retry=tr.Retry(attempts=2, initial=0.1))
def load(rows: list[dict[str, float]]) -> int:
    calls["load"] += 1
    if not warehouse_online:
        raise WarehouseDown("connection refused by warehouse:5439")
    return len(rows)


@tr.workflow
async def nightly_etl(ctx: tr.Context, day: str) -> str:
    rows = await ctx.step(extract, day)
    cleaned = await ctx.step(transform, rows)
    loaded = await ctx.step(load, cleaned)
    return f"{day}: loaded {loaded} rows"


def main() -> None:
    global warehouse_online
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(DATABASE + suffix):
            os.remove(DATABASE + suffix)
    with tr.Engine(f"sqlite:///{DATABASE}") as engine, engine.worker():
        run_id = engine.start(nightly_etl, "2024-03-01")
        try:
            engine.result(run_id, timeout=30)
        except tr.RunFailedError as exc:
            print(f"run {engine.get(run_id).status}: {exc.error_type}")
        print("calls so far:", dict(calls))

        warehouse_online = True  # the on-call engineer restarts the warehouse
        engine.retry(run_id)
        print("after retry:", engine.result(run_id, timeout=30))
        print("calls in total:", dict(calls))
    assert calls == {"extract": 1, "transform": 1, "load": 3}, calls
    print("extract and transform ran once; only load ran again")


if __name__ == "__main__":
    main()
