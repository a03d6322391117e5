"""Many runs at once: a night's invoices started with one ``engine.start_many`` call.

A billing job has an invoice to send for each of 300 customers. ``engine.start_many`` starts
a run per invoice in one transaction, so the 300 runs cost one round trip and one commit, not
300, and either all of them are started or none is. Each run is named by its invoice, so
running the job twice starts nothing new: the ids that exist keep their runs.

Run it with ``python examples/many_runs.py``.
"""

from __future__ import annotations

import os
import time

import treadle as tr

DATABASE = "many_runs.db"
CUSTOMERS = [f"customer-{n:03d}" for n in range(300)]


@tr.step
def render(customer: str, month: str) -> str:
    return f"invoice for {customer}, {month}"


@tr.step
def send(customer: str, document: str) -> str:
    return f"sent to {customer}: {len(document)} bytes"


@tr.workflow
async def invoice(ctx: tr.Context, customer: str, month: str) -> str:
    document = await ctx.step(render, customer, month)
    return await ctx.step(send, customer, document)


def main() -> None:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(DATABASE + suffix):
            os.remove(DATABASE + suffix)
    month = "2026-11"
    calls = [{"customer": customer, "month": month} for customer in CUSTOMERS]
    ids = [f"invoice-{month}-{customer}" for customer in CUSTOMERS]
    with tr.Engine(f"sqlite:///{DATABASE}") as engine:
        began = time.monotonic()
        run_ids = engine.start_many(invoice, calls, ids=ids)
        print(f"started {len(run_ids)} runs in {time.monotonic() - began:.3f} s")
        # The job runs again (a retry after a crash, say): every id exists, nothing new starts.
        assert engine.start_many(invoice, calls, ids=ids) == run_ids
        print(f"started again: still {engine.counts()['pending']} runs")
        # A bad call is refused before anything is stored.
        try:
            engine.start_many(invoice, [{"customer": "late"}], ids=["invoice-late"])
        except tr.UsageError as exc:
            print(f"refused: {exc}".split(". Its signature")[0])
        with engine.worker():
            results = [engine.result(run_id, timeout=60) for run_id in run_ids]
    print(results[0])
    print(f"{sum(result.startswith('sent') for result in results)} invoices sent")


if __name__ == "__main__":
    main()
