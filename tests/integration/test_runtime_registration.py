"""Registering flows and nets: two different definitions under one name and version are
refused, as two different functions are; the same definition registered again is not."""

from __future__ import annotations

import importlib.util
import itertools
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import treadle as tr
from treadle import errors


@tr.step
def registration_hello(data: Any) -> str:
    return "hello"


@tr.step
def registration_bye(data: Any) -> str:
    return "bye"


def line_net(name: str = "registration_line", *, places: int = 2) -> tr.Net:
    names = tuple(f"p{i}" for i in range(places))
    return tr.Net(
        name=name,
        places=names,
        transitions=tuple(
            tr.Transition(name=f"t{i}", inputs={a: 1}, outputs={b: 1}, step="say")
            for i, (a, b) in enumerate(itertools.pairwise(names))
        ),
    )


def flow(step: Any) -> tr.Flow:
    built = tr.Flow("registration_flow")
    built.task(step)
    return built


def test_two_different_nets_under_one_name_are_refused(engine: tr.Engine, start_worker) -> None:
    registry = tr.Registry()
    first = tr.workflow(line_net(), steps={"say": registration_hello}, registry=registry)
    with pytest.raises(errors.RegistrationError, match="is defined twice"):
        tr.workflow(line_net(places=3), steps={"say": registration_hello}, registry=registry)
    with pytest.raises(errors.RegistrationError, match="is defined twice"):  # another binding
        tr.workflow(line_net(), steps={"say": registration_bye}, registry=registry)
    # The first stays registered, and is what runs.
    assert registry.get("registration_line", "1") is first.definition
    with tr.Engine(engine.database, registry_=registry) as own:
        start_worker(own)
        run_id = own.start(first, {"n": 1})
        own.result(run_id, timeout=10)
        fired = [e.name for e in own.history(run_id) if e.kind is tr.EventKind.TRANSITION_FIRED]
        assert fired == ["t0"]


def test_two_different_flows_under_one_name_are_refused() -> None:
    registry = tr.Registry()
    tr.workflow(flow(registration_hello), registry=registry)
    with pytest.raises(errors.RegistrationError, match="registration_flow"):
        tr.workflow(flow(registration_bye), registry=registry)
    # Another version, or another name, is another workflow.
    tr.workflow(flow(registration_bye), version=2, registry=registry)
    tr.workflow(flow(registration_bye), name="registration_flow_bye", registry=registry)
    assert registry.names() == [
        ("registration_flow", "1"),
        ("registration_flow", "2"),
        ("registration_flow_bye", "1"),
    ]


def test_a_flow_and_a_function_under_one_name_are_refused() -> None:
    registry = tr.Registry()
    tr.workflow(flow(registration_hello), registry=registry)

    async def registration_flow(ctx: tr.Context) -> None:
        return None

    with pytest.raises(errors.RegistrationError, match="is defined twice"):
        tr.workflow(registry=registry)(registration_flow)


def test_the_same_net_registered_again_is_accepted() -> None:
    registry = tr.Registry()
    tr.workflow(line_net(), steps={"say": registration_hello}, registry=registry)
    again = tr.workflow(line_net(), steps={"say": registration_hello}, registry=registry)
    assert registry.get("registration_line") is again.definition


MODULE = textwrap.dedent(
    """
    import treadle as tr

    REGISTRY = None  # set before the module runs

    @tr.step
    def say(*inputs):
        return "said"

    flow = tr.Flow("registration_twice_flow")
    flow.task(say, retry=tr.Retry(attempts=2))
    flow.task(lambda *inputs: None, after=flow.task(say, name="again"), name="last")
    net = tr.Net(
        name="registration_twice_net",
        places=("a", "b"),
        transitions=(tr.Transition(name="t", inputs={"a": 1}, outputs={"b": 1}, step="say",
                                   guard="ok"),),
    )
    FLOW = tr.workflow(flow, registry=REGISTRY)
    NET = tr.workflow(net, steps={"say": say}, guards={"ok": lambda d: True}, registry=REGISTRY)
    """
)


def load(path: Path, name: str, registry: tr.Registry) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    module.REGISTRY = registry  # type: ignore[attr-defined]
    source = path.read_text().replace("REGISTRY = None", "")
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def test_a_module_of_flows_and_nets_imported_twice_is_accepted(
    tmp_path: Path, engine: tr.Engine, start_worker
) -> None:
    # As when a script is run as __main__ and also imported by its module name.
    path = tmp_path / "registration_twice.py"
    path.write_text(MODULE)
    registry = tr.Registry()
    load(path, "__registration_main__", registry)
    module = load(path, "registration_twice", registry)
    assert registry.names() == [
        ("registration_twice_flow", "1"),
        ("registration_twice_net", "1"),
    ]
    with tr.Engine(engine.database, registry_=registry) as own:
        start_worker(own)
        assert own.result(own.start(module.NET, {}), timeout=10) is not None
        own.result(own.start(module.FLOW), timeout=10)
    sys.modules.pop("registration_twice", None)
