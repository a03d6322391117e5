"""A running net case seen from a client: its current net and marking, and changing it.

The state is rebuilt from the run's history: the registered net, the changes recorded as
``net_changed``, the marking of the latest firing, and the firings started and not yet
completed. A change is checked here against that
marking (so a bad change fails at the caller, with the findings), then delivered through a
reserved signal; the run checks it again against its own marking before applying it, since
the case may have moved on in between.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from treadle import errors
from treadle.core import codec
from treadle.core.history import EventKind
from treadle.core.nets import changes, model
from treadle.core.status import RunStatus
from treadle.runtime import ops, registry
from treadle.runtime.nets import interpreter, program, registration
from treadle.store import transact
from treadle.store.protocol import Store, Topic


@dataclasses.dataclass(frozen=True, kw_only=True)
class NetState:
    """A net run as its history tells it."""

    run_id: str
    workflow: str
    version: str
    status: RunStatus
    net: model.Net
    """The net as changed so far."""
    marking: Mapping[str, int]
    """The marking after the latest recorded firing (the initial one before any)."""
    firings: int
    changes: int
    """Changes applied; refused ones are in the history as ``net_change_refused``."""
    running: tuple[str, ...] = ()
    """The transitions with a firing started and not completed (their steps are running),
    in the order they started; a transition running twice is named twice."""


def program_of(registry_: registry.Registry, workflow: str, version: str) -> program.Program:
    definition = registry_.get(workflow, version)
    found = getattr(definition.fn, registration.PROGRAM_ATTRIBUTE, None) if definition else None
    if definition is None:
        raise errors.UnknownWorkflowError(
            f"workflow {workflow!r} version {version!r} is not registered in this process: "
            "import the module that defines it (on the command line, --app MODULE)"
        )
    if not isinstance(found, program.Program):
        raise errors.UsageError(f"workflow {workflow!r} is a durable function, not a flow or net")
    return found


def state(store: Store, registry_: registry.Registry, run_id: str) -> NetState:
    with store.snapshot() as tx:
        row = ops.get_run(tx, run_id)
        events = [ops.to_event(r) for r in tx.fetch_all("history", {"run_id": run_id})]
    built = program_of(registry_, row["workflow"], row["version"])
    net, marking = built.net, dict(built.net.initial)
    fired = changed = 0
    running: dict[Any, str] = {}
    for event in events:
        if event.kind is EventKind.TRANSITION_STARTED:
            running[event.data.get("firing")] = event.name or ""
        elif event.kind is EventKind.TRANSITION_FIRED:
            marking = dict(event.data["marking"])
            running.pop(event.data.get("firing"), None)
            fired += 1
        elif event.kind is EventKind.NET_CHANGED:
            net = changes.apply(net, changes.NetChange.from_json(event.data["change"]))
            changed += 1
    if RunStatus(row["status"]).finished:
        running.clear()  # a failed or cancelled run's firings will not complete
    return NetState(
        run_id=run_id,
        workflow=row["workflow"],
        version=row["version"],
        status=RunStatus(row["status"]),
        net=net,
        marking=marking,
        firings=fired,
        changes=changed,
        running=tuple(running.values()),
    )


def change(
    store: Store,
    registry_: registry.Registry,
    run_id: str,
    requested: changes.NetChange,
    now: float,
) -> NetState:
    """Check ``requested`` against the run's current marking and send it to the run."""
    if not isinstance(requested, changes.NetChange):
        raise errors.UsageError(f"change_net takes a tr.NetChange, not {requested!r}")
    current = state(store, registry_, run_id)
    if current.status.finished:
        raise errors.RunFinishedError(
            f"run {run_id} is already {current.status}; its net can no longer change",
            run_id=run_id,
        )
    built = program_of(registry_, current.workflow, current.version)
    changed = changes.apply(current.net, requested)
    busy = changes.running_conflicts(requested, current.running)
    if busy:
        raise errors.NetChangeRefusedError(
            f"the change to run {run_id} was refused: " + "; ".join(busy),
            run_id=run_id,
            findings=(),
        )
    unbound = built.unbound(list(requested.add_transitions))
    if unbound:
        raise errors.InvalidNetError(
            "; ".join(unbound) + ": a change can only use the steps and guards the workflow "
            "binds (tr.workflow(..., steps={...}, guards={...}))"
        )
    found = changes.check(
        changed,
        current.marking,
        added=[t.name for t in requested.add_transitions],
        removed_places=requested.remove_places,
    )
    if found:
        raise errors.NetChangeRefusedError(
            f"the change to run {run_id} was refused: from its marking "
            f"{model.show_marking(current.marking, changed.places)} the changed net fails "
            f"the analysis:\n" + "\n".join(f.format(changed.name) for f in found),
            run_id=run_id,
            findings=found,
        )
    payload = codec.encode({"change": requested.to_json()}, "the net change")
    transact.run(
        store,
        lambda tx: ops.signal(tx, run_id, interpreter.CHANGE_SIGNAL, payload, now),
        notify=(Topic.TASKS,),
    )
    return dataclasses.replace(current, net=changed)


def describe_state(current: NetState) -> dict[str, Any]:
    """The state as JSON-ready data (``treadle net show --json``)."""
    return {
        "run_id": current.run_id,
        "workflow": current.workflow,
        "status": current.status.value,
        "marking": dict(current.marking),
        "firings": current.firings,
        "changes": current.changes,
        "running": list(current.running),
        "net": {
            "name": current.net.name,
            "places": list(current.net.places),
            "transitions": [changes.transition_json(t) for t in current.net.transitions],
            "initial": dict(current.net.initial),
            "final": None if current.net.final is None else dict(current.net.final),
        },
    }
