"""The net interpreter: a workflow body that plays a net's token game through the context.

It runs like any durable function, so retries, timeouts, cancellation, crash recovery and
replay are the engine's own. It is event-driven (the game itself is
``treadle.core.nets.tokens.Case``):

- a transition *starts* as soon as it is enabled: it takes its tokens, the history gets a
  ``transition_started`` event, and its step calls (``ctx.step``, or ``ctx.child`` for a
  workflow) begin at once, each in a task of its own; a routing transition (no call) fires
  on the spot;
- a firing *completes* as soon as its own calls have finished: it produces its tokens, the
  history gets a ``transition_fired`` event with the marking, and whatever that enables
  starts right away, while the other firings keep running;
- at every firing boundary the run takes a pending topology change, if one arrived, and
  applies it when the changed net passes the analysis from the current marking
  (``net_changed``), or says why not (``net_change_refused``).

Replay. Every net event carries ``seq``, its number among the run's net events. Which
transitions start, with which tokens, at which call positions, follows from the net, the
input and the order in which firings completed; that order is the one thing that depends on
timing, and the history holds it. So a replay plays the game again and, while the history
has net events ahead, completes the firing that the next recorded ``transition_fired`` names
instead of the one that finishes first; an event the replay produces is checked against the
recorded one with the same ``seq`` and not written again. Past the end of the recorded
events the run goes on live. A replay that cannot follow its history (the net was changed
under a running run) fails with ``NonDeterminismError`` naming the transitions.

A step that fails for good stops the starting and recording: the run lets the running calls
finish (so that no step result is lost) and fails; a retry of the run replays up to there
and goes on from the failed step.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import heapq
import time
from typing import Any

from treadle import errors
from treadle.core import replay
from treadle.core.history import Event, EventKind
from treadle.core.nets import changes, model, tokens
from treadle.runtime import registry
from treadle.runtime.context import Context
from treadle.runtime.control import Suspend
from treadle.runtime.nets.program import Program, Target

CHANGE_SIGNAL = "treadle.net_change"
"""The reserved signal that carries a topology change to a running net case."""

LOOK_INTERVAL = 1.0
"""Seconds between looks for changes that arrived while the run executes (it also sees them
whenever it resumes)."""

ROUTING_BURST = 1000
"""Routing firings in a row after which the run lets the event loop breathe (a net that
loops on routing transitions alone must not hold the worker's loop)."""

_CHANGE_KINDS = (EventKind.NET_CHANGED, EventKind.NET_CHANGE_REFUSED)


@dataclasses.dataclass(eq=False)
class _Flight:
    """A firing whose calls are running."""

    firing: tokens.Firing
    behaviour: tokens.Behaviour
    tasks: list[asyncio.Task[tuple[bool, Any]]] = dataclasses.field(default_factory=list)
    pending: int = 0
    """Calls not finished yet."""
    suspended: bool = False
    """A call waits for something durable (a child, a long retry delay): it cannot complete
    in this execution of the run."""


class _Run:
    """One execution of a net run: its game, the firings in flight and the net event count."""

    def __init__(self, ctx: Context, program: Program, data: Any) -> None:
        self.ctx = ctx
        self.program = program
        self.case = tokens.Case(program.net, self._behaviours(program.net), data)
        self.flights: dict[int, _Flight] = {}
        # Calls report here as they finish, so that waiting for the next one costs the same
        # with three firings running as with three hundred.
        self.finished: collections.deque[tuple[int, asyncio.Task[tuple[bool, Any]]]] = (
            collections.deque()
        )
        self.wakeup = asyncio.Event()
        self.ready: list[int] = []
        """Firings whose calls have all finished well, as a heap: the lowest number first."""
        self.calls = 0
        """Calls not finished yet, over all flights."""
        self.failure: Exception | None = None
        """The error of a firing that failed for good: nothing more starts or is recorded."""
        self.seq = 0
        journal = ctx._journal
        # What earlier executions recorded. Events written from here on go to the journal
        # too (those awaited), but this execution keeps its own count of where it is.
        self.recorded = max(journal.net_log, default=-1)
        self.last_look = time.monotonic()

    @property
    def net(self) -> model.Net:
        return self.case.net

    def _behaviours(self, net: model.Net) -> dict[str, tokens.Behaviour]:
        return {t.name: self.program.behaviour(t) for t in net.transitions}

    # -- the history --------------------------------------------------------------------------

    def logged(self) -> Event | None:
        """The recorded net event this execution has reached, if the history has one."""
        if self.seq > self.recorded:
            return None
        return self.ctx._journal.net_log.get(self.seq)

    def check(self, kind: EventKind, name: str, firing: int | None) -> bool:
        """Whether the history holds this event already (it must then be the same one)."""
        logged = self.logged()
        if logged is None:
            return False
        same = logged.kind is kind and logged.name == name
        if same and firing is not None:
            same = (logged.data or {}).get("firing") == firing
        if not same:
            raise self.diverged(logged, f"{kind.value} {name!r}" + _nth(firing))
        return True

    def note(self, kind: EventKind, name: str, data: dict[str, Any]) -> None:
        """Record a net event that follows from what was recorded before it; a replay makes
        it again at the same ``seq``, so it need not be awaited (a lost one is rewritten)."""
        if not self.check(kind, name, data.get("firing")):
            self.ctx._record_soon(kind, name=name, data={"seq": self.seq, **data})
        self.seq += 1

    async def decide(self, kind: EventKind, name: str, data: dict[str, Any]) -> None:
        """Record a net event that depends on timing, before anything that follows it."""
        if not self.check(kind, name, data.get("firing")):
            # The interpreter drives the execution of its own run, as the context does.
            await self.ctx._execution.record(kind, name=name, data={"seq": self.seq, **data})
        self.seq += 1

    def diverged(self, logged: Event, found: str) -> errors.NonDeterminismError:
        firing = (logged.data or {}).get("firing")
        expected = f"{logged.kind.value} {logged.name!r}" + _nth(firing)
        return errors.NonDeterminismError(
            f"run {self.ctx.run_id} diverged from its history at net event #{self.seq}: the "
            f"history records {expected} but the {self.program.kind} {self.net.name!r} now "
            f"makes {found}. The {self.program.kind} changed under a running run: register "
            "the new definition as a new version (tr.workflow(..., version=...)) so that "
            "running runs finish on the one they started with.",
            run_id=self.ctx.run_id,
            position=None,
            event=self.seq,
            expected=expected,
            found=found,
        )

    # -- playing --------------------------------------------------------------------------------

    async def play(self) -> Any:
        while True:
            if self.failure is None:
                change = await self.take_change()
                if change is not None:
                    self.change(change)
                if self.case.is_final():
                    return self.end()
                created, more = self.start()
                if created or more:
                    # New calls take their positions now, in the order they were made, before
                    # anything else can take one (see ``_call``).
                    await asyncio.sleep(0)
                if more:
                    continue
            if self.failure is not None:
                await self.drain()
                raise self.failure
            if not self.flights:
                if self.net.final is None or self.case.is_final():
                    return self.end()
                self.end()
                counts = self.case.marking()
                raise errors.NetStuckError(
                    f"{self.program.kind} {self.net.name!r} is stuck at "
                    f"{model.show_marking(counts, self.net.places)}: no transition is enabled "
                    f"there (or every guard refused the tokens) and it is not the final marking "
                    f"{model.show_marking(self.net.final, self.net.places)}",
                    marking=counts,
                )
            flight = await self.next_completion()
            if flight is not None:
                await self.complete(flight)
            elif self.failure is None:
                raise Suspend()  # every firing still running waits for something durable

    def end(self) -> Any:
        """The run's result; first, a replay must have met every recorded net event."""
        logged = self.logged()
        if logged is not None:
            raise self.diverged(logged, "nothing more (it has ended)")
        return self.case.tokens.result()

    def start(self) -> tuple[bool, bool]:
        """Start every firing the tokens allow; routing firings complete at once.

        Returns whether calls were started, and whether more firings may start (a long run
        of routing firings stops early; see ``ROUTING_BURST``). Nothing here awaits, so the
        firings and the positions of their calls are the same on every replay.
        """
        created = False
        routed = 0
        positions = self.ctx._peek_position()
        while True:
            try:
                firing = self.case.start()
                if firing is None:
                    return created, False
                behaviour = self.case.behaviour(firing.transition)
                arguments = behaviour.calls(firing.consumed)
                target = self.target(firing.transition, arguments)
                produced = (
                    None if arguments else behaviour.produce(firing.transition, firing.consumed, [])
                )
            except Exception as exc:  # a guard, a map's list or a binding that fails
                self.failure = exc
                return created, False
            name = firing.transition.name
            if produced is not None:
                marking = self.case.complete(firing.number, produced)
                self.note(EventKind.TRANSITION_FIRED, name, _fired(firing, marking))
                routed += 1
                if routed >= ROUTING_BURST:
                    return created, True
                continue
            assert target is not None
            calls = list(range(positions, positions + len(arguments)))
            self.note(
                EventKind.TRANSITION_STARTED, name, {"firing": firing.number, "positions": calls}
            )
            flight = _Flight(firing, behaviour, pending=len(arguments))
            for args, position in zip(arguments, calls, strict=True):
                task = asyncio.ensure_future(_call(self.ctx, target, args, position))
                task.add_done_callback(functools.partial(self.call_done, firing.number))
                flight.tasks.append(task)
            self.calls += len(arguments)
            positions += len(arguments)
            self.flights[firing.number] = flight
            created = True

    def target(self, transition: model.Transition, arguments: list[Any]) -> Target | None:
        """What the transition's calls run; a child workflow is resolved here, so that its
        call takes its position as surely as a step's does."""
        if not arguments:
            return None
        target = self.program.steps[transition.step or ""]
        if isinstance(target, registry.Workflow):
            definition = self.ctx._execution.registry.resolve(target)
            for args in arguments:
                definition.bind(args, {})
        return target

    async def next_completion(self) -> _Flight | None:
        """The next firing to complete: the one the history names, or else the first whose
        calls have all finished. ``None`` when none can: a firing failed, or every running one
        waits for something durable."""
        logged = self.logged()
        if logged is not None:
            number = (logged.data or {}).get("firing")
            flight = self.flights.get(number) if isinstance(number, int) else None
            if (
                logged.kind is not EventKind.TRANSITION_FIRED
                or flight is None
                or flight.firing.transition.name != logged.name
            ):
                running = ", ".join(
                    f"{f.firing.transition.name!r}{_nth(n)}"
                    for n, f in sorted(self.flights.items())
                )
                raise self.diverged(logged, f"no such event: it waits for {running} to finish")
            await asyncio.wait(flight.tasks)
            for task in flight.tasks:
                self.examine(flight, task)
            if flight.suspended and self.failure is None:
                name = flight.firing.transition.name
                raise self.diverged(logged, f"{name!r} wait for something that has not happened")
            return None if self.failure is not None else flight
        while True:
            while self.finished:
                number, task = self.finished.popleft()
                flight = self.flights.get(number)
                if flight is None:
                    continue  # completed already, as the history said
                self.examine(flight, task)
                if not flight.pending and not flight.suspended:
                    heapq.heappush(self.ready, number)
            if self.failure is not None:
                return None
            while self.ready:
                flight = self.flights.get(heapq.heappop(self.ready))
                if flight is not None:
                    return flight
            if not self.calls:
                return None
            self.wakeup.clear()
            await self.wakeup.wait()

    def call_done(self, number: int, task: asyncio.Task[tuple[bool, Any]]) -> None:
        """A call of firing ``number`` finished (a task's done callback)."""
        self.calls -= 1
        flight = self.flights.get(number)
        if flight is not None:
            flight.pending -= 1
        self.finished.append((number, task))
        self.wakeup.set()
        if not task.cancelled():
            task.exception()  # read, so asyncio never logs one that nobody retrieved

    def examine(self, flight: _Flight, task: asyncio.Task[tuple[bool, Any]]) -> None:
        """Take in the outcome of one finished call: raise the engine's signals (a lost
        lease, a passed deadline) at once, note suspensions and failures."""
        if task.cancelled():
            raise asyncio.CancelledError()
        error = task.exception()
        if isinstance(error, Suspend):
            flight.suspended = True
        elif error is not None:
            raise error
        else:
            ok, value = task.result()
            if not ok and self.failure is None:
                self.failure = value

    async def complete(self, flight: _Flight) -> None:
        firing = flight.firing
        results = [task.result()[1] for task in flight.tasks]
        try:
            produced = flight.behaviour.produce(firing.transition, firing.consumed, results)
        except Exception as exc:  # a choice's condition that fails
            self.failure = exc
            return
        del self.flights[firing.number]
        marking = self.case.complete(firing.number, produced)
        name = firing.transition.name
        await self.decide(EventKind.TRANSITION_FIRED, name, _fired(firing, marking))

    async def drain(self) -> None:
        """Let every running call finish, so that no step's result is lost; then raise the
        first engine signal among them, if any."""
        pending = [t for f in self.flights.values() for t in f.tasks]
        if pending:
            await asyncio.wait(pending)
        for flight in self.flights.values():
            for task in flight.tasks:
                self.examine(flight, task)

    async def stop(self) -> None:
        """Cancel the calls still running (the run is leaving) and wait until they end."""
        pending = [t for f in self.flights.values() for t in f.tasks if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.shield(asyncio.wait(pending))

    # -- changes --------------------------------------------------------------------------------

    async def take_change(self) -> Any:
        """The payload of a change to apply at this boundary, or None; the same on replay."""
        ctx = self.ctx
        journal = ctx._journal
        logged = self.logged()
        if logged is not None:
            # The history says what happened here: a change taken, or the game went on.
            if logged.kind in _CHANGE_KINDS:
                return await ctx.wait_for(CHANGE_SIGNAL)
            return None
        recorded = journal.calls.get(ctx._peek_position())
        if recorded is not None:
            # A change taken here whose net event was lost with the worker that took it.
            if recorded.kind == replay.WAIT and recorded.name == CHANGE_SIGNAL:
                return await ctx.wait_for(CHANGE_SIGNAL)
            return None
        if self.seq <= self.recorded:
            return None  # a recorded event was lost here; it was not a change
        if journal.free_signal(CHANGE_SIGNAL) is None:
            if time.monotonic() - self.last_look < LOOK_INTERVAL:
                return None
            self.last_look = time.monotonic()
            await ctx._look_for_signals(CHANGE_SIGNAL)
            if journal.free_signal(CHANGE_SIGNAL) is None:
                return None
        return await ctx.wait_for(CHANGE_SIGNAL)

    def change(self, payload: Any) -> None:
        """Apply a change if the net, changed, passes the analysis from the current marking
        and leaves the running transitions as they are."""
        counts = self.case.marking()
        data = payload.get("change") if isinstance(payload, dict) else None
        running = [f.firing.transition.name for _, f in sorted(self.flights.items())]
        try:
            change = changes.NetChange.from_json(data)
            changed = changes.apply(self.net, change)
            problems = self.program.unbound(list(change.add_transitions))
            problems += changes.running_conflicts(change, running)
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
            self.note(
                EventKind.NET_CHANGE_REFUSED,
                self.net.name,
                {"change": data, "marking": counts, "findings": problems},
            )
            return
        self.case.change(changed, self._behaviours(changed))
        self.note(EventKind.NET_CHANGED, self.net.name, {"change": data, "marking": counts})


async def run(ctx: Context, program: Program, data: Any) -> Any:
    """Play the net from its initial marking (every token carrying ``data``) to the end."""
    state = _Run(ctx, program, data)
    try:
        return await state.play()
    finally:
        await state.stop()


async def _call(ctx: Context, target: Target, args: tuple[Any, ...], position: int) -> Any:
    """One call of a firing. Failures come back as values; the engine's signals (suspension,
    a lost lease) and a divergence from the history are raised."""
    # Each call takes its position first thing, in the order the calls were made: the run
    # yields to the event loop right after starting them, and tasks start in FIFO order.
    if ctx._peek_position() != position:
        raise RuntimeError(
            f"net call expected position {position}, the context is at "
            f"{ctx._peek_position()}: calls were made out of order"
        )
    try:
        if isinstance(target, registry.Workflow):
            return True, await ctx.child(target, *args)
        return True, await ctx.step(target, *args)
    except errors.NonDeterminismError:
        raise
    except Exception as exc:
        return False, exc


def _fired(firing: tokens.Firing, marking: dict[str, int]) -> dict[str, Any]:
    return {"firing": firing.number, "marking": marking}


def _nth(firing: Any) -> str:
    return "" if firing is None else f" (firing {firing})"
