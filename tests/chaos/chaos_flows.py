"""Flows and a net for the chaos tests; workers load it with ``--app chaos_flows``.

Their steps leave the same side-effect traces as ``chaos_app``'s, keyed by the run and the
position the step call has in the run (from ``tr.current_step()``).
"""

from __future__ import annotations

import random
import time
import uuid

from chaos_app import trace

import treadle as tr


@tr.step
def flow_work(value: int) -> int:
    """A side effect of a few milliseconds; returns ``value + 1``."""
    info = tr.current_step()
    token = uuid.uuid4().hex
    trace("start", info.run_id, info.position, token)
    time.sleep(random.uniform(0.02, 0.06))
    trace("end", info.run_id, info.position, token)
    return value + 1


@tr.step
def flow_join(left: int, right: int) -> int:
    info = tr.current_step()
    token = uuid.uuid4().hex
    trace("start", info.run_id, info.position, token)
    time.sleep(random.uniform(0.02, 0.06))
    trace("end", info.run_id, info.position, token)
    return left + right


@tr.step
def flow_total(values: list[int]) -> int:
    info = tr.current_step()
    token = uuid.uuid4().hex
    trace("start", info.run_id, info.position, token)
    trace("end", info.run_id, info.position, token)
    return sum(values)


@tr.step
def flow_items(value: int) -> list[int]:
    return list(range(value, value + 4))


def _flow() -> tr.Flow:
    f = tr.Flow("chaos_flow")
    first = f.task(flow_work)
    left = f.task(flow_work, after=f.task(flow_work, after=first))
    right = f.task(flow_work, after=first)
    joined = f.task(flow_join, after=[left, right])
    each = f.map(flow_work, after=f.task(flow_items, after=joined))
    f.task(flow_total, after=each)
    return f


FLOW = _flow()
chaos_flow = tr.workflow(FLOW)
FLOW_STEPS = 11
"""Step calls per run: 5 tasks, the list, 4 map items and the total."""
FLOW_FIRINGS = 10
FLOW_RESULT = 30
"""The result of a run started with 0."""

# A net of eight steps: a chain with a parallel pair in the middle.
NET = tr.Net(
    name="chaos_net",
    places=("p0", "p1", "p2", "q1", "q2", "r1", "r2", "p3", "p4", "p5", "p8"),
    transitions=(
        tr.Transition(name="t0", inputs={"p0": 1}, outputs={"p1": 1}, step="work"),
        tr.Transition(name="t1", inputs={"p1": 1}, outputs={"p2": 1}, step="work"),
        tr.Transition(name="split", inputs={"p2": 1}, outputs={"q1": 1, "q2": 1}),
        tr.Transition(name="t2", inputs={"q1": 1}, outputs={"r1": 1}, step="work"),
        tr.Transition(name="t3", inputs={"q2": 1}, outputs={"r2": 1}, step="work"),
        tr.Transition(name="join", inputs={"r1": 1, "r2": 1}, outputs={"p3": 1}, step="join"),
        tr.Transition(name="t4", inputs={"p3": 1}, outputs={"p4": 1}, step="work"),
        tr.Transition(name="t5", inputs={"p4": 1}, outputs={"p5": 1}, step="work"),
        tr.Transition(name="t6", inputs={"p5": 1}, outputs={"p8": 1}, step="work"),
    ),
)
chaos_net = tr.workflow(NET, steps={"work": flow_work, "join": flow_join})
NET_STEPS = 8
NET_FIRINGS = 9
NET_RESULT = 9


def _race() -> tr.Flow:
    # Two branches of the same work race to a discriminator: which arrives first depends on
    # the steps' random sleeps, so a replay must follow the recorded order of completions.
    f = tr.Flow("chaos_race")
    first = f.task(flow_work)
    left = f.task(flow_work, after=first, name="left")
    right = f.task(flow_work, after=first, name="right")
    f.task(flow_work, after=[left, right], join="discriminator", name="winner")
    return f


RACE = _race()
chaos_race = tr.workflow(RACE)
RACE_STEPS = 4
"""Step calls per run: the first task, both branches and the winner."""
RACE_FIRINGS = 9
"""begin, the first task, both branches, the first arrival, the winner, the late arrival,
the discriminator's tidy-up and finish."""
RACE_RESULT = 3
