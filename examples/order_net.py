"""An order as a Petri net: parallel branches, a guard, and a change to a running case.

Run it with `python examples/order_net.py`. The net is analysed when it is registered (an
unsound one is refused with the findings); each firing is recorded with the marking it
produced; a running case gets a review step added, after the change passed the analysis from
its current marking.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import treadle as tr

STOCK_CHECKED = threading.Event()


@tr.step
def reserve(order: dict[str, Any]) -> str:
    STOCK_CHECKED.wait(10)  # a slow warehouse: long enough to change the running case
    return f"reservation-{order['id']}"


@tr.step
def charge(order: dict[str, Any]) -> int:
    return int(order["amount"])


@tr.step
def dispatch(reservation: str, amount: int) -> dict[str, Any]:
    return {"reservation": reservation, "amount": amount}


@tr.step
def review(shipment: dict[str, Any]) -> dict[str, Any]:
    return {**shipment, "reviewed": True}


@tr.step
def notify(shipment: dict[str, Any]) -> str:
    return f"shipped {shipment}"


NET = tr.Net(
    name="order_net",
    places=("new", "to_reserve", "to_charge", "reserved", "charged", "ready", "done"),
    transitions=(
        tr.Transition(name="split", inputs={"new": 1}, outputs={"to_reserve": 1, "to_charge": 1}),
        tr.Transition(
            name="reserve", inputs={"to_reserve": 1}, outputs={"reserved": 1}, step="reserve"
        ),
        tr.Transition(
            name="charge", inputs={"to_charge": 1}, outputs={"charged": 1}, step="charge"
        ),
        tr.Transition(
            name="dispatch",
            inputs={"reserved": 1, "charged": 1},
            outputs={"ready": 1},
            step="dispatch",
            guard="paid",
        ),
        tr.Transition(name="notify", inputs={"ready": 1}, outputs={"done": 1}, step="notify"),
    ),
)

order_net = tr.workflow(
    NET,
    steps={
        "reserve": reserve,
        "charge": charge,
        "dispatch": dispatch,
        "notify": notify,
        "review": review,
    },
    guards={"paid": lambda reservation, amount: amount > 0},
)

# Review every shipment before the customer is told: ready -> review -> reviewed -> notify.
ADD_REVIEW = tr.NetChange(
    add_places=("reviewed",),
    add_transitions=(
        tr.Transition(name="review", inputs={"ready": 1}, outputs={"reviewed": 1}, step="review"),
    ),
    remove_arcs=(tr.Arc(source="ready", target="notify"),),
    add_arcs=(tr.Arc(source="reviewed", target="notify"),),
)


def main() -> None:
    broken = tr.Net(
        name="broken",
        places=("i", "a", "o"),
        transitions=(
            tr.Transition(name="start", inputs={"i": 1}, outputs={"a": 1, "o": 1}),
            tr.Transition(name="end", inputs={"a": 1}, outputs={"o": 1}),
        ),
    )
    try:
        tr.workflow(broken)
    except tr.UnsoundDefinitionError as exc:
        print("refused:", exc.message.splitlines()[1])
    with tr.Engine("sqlite:///order_net.db") as engine, engine.worker():
        run_id = engine.start(order_net, {"id": 42, "amount": 90}, id="net-order-42")
        time.sleep(0.2)
        try:
            engine.change_net(run_id, tr.NetChange(remove_transitions=("notify",)))
        except tr.NetChangeRefusedError as exc:
            print("change refused:", exc.message.splitlines()[-1])
        engine.change_net(run_id, ADD_REVIEW)
        time.sleep(1.2)  # a running case looks for changes at a firing boundary, once a second
        STOCK_CHECKED.set()
        print("result:", engine.result(run_id, timeout=30))
        for event in engine.history(run_id):
            if event.kind is tr.EventKind.TRANSITION_FIRED:
                print(f"  fired {event.name:<9} -> {event.data['marking']}")
            elif event.kind is tr.EventKind.NET_CHANGED:
                print(f"  changed at {event.data['marking']}")


if __name__ == "__main__":
    main()
