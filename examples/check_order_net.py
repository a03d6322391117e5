"""Checking a net before it runs: `tr.check` finds a deadlock and prints how to reach it.

An order is reserved, then paid for and packed at the same time; it ships once both are
done. The first version forgets what happens when the payment is declined: the order is
stuck with its parcel packed. `tr.check` explores every reachable marking and reports the
deadlock with the shortest firing sequence that leads to it, like a compiler error with a
trace. The fixed version cancels a declined order, and the check passes: it is a sound
workflow net (it can always finish, finishes cleanly, and every transition can fire).

Run it with `python examples/check_order_net.py`; `treadle check examples/check_order_net.py`
checks the same two nets from the command line (and exits 1, because of the first one).
"""

from __future__ import annotations

import treadle as tr

T = tr.Transition

PLACES = ("received", "to_pay", "to_pack", "paid", "declined", "packed", "done")

TRANSITIONS = (
    T(name="reserve", inputs={"received": 1}, outputs={"to_pay": 1, "to_pack": 1}),
    T(name="pay", inputs={"to_pay": 1}, outputs={"paid": 1}, step="charge"),
    T(name="decline", inputs={"to_pay": 1}, outputs={"declined": 1}),
    T(name="pack", inputs={"to_pack": 1}, outputs={"packed": 1}, step="pack"),
    T(name="ship", inputs={"paid": 1, "packed": 1}, outputs={"done": 1}, step="ship"),
)

order = tr.Net(
    name="order",
    places=PLACES,
    transitions=TRANSITIONS,
    initial={"received": 1},
    final={"done": 1},
)

# The fix: a declined order is cancelled and its parcel unpacked, so the case still ends.
fixed_order = tr.Net(
    name="fixed_order",
    places=PLACES,
    transitions=(
        *TRANSITIONS,
        T(name="cancel", inputs={"declined": 1, "packed": 1}, outputs={"done": 1}),
    ),
    initial={"received": 1},
    final={"done": 1},
)


def main() -> None:
    report = tr.check(order)
    print(report.format())
    print(report.summary())
    assert not report.ok
    deadlock = report.analysis.deadlocks[0] if report.analysis else None
    print(f"the stuck marking: {dict(deadlock or {})}")

    report = tr.check(fixed_order)
    print(report.summary())
    assert report.ok


if __name__ == "__main__":
    main()
