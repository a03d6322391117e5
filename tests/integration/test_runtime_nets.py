"""Flows and nets run by the engine: firings in the history, retries, timeouts, cancellation,
unsound definitions refused, topology changes accepted and refused, every flow construct."""

from __future__ import annotations

import collections
import random
import threading
import time
import uuid
from typing import Any

import pytest
from side_effects import CALLS, count

import treadle as tr
from treadle.core.nets import changes, tokens

# -- a net with parallel branches and a guarded choice ----------------------------------------


@tr.step
def nets_pack(order: dict[str, Any]) -> str:
    return f"label-{order['id']}"


@tr.step
def nets_charge(order: dict[str, Any]) -> int:
    return int(order["amount"])


@tr.step
def nets_ship(label: str, amount: int) -> dict[str, Any]:
    return {"label": label, "amount": amount}


@tr.step
def nets_express(shipment: dict[str, Any]) -> str:
    return f"express {shipment['label']}"


@tr.step
def nets_standard(shipment: dict[str, Any]) -> str:
    return f"standard {shipment['label']}"


ORDER_NET = tr.Net(
    name="nets_order",
    places=("new", "to_pack", "to_charge", "packed", "charged", "ready", "sent"),
    transitions=(
        tr.Transition(name="split", inputs={"new": 1}, outputs={"to_pack": 1, "to_charge": 1}),
        tr.Transition(name="pack", inputs={"to_pack": 1}, outputs={"packed": 1}, step="pack"),
        tr.Transition(
            name="charge", inputs={"to_charge": 1}, outputs={"charged": 1}, step="charge"
        ),
        tr.Transition(
            name="ship", inputs={"packed": 1, "charged": 1}, outputs={"ready": 1}, step="ship"
        ),
        tr.Transition(
            name="express", inputs={"ready": 1}, outputs={"sent": 1}, step="express", guard="big"
        ),
        tr.Transition(name="standard", inputs={"ready": 1}, outputs={"sent": 1}, step="standard"),
    ),
)
order_net = tr.workflow(
    ORDER_NET,
    steps={
        "pack": nets_pack,
        "charge": nets_charge,
        "ship": nets_ship,
        "express": nets_express,
        "standard": nets_standard,
    },
    guards={"big": lambda shipment: shipment["amount"] >= 100},
)


def firings(engine: tr.Engine, run_id: str) -> list[tuple[str, dict[str, int]]]:
    return [
        (e.name or "", e.data["marking"])
        for e in engine.history(run_id)
        if e.kind is tr.EventKind.TRANSITION_FIRED
    ]


def net_events(engine: tr.Engine, run_id: str) -> list[tr.Event]:
    kinds = {
        tr.EventKind.TRANSITION_STARTED,
        tr.EventKind.TRANSITION_FIRED,
        tr.EventKind.NET_CHANGED,
        tr.EventKind.NET_CHANGE_REFUSED,
    }
    return [e for e in engine.history(run_id) if e.kind in kinds]


def check_net_log(engine: tr.Engine, run_id: str) -> None:
    """Net events numbered 0, 1, ... once each; every firing started once and fired once."""
    events = net_events(engine, run_id)
    assert [e.data["seq"] for e in events] == list(range(len(events)))
    started = [e.data["firing"] for e in events if e.kind is tr.EventKind.TRANSITION_STARTED]
    fired = [e.data["firing"] for e in events if e.kind is tr.EventKind.TRANSITION_FIRED]
    assert len(set(started)) == len(started) and len(set(fired)) == len(fired)
    assert set(started) <= set(fired)
    assert sorted(fired) == list(range(len(fired)))


def test_net_runs_parallel_branches_and_a_guarded_choice(
    engine: tr.Engine, start_worker: Any
) -> None:
    start_worker()
    big = engine.start(order_net, {"id": 7, "amount": 150})
    small = engine.start(order_net, {"id": 8, "amount": 20})
    assert engine.result(big, timeout=10) == "express label-7"
    assert engine.result(small, timeout=10) == "standard label-8"
    fired = firings(engine, big)
    # pack and charge run at the same time: either may complete first.
    assert fired[0] == ("split", {"to_pack": 1, "to_charge": 1})
    assert {fired[1][0], fired[2][0]} == {"pack", "charge"}
    assert fired[1][1] in ({"to_charge": 1, "packed": 1}, {"to_pack": 1, "charged": 1})
    assert fired[2][1] == {"packed": 1, "charged": 1}
    assert fired[3:] == [("ship", {"ready": 1}), ("express", {"sent": 1})]
    history = engine.history(big)
    started = [e.name for e in history if e.kind is tr.EventKind.TRANSITION_STARTED]
    assert started[:2] == ["pack", "charge"]  # both started before either completed
    assert started[2:] == ["ship", "express"]
    kinds = [e.kind for e in history]
    assert kinds.index(tr.EventKind.TRANSITION_STARTED) < kinds.index(tr.EventKind.STEP_COMPLETED)
    check_net_log(engine, big)
    # Each step's positions are those its transition_started announced.
    positions = [
        p for e in history if e.kind is tr.EventKind.TRANSITION_STARTED for p in e.data["positions"]
    ]
    completed = [e.position for e in history if e.kind is tr.EventKind.STEP_COMPLETED]
    assert sorted(completed) == sorted(positions) == list(range(4))


def test_net_workflow_exposes_its_net_and_starts_by_name(
    engine: tr.Engine, start_worker: Any
) -> None:
    assert order_net.net.initial == {"new": 1}
    assert order_net.net.final == {"sent": 1}
    assert "express   [ready] -> [sent]  if big  step express" in order_net.describe()
    start_worker()
    run_id = engine.start("nets_order", {"id": 1, "amount": 1})
    assert engine.result(run_id, timeout=10) == "standard label-1"
    state = engine.net(run_id)
    assert state.marking == {"sent": 1} and state.firings == 5


# -- registration -------------------------------------------------------------------------------

STUCK_NET = tr.Net(
    name="nets_stuck",
    places=("i", "a", "b", "o"),
    transitions=(
        tr.Transition(name="left", inputs={"i": 1}, outputs={"a": 1}),
        tr.Transition(name="right", inputs={"i": 1}, outputs={"b": 1}),
        tr.Transition(name="finish", inputs={"a": 1}, outputs={"o": 1}),
        tr.Transition(name="never", inputs={"a": 1, "b": 1}, outputs={"o": 1}),
    ),
)


def test_unsound_net_is_refused_with_its_findings(tmp_path: Any) -> None:
    with pytest.raises(tr.UnsoundDefinitionError) as caught:
        tr.workflow(STUCK_NET, name="nets_stuck_refused")
    message = str(caught.value)
    assert "deadlock at [b]: reached by right" in message
    assert "allow_unsound=True" in message
    assert caught.value.findings
    with pytest.raises(tr.UnknownWorkflowError):  # nothing was registered
        tr.Engine(f"sqlite:///{tmp_path / 't.db'}").start("nets_stuck_refused")


def test_unsound_net_accepted_with_allow_unsound_runs_until_stuck(
    engine: tr.Engine, start_worker: Any
) -> None:
    wf = tr.workflow(STUCK_NET, name="nets_stuck_allowed", allow_unsound=True)
    start_worker()
    run_id = engine.start(wf)
    # "left" is declared first, so the conflict on [i] always goes its way: a sound path.
    assert engine.result(run_id, timeout=10) is None
    assert [name for name, _ in firings(engine, run_id)] == ["left", "finish"]


def test_unbound_steps_and_guards_are_named() -> None:
    with pytest.raises(tr.UsageError, match="runs step 'pack', which is not bound"):
        tr.workflow(ORDER_NET, name="nets_unbound", steps={})
    with pytest.raises(tr.UsageError, match="guard 'big' must be bound to a callable"):
        tr.workflow(ORDER_NET, name="nets_unbound", steps={}, guards={"big": 1})
    with pytest.raises(tr.UsageError, match=r"apply to a tr\.Net or a tr\.Flow"):
        tr.workflow(lambda ctx: None, allow_unsound=True)


# -- retries, timeouts, cancellation ------------------------------------------------------------


@tr.step(retry=tr.Retry(attempts=3, initial=0.01))
def nets_flaky(key: str) -> str:
    if count(key) < 3:
        raise RuntimeError("not yet")
    return key


@tr.step(timeout=0.2, retry=tr.Retry(attempts=1))
def nets_slow(key: str) -> str:
    time.sleep(2)
    return key


RELEASE: dict[str, threading.Event] = {}


@tr.step
def nets_blocked(key: str) -> str:
    RELEASE.setdefault(key, threading.Event()).wait(10)
    return key


@tr.step
def nets_alternative(key: str) -> str:
    return f"alternative {key}"


def _line(name: str, step: str) -> tr.Net:
    return tr.Net(
        name=name,
        places=("i", "p", "o"),
        transitions=(
            tr.Transition(name="first", inputs={"i": 1}, outputs={"p": 1}, step=step),
            tr.Transition(name="second", inputs={"p": 1}, outputs={"o": 1}),
        ),
    )


flaky_net = tr.workflow(_line("nets_flaky", "flaky"), steps={"flaky": nets_flaky})
slow_net = tr.workflow(_line("nets_slow", "slow"), steps={"slow": nets_slow})
blocked_net = tr.workflow(
    _line("nets_blocked", "blocked"),
    steps={"blocked": nets_blocked, "alternative": nets_alternative},
)


def test_net_step_retries(engine: tr.Engine, start_worker: Any) -> None:
    start_worker()
    key = f"flaky-{uuid.uuid4()}"
    run_id = engine.start(flaky_net, key)
    assert engine.result(run_id, timeout=10) == key
    kinds = [e.kind for e in engine.history(run_id)]
    assert kinds.count(tr.EventKind.STEP_FAILED) == 2
    assert kinds.count(tr.EventKind.TRANSITION_FIRED) == 2


def test_net_step_timeout_fails_the_run_without_firing(
    engine: tr.Engine, start_worker: Any
) -> None:
    start_worker()
    run_id = engine.start(slow_net, "slow")
    with pytest.raises(tr.RunFailedError, match="timeout"):
        engine.result(run_id, timeout=10)
    assert firings(engine, run_id) == []


def test_net_run_is_cancelled(engine: tr.Engine, start_worker: Any, wait_status: Any) -> None:
    start_worker()
    key = f"cancel-{uuid.uuid4()}"
    run_id = engine.start(blocked_net, key)
    wait_status(run_id, "running")
    engine.cancel(run_id)
    RELEASE.setdefault(key, threading.Event()).set()
    with pytest.raises(tr.RunCancelledError):
        engine.result(run_id, timeout=10)


# -- changing the topology of a running case ---------------------------------------------------

REPLACE_SECOND = tr.NetChange(
    remove_transitions=("second",),
    add_transitions=(
        tr.Transition(name="second_v2", inputs={"p": 1}, outputs={"o": 1}, step="alternative"),
    ),
)


def test_change_is_applied_to_a_running_case(
    engine: tr.Engine, start_worker: Any, wait_status: Any
) -> None:
    start_worker()
    key = f"change-{uuid.uuid4()}"
    run_id = engine.start(blocked_net, key)
    wait_status(run_id, "running")
    checked = engine.change_net(run_id, REPLACE_SECOND)
    assert [t.name for t in checked.net.transitions] == ["first", "second_v2"]
    time.sleep(1.2)  # the run looks for changes at a firing boundary, at most once a second
    RELEASE.setdefault(key, threading.Event()).set()
    assert engine.result(run_id, timeout=10) == f"alternative {key}"
    history = engine.history(run_id)
    changed = [e for e in history if e.kind is tr.EventKind.NET_CHANGED]
    assert len(changed) == 1 and changed[0].data["marking"] == {"p": 1}
    assert [name for name, _ in firings(engine, run_id)] == ["first", "second_v2"]
    state = engine.net(run_id)
    assert state.changes == 1 and [t.name for t in state.net.transitions][-1] == "second_v2"


def test_change_that_breaks_the_net_is_refused_at_the_client(
    engine: tr.Engine, start_worker: Any, eventually: Any
) -> None:
    start_worker()
    key = f"refuse-{uuid.uuid4()}"
    run_id = engine.start(blocked_net, key)
    eventually(lambda: engine.net(run_id).running == ("first",), what="'first' to run")
    rewire = tr.NetChange(
        remove_transitions=("first",),
        add_transitions=(tr.Transition(name="first_v2", inputs={"i": 1}, outputs={"p": 1}),),
    )
    with pytest.raises(tr.NetChangeRefusedError, match="transition 'first' is running"):
        engine.change_net(run_id, rewire)
    dead_end = tr.NetChange(
        add_places=("limbo",),
        add_transitions=(tr.Transition(name="lose", inputs={"p": 1}, outputs={"limbo": 1}),),
    )
    with pytest.raises(tr.NetChangeRefusedError, match=r"deadlock at \[limbo\]"):
        engine.change_net(run_id, dead_end)
    with pytest.raises(tr.UsageError, match="not bound"):
        engine.change_net(
            run_id,
            tr.NetChange(
                add_transitions=(
                    tr.Transition(name="x", inputs={"p": 1}, outputs={"o": 1}, step="nope"),
                )
            ),
        )
    RELEASE.setdefault(key, threading.Event()).set()
    assert engine.result(run_id, timeout=10) == key
    assert not any(e.kind is tr.EventKind.NET_CHANGED for e in engine.history(run_id))


def test_change_is_checked_again_by_the_run(
    engine: tr.Engine, start_worker: Any, wait_status: Any
) -> None:
    # A change that passed a client's check against an older marking fails at the run.
    start_worker()
    key = f"recheck-{uuid.uuid4()}"
    run_id = engine.start(blocked_net, key)
    wait_status(run_id, "running")
    # Fine while the case is at [i]; once "first" has fired, the shortcut can never fire.
    shortcut = tr.NetChange(
        add_transitions=(tr.Transition(name="shortcut", inputs={"i": 1}, outputs={"o": 1}),)
    )
    assert engine.net(run_id).marking == {"i": 1}
    engine.signal(run_id, "treadle.net_change", {"change": shortcut.to_json()})
    time.sleep(1.2)
    RELEASE.setdefault(key, threading.Event()).set()
    assert engine.result(run_id, timeout=10) == key
    refused = [e for e in engine.history(run_id) if e.kind is tr.EventKind.NET_CHANGE_REFUSED]
    assert len(refused) == 1
    assert refused[0].data["marking"] == {"p": 1}
    assert "dead transition shortcut" in refused[0].data["findings"][0]
    assert not any(e.kind is tr.EventKind.NET_CHANGED for e in engine.history(run_id))


@tr.step
def nets_blocked_too(key: str) -> str:
    RELEASE.setdefault(key + ":too", threading.Event()).wait(10)
    return key + ":too"


TWO_BLOCKED = tr.Net(
    name="nets_two_blocked",
    places=("i", "a", "b", "ra", "rb", "o"),
    transitions=(
        tr.Transition(name="split", inputs={"i": 1}, outputs={"a": 1, "b": 1}),
        tr.Transition(name="one", inputs={"a": 1}, outputs={"ra": 1}, step="blocked"),
        tr.Transition(name="two", inputs={"b": 1}, outputs={"rb": 1}, step="blocked_too"),
        tr.Transition(name="join", inputs={"ra": 1, "rb": 1}, outputs={"o": 1}),
    ),
)
two_blocked = tr.workflow(
    TWO_BLOCKED,
    steps={"blocked": nets_blocked, "blocked_too": nets_blocked_too, "other": nets_alternative},
)


def test_the_run_refuses_a_change_to_a_transition_that_is_running(
    engine: tr.Engine, start_worker: Any, eventually: Any
) -> None:
    start_worker()
    key = f"busy-{uuid.uuid4()}"
    run_id = engine.start(two_blocked, key)
    eventually(lambda: engine.net(run_id).running == ("one", "two"), what="both to run")
    replace_one = tr.NetChange(
        remove_transitions=("one",),
        add_transitions=(
            tr.Transition(name="one_v2", inputs={"a": 1}, outputs={"ra": 1}, step="other"),
        ),
    )
    # Sent as the raw signal, past the client's check: the run checks it itself.
    engine.signal(run_id, "treadle.net_change", {"change": replace_one.to_json()})
    time.sleep(1.2)  # the run looks for changes at most once a second
    RELEASE.setdefault(key + ":too", threading.Event()).set()  # "two" completes: a boundary
    (refused,) = eventually(
        lambda: [e for e in engine.history(run_id) if e.kind is tr.EventKind.NET_CHANGE_REFUSED]
    )
    assert refused.data["findings"] == [
        "transition 'one' is running: remove it once its firing has completed"
    ]
    assert refused.data["marking"] == {"a": 1, "rb": 1}
    RELEASE.setdefault(key, threading.Event()).set()
    assert engine.result(run_id, timeout=10) == [key, key + ":too"]
    assert [name for name, _ in firings(engine, run_id)] == ["split", "two", "one", "join"]


# -- every flow construct -----------------------------------------------------------------------


@tr.step
def flows_double(x: int) -> int:
    return x * 2


@tr.step
def flows_inc(x: int) -> int:
    return x + 1


@tr.step
def flows_add(*xs: int | None) -> int:
    return sum(x for x in xs if x is not None)


@tr.step
def flows_tag(x: Any) -> str:
    return f"tag {x}"


@tr.step
def flows_items(x: int) -> list[int]:
    return list(range(x))


def _and_flow() -> tr.Flow:
    f = tr.Flow("flows_and")
    a = f.task(flows_inc)
    b = f.task(flows_double, after=a)
    c = f.task(flows_inc, after=a)
    f.task(flows_add, after=[b, c])
    return f


def _xor_flow() -> tr.Flow:
    f = tr.Flow("flows_xor")
    a = f.task(flows_inc)
    route = f.choice(after=a)
    big = f.task(flows_double, after=route.when(lambda x: x > 10, name="big"))
    small = f.task(flows_inc, after=route.otherwise())
    f.task(flows_tag, after=[big, small], join="xor")
    return f


def _or_flow() -> tr.Flow:
    f = tr.Flow("flows_or")
    a = f.task(flows_inc)
    pick = f.multi_choice(after=a)
    even = f.task(flows_double, after=pick.when(lambda x: x % 2 == 0, name="even"))
    big = f.task(flows_inc, after=pick.when(lambda x: x > 10, name="big"))
    f.task(flows_add, after=[even, big], join="or")
    return f


def _discriminator_flow() -> tr.Flow:
    f = tr.Flow("flows_discriminator")
    a = f.task(flows_inc)
    b = f.task(flows_double, after=a)
    c = f.task(flows_inc, after=a)
    c2 = f.task(flows_inc, after=c)
    f.task(flows_tag, after=[c2, b], join="discriminator")
    return f


def _loop_flow() -> tr.Flow:
    body = tr.Flow("flows_body")
    body.task(flows_double)
    f = tr.Flow("flows_loop")
    a = f.task(flows_inc)
    f.loop(body, repeat_while=lambda x: x < 50, after=a)
    return f


def _map_flow() -> tr.Flow:
    f = tr.Flow("flows_map")
    a = f.task(flows_items)
    f.map(flows_double, after=a)
    return f


def _overrides_flow() -> tr.Flow:
    f = tr.Flow("flows_overrides")
    f.task(nets_flaky, retry=tr.Retry(attempts=5, initial=0.01), name="flaky")
    return f


flows = {
    "and": tr.workflow(_and_flow()),
    "xor": tr.workflow(_xor_flow()),
    "or": tr.workflow(_or_flow()),
    "discriminator": tr.workflow(_discriminator_flow()),
    "loop": tr.workflow(_loop_flow()),
    "map": tr.workflow(_map_flow()),
}
overrides = tr.workflow(_overrides_flow())


def _sub_flow() -> tr.Flow:
    f = tr.Flow("flows_sub")
    a = f.task(flows_inc)
    f.subflow(flows["and"], after=a)
    return f


flows["sub"] = tr.workflow(_sub_flow())


@pytest.mark.parametrize(
    ("flow", "data", "expected"),
    [
        ("and", 1, 4 + 3),
        ("xor", 20, "tag 42"),
        ("xor", 2, "tag 4"),
        ("or", 11, 24 + 13),  # both branches ran
        ("or", 3, 8),  # only the even one
        ("or", 2, 0),  # neither: the or-join is skipped, the flow ends with None
        ("discriminator", 1, "tag 4"),  # the shorter branch arrives first
        ("loop", 2, 96),  # 3 -> 6 -> 12 -> 24 -> 48 -> 96
        ("map", 4, [0, 2, 4, 6]),
        ("sub", 0, 4 + 3),
    ],
)
def test_flow_construct_runs(
    engine: tr.Engine, start_worker: Any, flow: str, data: int, expected: Any
) -> None:
    if (flow, data) == ("or", 2):
        expected = None
    start_worker()
    run_id = engine.start(flows[flow], data)
    assert engine.result(run_id, timeout=15) == expected
    assert firings(engine, run_id)[-1] == ("finish", {"end": 1})


def test_flow_map_runs_one_step_per_item_at_once(engine: tr.Engine, start_worker: Any) -> None:
    start_worker()
    run_id = engine.start(flows["map"], 5)
    engine.result(run_id, timeout=10)
    history = engine.history(run_id)
    doubled = [e for e in history if e.kind is tr.EventKind.STEP_COMPLETED and e.position]
    assert len(doubled) == 5
    names = [e.name for e in history if e.kind is tr.EventKind.TRANSITION_FIRED]
    assert names.count("flows_double") == 1  # one multi-instance firing


def test_flow_task_retry_override(engine: tr.Engine, start_worker: Any) -> None:
    start_worker()
    key = f"override-{uuid.uuid4()}"
    run_id = engine.start(overrides, key)
    assert engine.result(run_id, timeout=10) == key
    assert [e.kind for e in engine.history(run_id)].count(tr.EventKind.STEP_FAILED) == 2


def test_flow_without_input_calls_first_tasks_without_arguments(
    engine: tr.Engine, start_worker: Any
) -> None:
    f = tr.Flow("flows_no_input")
    f.task(lambda: 41, name="answer")
    wf = tr.workflow(f)
    start_worker()
    assert engine.result(engine.start(wf), timeout=10) == 41


# -- event-driven firing: nothing waits for a slow sibling ---------------------------------------


@tr.step
def race_a(x: int) -> int:
    return x


@tr.step
def race_b(x: int) -> str:
    time.sleep(0.1)
    return f"B{x}"


@tr.step
def race_c(x: int) -> str:
    time.sleep(1.0)
    return f"C{x}"


@tr.step
def race_d(first: str) -> str:
    return f"D after {first}"


def _wcp9_flow() -> tr.Flow:
    f = tr.Flow("race_wcp9")
    a = f.task(race_a)
    b = f.task(race_b, after=a)
    c = f.task(race_c, after=a)
    f.task(race_d, after=[b, c], join="discriminator")
    return f


wcp9 = tr.workflow(_wcp9_flow())


def _steps(engine: tr.Engine, run_id: str) -> dict[str, list[tr.Event]]:
    found: dict[str, list[tr.Event]] = {}
    for event in engine.history(run_id):
        if event.kind is tr.EventKind.STEP_COMPLETED:
            found.setdefault(event.name or "", []).append(event)
    return found


def test_discriminator_continues_on_the_first_arrival(engine: tr.Engine, start_worker: Any) -> None:
    # WCP-9: B (0.1 s) and C (1 s) in parallel, then D on the first arrival; C is absorbed.
    start_worker()
    run_id = engine.start(wcp9, 1)
    assert engine.result(run_id, timeout=15) == "D after B1"
    steps = _steps(engine, run_id)
    (d,) = steps["race_d"]  # exactly one D
    (c,) = steps["race_c"]
    assert d.data["started_at"] < c.at - 0.5, "D waited for C"
    names = [name for name, _ in firings(engine, run_id)]
    assert names.index("race_d") < names.index("race_c")
    assert "race_d.late2" in names and names[-1] == "finish"  # C arrived late, let in
    check_net_log(engine, run_id)


@tr.step
def lane_quick(x: int) -> int:
    time.sleep(0.1)
    return x + 1


@tr.step
def lane_slow(x: int) -> int:
    time.sleep(1.0)
    return x * 10


@tr.step
def lane_join(left: int, right: int) -> list[int]:
    return [left, right]


LANES = tr.Net(
    name="nets_lanes",
    places=("i", "l0", "l1", "l2", "l3", "r0", "r1", "o"),
    transitions=(
        tr.Transition(name="split", inputs={"i": 1}, outputs={"l0": 1, "r0": 1}),
        tr.Transition(name="slow", inputs={"r0": 1}, outputs={"r1": 1}, step="slow"),
        tr.Transition(name="quick1", inputs={"l0": 1}, outputs={"l1": 1}, step="quick"),
        tr.Transition(name="quick2", inputs={"l1": 1}, outputs={"l2": 1}, step="quick"),
        tr.Transition(name="quick3", inputs={"l2": 1}, outputs={"l3": 1}, step="quick"),
        tr.Transition(name="join", inputs={"l3": 1, "r1": 1}, outputs={"o": 1}, step="join"),
    ),
)
lanes = tr.workflow(LANES, steps={"quick": lane_quick, "slow": lane_slow, "join": lane_join})


def test_a_parallel_branch_is_not_held_back_by_a_slow_sibling(
    engine: tr.Engine, start_worker: Any
) -> None:
    start_worker()
    run_id = engine.start(lanes, 1)
    assert engine.result(run_id, timeout=15) == [4, 10]
    steps = _steps(engine, run_id)
    quick = steps["lane_quick"]
    (slow,) = steps["lane_slow"]
    assert len(quick) == 3
    # The three quick steps ran one after the other while the slow one was running.
    assert all(q.at < slow.at - 0.3 for q in quick), "the quick lane waited for the slow step"
    assert [name for name, _ in firings(engine, run_id)] == [
        "split",
        "quick1",
        "quick2",
        "quick3",
        "slow",
        "join",
    ]
    assert engine.net(run_id).running == ()
    check_net_log(engine, run_id)


@tr.step
def nets_region_work(key: str) -> str:
    count(key)
    time.sleep(0.05)
    return key


def _region(stop_first: bool) -> tr.Net:
    # Three pieces of work in a region that "stop" cancels (reset arcs on a and c).
    work = tr.Transition(name="work", inputs={"a": 1}, outputs={"c": 1}, step="work")
    stop = tr.Transition(name="stop", inputs={"b": 1}, outputs={"o": 1}, resets={"a", "c"})
    return tr.Net(
        name=f"nets_region_{'stop' if stop_first else 'work'}_first",
        places=("i", "a", "b", "c", "o"),
        transitions=(
            tr.Transition(name="split", inputs={"i": 1}, outputs={"a": 3, "b": 1}),
            *((stop, work) if stop_first else (work, stop)),
        ),
        initial={"i": 1},
        final={"o": 1},
    )


regions = {
    first: tr.workflow(_region(first), steps={"work": nets_region_work}) for first in (False, True)
}


@pytest.mark.parametrize("stop_first", [False, True])
def test_reset_arcs_wait_for_the_firings_holding_their_tokens(
    engine: tr.Engine, start_worker: Any, stop_first: bool
) -> None:
    start_worker()
    key = f"region-{uuid.uuid4()}"
    run_id = engine.start(regions[stop_first], key)
    assert engine.result(run_id, timeout=10) == key
    names = [name for name, _ in firings(engine, run_id)]
    if stop_first:
        # "stop" is declared first and takes b at once; while it runs nothing takes from a,
        # the place it empties, so no work starts at all.
        assert names == ["split", "stop"] and CALLS[key] == 0
    else:
        # The three works take a's tokens first; "stop" empties a, so it waits for them.
        assert names == ["split", "work", "work", "work", "stop"] and CALLS[key] == 3
    assert firings(engine, run_id)[-1][1] == {"o": 1}


# -- replay follows the recorded order of completions ------------------------------------------


@tr.workflow(name="nets_gate")
async def nets_gate(ctx: tr.Context, key: str) -> str:
    await ctx.wait_for("go")
    return f"gate {key}"


@tr.step
def nets_counted(key: str) -> str:
    count(key)
    return key


GATED = tr.Net(
    name="nets_gated",
    places=("i", "a", "b", "c", "ga", "gc", "o"),
    transitions=(
        tr.Transition(name="split", inputs={"i": 1}, outputs={"a": 1, "b": 1}),
        tr.Transition(name="gate", inputs={"a": 1}, outputs={"ga": 1}, step="gate"),
        tr.Transition(name="first", inputs={"b": 1}, outputs={"c": 1}, step="counted"),
        tr.Transition(name="second", inputs={"c": 1}, outputs={"gc": 1}, step="counted"),
        tr.Transition(name="join", inputs={"ga": 1, "gc": 1}, outputs={"o": 1}, step="both"),
    ),
)


@tr.step
def nets_both(gate: str, counted: str) -> str:
    return f"{gate} + {counted}"


gated = tr.workflow(GATED, steps={"gate": nets_gate, "counted": nets_counted, "both": nets_both})


def _child_of(engine: tr.Engine, run_id: str) -> str:
    (started,) = [e for e in engine.history(run_id) if e.kind is tr.EventKind.CHILD_STARTED]
    child_id: str = started.data["child_id"]
    return child_id


def test_replay_follows_the_recorded_order_of_completions(
    engine: tr.Engine, start_worker: Any, wait_status: Any
) -> None:
    # The gate (a child run waiting for a signal) starts before the counted lane and
    # completes after it, across a suspension: the replay that resumes the run must follow
    # the history, not the order in which the calls answer from it.
    start_worker()
    key = f"gated-{uuid.uuid4()}"
    run_id = engine.start(gated, key)
    wait_status(run_id, "waiting")
    before = [name for name, _ in firings(engine, run_id)]
    assert before == ["split", "first", "second"]
    assert engine.net(run_id).running == ("gate",)
    engine.signal(_child_of(engine, run_id), "go")
    assert engine.result(run_id, timeout=10) == f"gate {key} + {key}"
    assert [name for name, _ in firings(engine, run_id)] == [*before, "gate", "join"]
    assert CALLS[key] == 2  # each counted step ran once, none again on replay
    started = [e for e in engine.history(run_id) if e.kind is tr.EventKind.RUN_STARTED]
    assert len(started) >= 2  # it did resume by replay
    check_net_log(engine, run_id)


def test_a_change_taken_while_waiting_is_applied_again_on_replay(
    engine: tr.Engine, start_worker: Any, wait_status: Any, eventually: Any
) -> None:
    start_worker()
    key = f"gated-change-{uuid.uuid4()}"
    run_id = engine.start(gated, key)
    wait_status(run_id, "waiting")
    plain_join = tr.NetChange(
        remove_transitions=("join",),
        add_transitions=(
            tr.Transition(name="join_v2", inputs={"ga": 1, "gc": 1}, outputs={"o": 1}),
        ),
    )
    engine.change_net(run_id, plain_join)  # the signal wakes the run, which takes it
    eventually(lambda: engine.net(run_id).changes == 1, what="the change to be applied")
    wait_status(run_id, "waiting")
    engine.signal(_child_of(engine, run_id), "go")
    # The replay that resumes the run meets the change at the same boundary again.
    assert engine.result(run_id, timeout=10) == [f"gate {key}", key]
    assert [name for name, _ in firings(engine, run_id)] == [
        "split",
        "first",
        "second",
        "gate",
        "join_v2",
    ]
    (changed,) = [e for e in engine.history(run_id) if e.kind is tr.EventKind.NET_CHANGED]
    assert changed.data["marking"] == {"a": 1, "gc": 1}
    assert CALLS[key] == 2
    check_net_log(engine, run_id)


# -- a step that fails for good, and the run retried -------------------------------------------

DOWN: set[str] = set()


@tr.step(retry=tr.Retry(attempts=1))
def nets_fragile(key: str) -> str:
    count(key + ":fragile")
    if key in DOWN:
        raise RuntimeError("the fragile service is down")
    return "fragile ok"


@tr.step
def nets_steady(key: str) -> str:
    count(key)
    time.sleep(0.2)
    return key


FRAGILE = tr.Net(
    name="nets_fragile",
    places=("i", "a", "b", "c", "fa", "sc", "o"),
    transitions=(
        tr.Transition(name="split", inputs={"i": 1}, outputs={"a": 1, "b": 1}),
        tr.Transition(name="fragile", inputs={"a": 1}, outputs={"fa": 1}, step="fragile"),
        tr.Transition(name="steady1", inputs={"b": 1}, outputs={"c": 1}, step="steady"),
        tr.Transition(name="steady2", inputs={"c": 1}, outputs={"sc": 1}, step="steady"),
        tr.Transition(name="join", inputs={"fa": 1, "sc": 1}, outputs={"o": 1}),
    ),
)
fragile = tr.workflow(FRAGILE, steps={"fragile": nets_fragile, "steady": nets_steady})


def test_a_failed_step_fails_the_run_and_a_retry_resumes_from_it(
    engine: tr.Engine, start_worker: Any
) -> None:
    start_worker()
    key = f"fragile-{uuid.uuid4()}"
    DOWN.add(key)
    run_id = engine.start(fragile, key)
    with pytest.raises(tr.RunFailedError, match="fragile service is down"):
        engine.result(run_id, timeout=10)
    # The steady step running beside it was let finish, but nothing fired after the failure.
    assert CALLS[key] == 1
    assert [name for name, _ in firings(engine, run_id)] == ["split"]
    DOWN.discard(key)
    engine.retry(run_id)
    assert engine.result(run_id, timeout=10) == ["fragile ok", key]
    assert CALLS[key + ":fragile"] == 2 and CALLS[key] == 2  # steady1 did not run again
    names = sorted(name for name, _ in firings(engine, run_id))
    assert names == ["fragile", "join", "split", "steady1", "steady2"]
    check_net_log(engine, run_id)


# -- a history that the definition no longer matches ------------------------------------------

OLD = tr.Registry()
NEW = tr.Registry()


def _diverging(work: str) -> tr.Net:
    return tr.Net(
        name="nets_diverging",
        places=("i", "a", "b", "ga", "wb", "o"),
        transitions=(
            tr.Transition(name="split", inputs={"i": 1}, outputs={"a": 1, "b": 1}),
            tr.Transition(name="gate", inputs={"a": 1}, outputs={"ga": 1}, step="gate"),
            tr.Transition(name=work, inputs={"b": 1}, outputs={"wb": 1}, step="counted"),
            tr.Transition(name="join", inputs={"ga": 1, "wb": 1}, outputs={"o": 1}),
        ),
    )


for _registry, _work in ((OLD, "work"), (NEW, "work_v2")):
    tr.workflow(name="nets_gate", registry=_registry)(nets_gate.definition.fn)
    tr.workflow(
        _diverging(_work),
        registry=_registry,
        steps={"gate": nets_gate, "counted": nets_counted},
    )


def test_a_history_the_net_no_longer_matches_fails_with_non_determinism(
    db_url: str, start_worker: Any, wait_status: Any
) -> None:
    key = f"diverging-{uuid.uuid4()}"
    with tr.Engine(db_url, registry_=OLD) as old, tr.Engine(db_url, registry_=NEW) as new:
        old_worker = start_worker(old)
        run_id = old.start("nets_diverging", key)
        wait_status(run_id, "waiting", on=old)
        old_worker.stop()
        start_worker(new)
        new.signal(_child_of(new, run_id), "go")
        with pytest.raises(tr.RunFailedError) as caught:
            new.result(run_id, timeout=10)
    assert caught.value.error_type == "treadle.NonDeterminismError"
    message = str(caught.value)
    assert "transition_started 'work' (firing 2)" in message
    assert "transition_started 'work_v2' (firing 2)" in message
    assert CALLS[key] == 1  # the renamed transition's step never ran against the old history


# -- the token game on its own ------------------------------------------------------------------


def test_case_starts_in_declaration_order_and_completes_in_any_order() -> None:
    net = tr.Net(
        name="case",
        places=("p", "q", "r", "s"),
        transitions=(
            tr.Transition(name="first", inputs={"p": 1}, outputs={"q": 1}, step="x"),
            tr.Transition(name="second", inputs={"p": 1}, outputs={"r": 1}, step="x"),
            tr.Transition(name="join", inputs={"q": 1, "r": 1}, outputs={"s": 1}),
        ),
        initial={"p": 2},
    )
    behaviour = tokens.NetBehaviour(step=True)
    case = tokens.Case(net, {"first": behaviour, "second": behaviour}, "data")
    one, two = case.start(), case.start()
    assert one is not None and two is not None and case.start() is None
    # Both tokens go to the transition declared first; both firings run at once.
    assert [one.transition.name, two.transition.name] == ["first", "first"]
    assert (one.number, two.number) == (0, 1)
    assert case.marking() == {"p": 2}  # running firings have not fired yet
    assert case.complete(1, {"q": "late"}) == {"p": 1, "q": 1}
    assert case.complete(0, {"q": "early"}) == {"q": 2}
    assert case.tokens.held("q") == ["late", "early"]  # in the order they completed


def test_case_keeps_reset_arcs_and_running_firings_apart() -> None:
    net = tr.Net(
        name="case_reset",
        places=("p", "go", "q", "done"),
        transitions=(
            tr.Transition(name="work", inputs={"p": 1}, outputs={"q": 1}, step="x"),
            tr.Transition(name="cancel", inputs={"go": 1}, outputs={"done": 1}, resets={"p"}),
        ),
        initial={"p": 2, "go": 1},
    )
    case = tokens.Case(net, {"work": tokens.NetBehaviour(step=True)}, None)
    running = [case.start(), case.start()]
    # "cancel" empties p, whose tokens the running "work" firings hold: it waits for them.
    assert [f.transition.name for f in running if f] == ["work", "work"]
    assert case.start() is None
    case.complete(0, {"q": 1})
    assert case.start() is None
    case.complete(1, {"q": 1})
    cancel = case.start()
    assert cancel is not None and cancel.transition.name == "cancel"
    assert case.complete(cancel.number, {}) == {"q": 2, "done": 1}


def test_a_change_may_not_touch_a_running_transition() -> None:
    change = tr.NetChange(
        remove_transitions=("pack",),
        add_arcs=(tr.Arc(source="ship", target="sent"),),
    )
    problems = changes.running_conflicts(change, ["pack", "ship"])
    assert problems == [
        "transition 'pack' is running: remove it once its firing has completed",
        "transition 'ship' is running: change its arc ship -> sent once its firing has completed",
    ]
    assert changes.running_conflicts(change, ["charge"]) == []


@pytest.mark.parametrize("seed", range(20))
def test_case_markings_are_a_firing_sequence_in_any_completion_order(seed: int) -> None:
    # A net with parallel lanes, a multi-token place and a conflict, played with firings
    # completing in a random order: every marking the case reports is the count of its
    # tokens (free and reserved), and is the marking before it with one transition fired.
    net = tr.Net(
        name="case_random",
        places=("i", "a", "b", "c", "d", "o"),
        transitions=(
            tr.Transition(name="split", inputs={"i": 1}, outputs={"a": 3, "b": 1}),
            tr.Transition(name="work", inputs={"a": 1}, outputs={"c": 1}, step="x"),
            tr.Transition(name="steal", inputs={"a": 1}, outputs={"c": 1}, step="x"),
            tr.Transition(name="slow", inputs={"b": 1}, outputs={"d": 1}, step="x"),
            tr.Transition(name="join", inputs={"c": 3, "d": 1}, outputs={"o": 1}, step="x"),
        ),
        initial={"i": 1},
        final={"o": 1},
    )
    step = tokens.NetBehaviour(step=True)
    behaviours = {t.name: step for t in net.transitions if t.step}
    case = tokens.Case(net, behaviours, 0)
    rng = random.Random(seed)
    marking = dict(net.initial)
    while not case.is_final():
        while (firing := case.start()) is not None:
            if not firing.transition.step:
                marking = _fire(marking, firing.transition)
                assert case.complete(firing.number, {"a": 0, "b": 0}) == marking
        assert case.running, f"stuck at {case.marking()}"
        number = rng.choice(sorted(case.running))
        transition = case.running[number].transition
        marking = _fire(marking, transition)
        after = case.complete(number, dict.fromkeys(transition.outputs, 0))
        assert after == marking
        reserved = collections.Counter[str]()
        for running in case.running.values():
            reserved.update(running.transition.inputs)
        recount = {p: len(case.tokens.held(p)) + reserved[p] for p in net.places}
        assert after == {p: n for p, n in recount.items() if n}
    # "steal" is declared after "work": the conflict on [a] always goes to "work".
    assert case.started == 6


def _fire(marking: dict[str, int], transition: tr.Transition) -> dict[str, int]:
    counts = collections.Counter(marking)
    for place, weight in transition.inputs.items():
        assert counts[place] >= weight, f"{transition.name} is not enabled at {marking}"
        counts[place] -= weight
    counts.update(transition.outputs)
    return {p: n for p, n in counts.items() if n}
