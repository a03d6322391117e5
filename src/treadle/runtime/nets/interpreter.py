"""The net interpreter: a workflow body that plays a net's token game through the context.

It runs like any durable function, so retries, timeouts, cancellation, crash recovery and
replay are the engine's own. Each round (see ``treadle.core.nets.tokens``):

1. at the boundary, take a pending topology change, if one arrived, and apply it when the
   changed net passes the analysis from the current marking (``net_changed``), or say why
   not (``net_change_refused``);
2. stop with the result when the marking is the final one;
3. plan the round's firings in declaration order; their steps run together through
   ``ctx.gather`` (a step is ``ctx.step``, a workflow is ``ctx.child``), routing transitions
   need no call;
4. when all have finished, produce their tokens and record one ``transition_fired`` event per
   firing with the marking it produced.

Replay runs the same rounds again: every decision depends only on the net, the input and
recorded results, and each net event carries a sequence number, so a firing or change that
the history already holds is not written again.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Sequence
from typing import Any

from treadle import errors
from treadle.core import replay
from treadle.core.history import EventKind
from treadle.core.nets import changes, model, tokens
from treadle.runtime import registry
from treadle.runtime.context import Context
from treadle.runtime.nets.program import Program

CHANGE_SIGNAL = "treadle.net_change"
"""The reserved signal that carries a topology change to a running net case."""

LOOK_INTERVAL = 1.0
"""Seconds between looks for changes that arrived while the run executes (it also sees them
whenever it resumes)."""


class _Run:
    """One execution of a net run: its net (changes replace it), tokens and event count."""

    def __init__(self, ctx: Context, program: Program, data: Any) -> None:
        self.ctx = ctx
        self.program = program
        self.net = program.net
        self.tokens = tokens.Tokens(self.net.places, self.net.initial, data)
        self.seq = 0
        journal = ctx._journal
        # What earlier executions recorded; events written from here on are not in the
        # journal, and need not be: this execution keeps its own count.
        self.recorded = max(journal.net_log, default=-1)
        self.last_look = time.monotonic()

    def behaviours(self) -> dict[str, tokens.Behaviour]:
        return {t.name: self.program.behaviour(t) for t in self.net.transitions}

    def record(self, kind: EventKind, name: str, data: dict[str, Any]) -> None:
        """Write a net event once: not if an earlier execution of the run wrote it."""
        if self.seq not in self.ctx._journal.net_log:
            self.ctx._record_soon(kind, name=name, data={"seq": self.seq, **data})
        self.seq += 1

    def live(self) -> bool:
        """Whether no earlier execution went past this point."""
        position = self.ctx._peek_position()
        return position > self.ctx._journal.last_position and self.seq > self.recorded


async def run(ctx: Context, program: Program, data: Any) -> Any:
    """Play the net from its initial marking (every token carrying ``data``) to the end."""
    state = _Run(ctx, program, data)
    behaviours = state.behaviours()
    while True:
        change = await _take_change(state)
        if change is not None:
            _change(state, change)
            behaviours = state.behaviours()
        counts = state.tokens.counts()
        final = state.net.final
        if final is not None and counts == dict(final):
            return state.tokens.result()
        firings = state.tokens.plan(state.net, behaviours)
        if not firings:
            if final is None:
                return state.tokens.result()
            raise errors.NetStuckError(
                f"{program.kind} {state.net.name!r} is stuck at "
                f"{model.show_marking(counts, state.net.places)}: no transition is enabled "
                f"there (or every guard refused the tokens) and it is not the final marking "
                f"{model.show_marking(final, state.net.places)}",
                marking=counts,
            )
        results = await _fire(ctx, program, firings, behaviours)
        markings = tokens.sequential_markings(counts, firings)
        for firing, outcome, marking in zip(firings, results, markings, strict=True):
            produced = behaviours[firing.transition.name].produce(
                firing.transition, firing.consumed, outcome
            )
            state.tokens.complete(firing, produced)
            state.record(EventKind.TRANSITION_FIRED, firing.transition.name, {"marking": marking})


async def _fire(
    ctx: Context,
    program: Program,
    firings: Sequence[tokens.Firing],
    behaviours: dict[str, tokens.Behaviour],
) -> list[list[Any]]:
    """Run the steps of a round's firings at the same time; their results, per firing.

    Every call is let finish; then the first failure (in firing order) is raised, so the
    run fails (or retries later) with no firing of the round recorded.
    """
    calls: list[Awaitable[tuple[bool, Any]]] = []
    sizes: list[int] = []
    for firing in firings:
        transition = firing.transition
        arguments = behaviours[transition.name].calls(firing.consumed)
        sizes.append(len(arguments))
        if not arguments:
            continue
        target = program.steps[transition.step or ""]
        for args in arguments:
            if isinstance(target, registry.Workflow):
                calls.append(_settle(ctx.child(target, *args)))
            else:
                calls.append(_settle(ctx.step(target, *args)))
    outcomes = await ctx.gather(*calls) if calls else []
    for ok, value in outcomes:
        if not ok:
            raise value
    results: list[list[Any]] = []
    index = 0
    for size in sizes:
        results.append([value for _, value in outcomes[index : index + size]])
        index += size
    return results


async def _settle(call: Awaitable[Any]) -> tuple[bool, Any]:
    # Failures come back as values so that ``gather`` lets every call of the round finish;
    # the engine's own signals (suspension, a lost lease) are BaseExceptions and pass.
    try:
        return True, await call
    except Exception as exc:
        return False, exc


async def _take_change(state: _Run) -> Any:
    """The payload of a change to apply at this boundary, or None; the same on replay."""
    ctx = state.ctx
    journal = ctx._journal
    recorded = journal.calls.get(ctx._peek_position())
    if recorded is not None:
        if recorded.kind == replay.WAIT and recorded.name == CHANGE_SIGNAL:
            return await ctx.wait_for(CHANGE_SIGNAL)
        return None
    if not state.live():
        return None
    if journal.free_signal(CHANGE_SIGNAL) is None:
        if time.monotonic() - state.last_look < LOOK_INTERVAL:
            return None
        state.last_look = time.monotonic()
        await ctx._look_for_signals(CHANGE_SIGNAL)
        if journal.free_signal(CHANGE_SIGNAL) is None:
            return None
    return await ctx.wait_for(CHANGE_SIGNAL)


def _change(state: _Run, payload: Any) -> None:
    """Apply a change if the net, changed, passes the analysis from the current marking."""
    counts = state.tokens.counts()
    data = payload.get("change") if isinstance(payload, dict) else None
    try:
        change = changes.NetChange.from_json(data)
        changed = changes.apply(state.net, change)
        problems = state.program.unbound(list(change.add_transitions))
        if not problems:
            found = changes.check(
                changed,
                counts,
                added=[t.name for t in change.add_transitions],
                removed_places=change.remove_places,
            )
            problems = [finding.format(changed.name) for finding in found]
    except errors.InvalidNetError as exc:
        problems = [exc.message]
    if problems:
        state.record(
            EventKind.NET_CHANGE_REFUSED,
            state.net.name,
            {"change": data, "marking": counts, "findings": problems},
        )
        return
    state.net = changed
    state.tokens.reshape(changed.places)
    state.record(EventKind.NET_CHANGED, state.net.name, {"change": data, "marking": counts})
