"""The quick start: a durable workflow on an embedded SQLite database, no server needed.

Run it with `python examples/quickstart.py`; run it again and it finds its earlier run.
"""

from __future__ import annotations

import treadle as tr


@tr.step(retry=tr.Retry(attempts=3, initial=0.1))
def charge(order_id: str, amount: int) -> str:
    return f"receipt-{order_id}-{amount}"


@tr.step
async def pack(item: str) -> str:
    return f"label-{item}"


@tr.workflow
async def fulfil(ctx: tr.Context, order: dict[str, object]) -> dict[str, object]:
    receipt = await ctx.step(charge, str(order["id"]), int(str(order["amount"])))
    items = [str(item) for item in order["items"]]  # type: ignore[attr-defined]
    labels = await ctx.gather(*(ctx.step(pack, item) for item in items))
    return {"receipt": receipt, "labels": labels}


def main() -> None:
    order = {"id": "A-1001", "amount": 4200, "items": ["book", "lamp", "mug"]}
    with tr.Engine("sqlite:///quickstart.db") as engine, engine.worker():
        run_id = engine.start(fulfil, order, id=f"order-{order['id']}")
        print("run", run_id, "->", engine.result(run_id, timeout=30))
        for event in engine.history(run_id):
            print(f"  {event.kind:<16} {event.name or ''}")


if __name__ == "__main__":
    main()
