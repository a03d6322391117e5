"""Retries: a flaky step retried with backoff, an error that is never retried, and a timeout.

A payment workflow calls three steps:

- ``reserve_stock`` fails twice with a connection error and succeeds on its third attempt,
  thanks to ``tr.Retry(attempts=5, ...)``;
- ``fetch_rate`` hangs on its first attempt; ``timeout=0.3`` ends that attempt with a
  ``tr.StepTimeoutError`` and the retry succeeds;
- ``charge_card`` raises ``CardDeclined``, which its policy lists as ``non_retryable``: it fails
  at once, and the workflow catches the error like any Python exception.

Every attempt is in the run's history. Run it with ``python examples/retries.py``.
"""

from __future__ import annotations

import asyncio
import collections
import os

import treadle as tr

DATABASE = "retries.db"

attempts: collections.Counter[str] = collections.Counter()


class CardDeclined(Exception):
    """The bank refused the card: trying again cannot help."""


@tr.step(retry=tr.Retry(attempts=5, initial=0.1, backoff=2.0))
def reserve_stock(sku: str) -> str:
    attempts["reserve_stock"] += 1
    if attempts["reserve_stock"] < 3:
        raise ConnectionError(
            f"inventory service unreachable (attempt {attempts['reserve_stock']})"
        )
    return f"reservation-{sku}"


@tr.step(retry=tr.Retry(attempts=3, initial=0.1), timeout=0.3)
async def fetch_rate(currency: str) -> float:
    attempts["fetch_rate"] += 1
    if attempts["fetch_rate"] == 1:
        await asyncio.sleep(10)  # a hung connection: the timeout ends this attempt
    return 1.08 if currency == "USD" else 1.0


@tr.step(retry=tr.Retry(attempts=5, initial=0.1, non_retryable=(CardDeclined,)))
def charge_card(card: str, amount: float) -> str:
    attempts["charge_card"] += 1
    if card.endswith("0000"):
        raise CardDeclined(f"card {card} declined")
    return f"charge-{card[-4:]}-{amount:.2f}"


@tr.workflow
async def checkout(ctx: tr.Context, sku: str, card: str, amount: float) -> str:
    reservation = await ctx.step(reserve_stock, sku)
    rate = await ctx.step(fetch_rate, "USD")
    try:
        charge = await ctx.step(charge_card, card, amount * rate)
    except CardDeclined as exc:
        return f"{reservation}: not charged ({exc})"
    return f"{reservation}: {charge}"


def main() -> None:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(DATABASE + suffix):
            os.remove(DATABASE + suffix)
    with tr.Engine(f"sqlite:///{DATABASE}") as engine, engine.worker():
        run_id = engine.start(checkout, "lamp-42", "4111-1111-1111-0000", 25.0)
        print("result:", engine.result(run_id, timeout=30))
        print("attempts per step:", dict(attempts))
        for event in engine.history(run_id):
            if event.kind in (tr.EventKind.STEP_FAILED, tr.EventKind.STEP_COMPLETED):
                error = (event.data or {}).get("error") or {}
                detail = f"{error.get('type', '')}: {error.get('message', '')}" if error else "ok"
                print(f"  {event.name:<14} attempt {event.attempt}  {detail}")
    assert attempts == {"reserve_stock": 3, "fetch_rate": 2, "charge_card": 1}, attempts
    print("the flaky step succeeded on attempt 3, the declined card was tried once")


if __name__ == "__main__":
    main()
