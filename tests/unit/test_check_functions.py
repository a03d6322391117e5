"""``tr.check`` on durable functions: what is checked statically, and nothing invented."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import inspect
import json
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NewType

import pytest

import treadle as tr
from treadle.checking import jsontypes

LOCAL = tr.Registry()  # keeps these test workflows out of the process-wide registry


@dataclasses.dataclass
class Receipt:
    id: str


class Colour(enum.Enum):
    RED = 1


class Size(enum.StrEnum):
    SMALL = "small"


class Order(typing.TypedDict):
    id: str


@tr.step
def charge(order_id: str, amount: int) -> str:
    return f"receipt-{order_id}-{amount}"


@tr.step
def make_receipt(order_id: str) -> Receipt:
    return Receipt(order_id)


def plain(value: int) -> int:
    return value


@tr.workflow(registry=LOCAL)
async def ship(ctx: tr.Context, order_id: str, express: bool = False) -> str:
    return order_id


@tr.workflow(registry=LOCAL)
async def clean(ctx: tr.Context, order: Order, size: Size = Size.SMALL) -> dict[str, Any]:
    receipt = await ctx.step(charge, order["id"], 10)
    again = await ctx.step(charge, order_id=order["id"], amount=20)
    shipped = await ctx.child(ship, order["id"], express=True, id="ship-1", wait=True)
    return {"receipt": receipt, "again": again, "shipped": shipped}


def line_of(fn: Callable[..., Any], text: str) -> int:
    """The line number of the first source line of ``fn`` that contains ``text``."""
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if text in line)


def findings_of(workflow: tr.Workflow[..., Any]) -> list[tuple[str, str, int | None, str]]:
    report = tr.check(workflow)
    assert report.kind.value == "function"
    return [
        (f.kind.value, f.severity.value, getattr(f, "line", None), f.message)
        for f in report.findings
    ]


def test_a_clean_workflow_has_no_findings_and_lists_what_it_calls() -> None:
    report = tr.check(clean)
    assert report.findings == () and report.ok
    assert report.function is not None
    assert report.function.steps == ("charge",)
    assert report.function.children == ("ship",)
    assert report.function.calls == 3
    assert report.summary("orders:clean") == (
        "orders:clean: durable function clean v1: 3 calls to steps and child workflows checked: ok"
    )
    data = json.loads(json.dumps(report.to_json()))
    assert data["kind"] == "function" and data["version"] == "1"
    assert data["steps"] == ["charge"] and data["children"] == ["ship"]
    assert data["line"] == line_of(clean.fn, "async def clean")
    assert data["file"] == __file__
    assert data["findings"] == []


def test_step_and_child_calls_that_cannot_work_are_errors_at_their_line() -> None:
    @tr.workflow(registry=LOCAL)
    async def broken(ctx: tr.Context, order_id: str) -> str:
        await ctx.step(charge, order_id)
        await ctx.step(chrage, order_id, 1)  # type: ignore[name-defined]  # noqa: F821
        await ctx.step(ship, order_id)
        await ctx.child(ship, order_id, True, "extra")
        await ctx.child(charge, order_id, 1)
        return order_id

    got = findings_of(broken)
    fn = broken.fn
    assert [(kind, severity, line) for kind, severity, line, _ in got] == [
        ("arguments", "error", line_of(fn, "ctx.step(charge, order_id)")),
        ("unknown_name", "error", line_of(fn, "chrage")),
        ("not_a_step", "error", line_of(fn, "ctx.step(ship")),
        ("arguments", "error", line_of(fn, "ctx.child(ship")),
        ("not_a_workflow", "error", line_of(fn, "ctx.child(charge")),
    ]
    messages = [message for *_, message in got]
    assert messages[0] == (
        "ctx.step(charge, ...) cannot call charge(order_id, amount): missing a required "
        "argument: 'amount'"
    )
    assert (
        messages[1] == "ctx.step(chrage, ...): 'chrage' is not defined: import or define the step"
    )
    assert "start it with `ctx.child(ship, ...)`" in messages[2]
    assert messages[3] == (
        "ctx.child(ship, ...) cannot call ship(order_id, express): too many positional arguments"
    )
    assert "decorate it with @tr.workflow, or call it with `ctx.step(charge, ...)`" in messages[4]
    report = tr.check(broken)
    assert report.errors == 5 and not report.ok
    first = report.format("orders:broken").splitlines()[0]
    assert first.startswith(f"tests/unit/test_check_functions.py:{got[0][2]}: error: ")


def test_a_plain_function_as_a_step_is_only_a_note() -> None:
    @tr.workflow(registry=LOCAL)
    def sync_flow(ctx: tr.SyncContext, value: int) -> int:
        handle = ctx.submit(plain, value)
        return int(ctx.gather(handle)[0]) + ctx.step(plain, value)

    report = tr.check(sync_flow)
    assert report.ok
    assert [f.kind.value for f in report.findings] == ["plain_step"]
    assert report.findings[0].severity.value == "note"
    assert "plain is a plain function, not a @tr.step" in report.findings[0].message
    assert report.function is not None and report.function.calls == 2


def test_names_known_only_at_run_time_are_not_judged() -> None:
    steps = {"charge": charge}

    @tr.workflow(registry=LOCAL)
    async def dynamic(ctx: tr.Context, name: str, args: list[Any]) -> list[Any]:
        chosen = steps[name]
        first = await ctx.step(chosen, *args)  # a local name, and *args
        second = await ctx.step(steps["charge"], "x")  # not a plain name
        third = await ctx.child(name, *args)  # a workflow name held in a parameter
        fourth = await ctx.step(charge, **{"order_id": "x", "amount": 1})
        return [first, second, third, fourth]

    report = tr.check(dynamic)
    assert report.findings == ()
    assert report.function is not None
    assert report.function.steps == ("charge",)  # the one call it could resolve


def test_closures_and_module_attributes_are_resolved() -> None:
    alias = charge

    @tr.workflow(registry=LOCAL)
    async def closure(ctx: tr.Context) -> Any:
        await ctx.step(alias, "a", 1)
        await ctx.step(jsontypes.not_json, int)  # a module attribute: a plain function
        return await ctx.step(jsontypes.no_such_thing)  # type: ignore[attr-defined]

    got = findings_of(closure)
    assert [kind for kind, *_ in got] == ["plain_step", "unknown_name"]
    assert "'jsontypes.no_such_thing' is not defined" in got[1][3]


def test_a_child_named_by_a_string_must_be_registered() -> None:
    @tr.workflow(registry=LOCAL)
    async def by_name(ctx: tr.Context) -> Any:
        return await ctx.child("no-such-workflow-anywhere")

    got = findings_of(by_name)
    assert [(kind, severity) for kind, severity, *_ in got] == [("unknown_name", "warning")]
    assert "no workflow named 'no-such-workflow-anywhere' is registered" in got[0][3]


def test_types_json_cannot_hold_are_errors() -> None:
    @tr.workflow(registry=LOCAL)
    async def typed(
        ctx: tr.Context,
        when: datetime.datetime | None,
        tags: set[str],
        colour: Colour,
        price: decimal.Decimal,
    ) -> Receipt:
        await ctx.step(make_receipt, "x")
        return Receipt("x")

    got = findings_of(typed)
    assert [kind for kind, *_ in got] == ["not_json"] * 6
    messages = [message for *_, message in got]
    assert messages[0].startswith(
        "workflow typed: parameter 'when' is datetime.datetime | None (its part datetime), "
        "which JSON cannot hold: Treadle stores arguments as JSON."
    )
    assert "parameter 'tags' is set[str]" in messages[1]
    assert "parameter 'colour' is Colour" in messages[2]
    assert "parameter 'price' is Decimal" in messages[3]
    assert "workflow typed: the result is Receipt" in messages[4]
    assert "step make_receipt: the result is Receipt" in messages[5]
    # The step's finding points at the step's own definition.
    step_line = line_of(make_receipt.fn, "def make_receipt")
    assert got[5][2] == step_line


UserId = NewType("UserId", str)


@pytest.mark.parametrize(
    "hint",
    [
        str,
        int,
        float,
        bool,
        None,
        type(None),
        Any,
        object,
        list[int],
        dict[str, list[float | None]],
        tuple[int, ...],
        Mapping[str, Any],
        Sequence[int],
        Order,
        Size,
        UserId,
        typing.Literal["a", "b"],
        typing.Annotated[int, "meta"],
        typing.TypeVar("X"),
        int | None,
    ],
)
def test_json_types_pass(hint: Any) -> None:
    assert jsontypes.not_json(hint) is None


@pytest.mark.parametrize(
    ("hint", "culprit"),
    [
        (bytes, "bytes"),
        (set[int], "set"),
        (frozenset[str], "frozenset"),
        (datetime.date, "date"),
        (Receipt, "Receipt"),
        (Colour, "Colour"),
        (list[Receipt], "Receipt"),
        (dict[str, datetime.timedelta], "timedelta"),
        (Receipt | None, "Receipt"),
        (Callable[[int], int], "Callable"),
        (typing.Annotated[bytes, "x"], "bytes"),
    ],
)
def test_types_json_cannot_hold_are_named(hint: Any, culprit: str) -> None:
    assert jsontypes.not_json(hint) == culprit


def test_the_context_parameter_is_checked() -> None:
    def keyword_only(*, ctx: tr.Context) -> None:
        return None

    definition = tr.workflow(registry=tr.Registry())(keyword_only)
    got = findings_of(definition)
    assert got[0][:2] == ("context", "error")
    assert "'ctx' takes only keywords" in got[0][3]

    @tr.workflow(registry=LOCAL)
    async def mistyped(ctx: tr.SyncContext) -> None:
        return None

    got = findings_of(mistyped)
    assert [(kind, severity) for kind, severity, *_ in got] == [("context", "warning")]
    assert "annotate it tr.Context" in got[0][3]


def test_annotations_that_cannot_be_evaluated_are_a_note_not_a_guess() -> None:
    @tr.workflow(registry=LOCAL)
    async def forward(ctx: tr.Context, item: NotDefinedAnywhere) -> None:  # type: ignore[name-defined]  # noqa: F821
        return None

    got = findings_of(forward)
    assert [(kind, severity) for kind, severity, *_ in got] == [("not_checked", "note")]
    assert "NotDefinedAnywhere" in got[0][3]


def test_a_function_without_source_is_a_note() -> None:
    namespace: dict[str, Any] = {"tr": tr}
    exec(  # the source of a function made by exec cannot be read back
        "async def made(ctx, x):\n    return await ctx.step(nothing, x)\n", namespace
    )
    definition = tr.workflow(registry=tr.Registry())(namespace["made"])
    got = findings_of(definition)
    assert [(kind, severity) for kind, severity, *_ in got] == [("not_checked", "note")]
    assert "its source is not available" in got[0][3]


def test_joining_a_started_child_by_id_needs_no_arguments() -> None:
    @tr.workflow(registry=LOCAL)
    async def joins(ctx: tr.Context, order_id: str) -> str:
        child_id = await ctx.child(ship, order_id, id=f"ship-{order_id}", wait=False)
        await ctx.child(ship, id=child_id)  # the join: its arguments went with the start
        await ctx.child(ship, wait=True)  # no id: a new child, and it lacks its arguments
        return str(child_id)

    got = findings_of(joins)
    assert [(kind, line) for kind, _, line, _ in got] == [
        ("arguments", line_of(joins.fn, "ctx.child(ship, wait=True)"))
    ]
