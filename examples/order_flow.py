"""An order as a flow: tasks with dependencies, a choice, an or-join, a map over the items.

Run it with `python examples/order_flow.py`. It prints the net the flow compiles to, runs two
orders (a big one and a small one) and shows which transitions fired in the big one.
"""

from __future__ import annotations

from typing import Any

import treadle as tr


@tr.step
def validate(order: dict[str, Any]) -> dict[str, Any]:
    if not order["items"]:
        raise ValueError("an order needs items")
    return order


@tr.step(retry=tr.Retry(attempts=5, initial=0.1))
def charge(order: dict[str, Any]) -> str:
    return f"receipt-{order['id']}"


@tr.step
def pack(item: str) -> str:
    return f"label-{item}"


@tr.step
def insure(order: dict[str, Any]) -> str:
    return f"policy-{order['id']}"


@tr.step
def gift_wrap(order: dict[str, Any]) -> str:
    return "wrapped"


@tr.step
def ship(receipt: str, labels: list[str], extras: dict[str, Any]) -> dict[str, Any]:
    return {"receipt": receipt, "labels": labels, **extras}


@tr.step
def extras(policy: str | None, wrapping: str | None) -> dict[str, Any]:
    # An or-join gets one argument per branch, None for a branch that was not taken.
    return {"policy": policy, "wrapping": wrapping}


flow = tr.Flow("order_flow")
checked = flow.task(validate)
receipt = flow.task(charge, after=checked, timeout=10)
labels = flow.map(pack, over=lambda order: order["items"], after=checked)
options = flow.multi_choice(after=checked)
policy = flow.task(insure, after=options.when(lambda o: o["amount"] >= 1000, name="valuable"))
wrapping = flow.task(gift_wrap, after=options.when(lambda o: o.get("gift", False), name="gift"))
chosen = flow.task(extras, after=[policy, wrapping], join="or")
flow.task(ship, after=[receipt, labels, chosen])

order_flow = tr.workflow(flow)


def main() -> None:
    print(flow.describe())
    big = {"id": "B-7", "amount": 2500, "items": ["lamp", "desk"], "gift": False}
    small = {"id": "S-3", "amount": 40, "items": ["mug"], "gift": True}
    with tr.Engine("sqlite:///order_flow.db") as engine, engine.worker():
        for order in (big, small):
            run_id = engine.start(order_flow, order, id=f"flow-{order['id']}")
            print(f"order {order['id']} -> {engine.result(run_id, timeout=30)}")
        fired = [
            e.name for e in engine.history("flow-B-7") if e.kind is tr.EventKind.TRANSITION_FIRED
        ]
        print("fired in order B-7:", ", ".join(name or "" for name in fired))


if __name__ == "__main__":
    main()
