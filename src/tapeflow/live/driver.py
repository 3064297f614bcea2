"""The live driver: events from an async source go into the same kernel, one arrival at a time.

This is the only place where asyncio meets the kernel. Each arrival is handed to ``Kernel.run`` as a one-event
tape, so the dispatch order is exactly the backtest's (see ``tapeflow.engine.kernel``).

Two modes:

- ``realtime=False`` (replay): time comes from the events themselves (``ts_init``); timers fire as event time
  passes them. A recorded tape replayed this way gives byte-identical output to the backtest driver.
- ``realtime=True``: each event is stamped with wall time on arrival (``ts_init``; never earlier than the kernel's
  current time), and the driver wakes up for timers when the wall clock reaches them even if no data arrives. It
  also calls ``Kernel.upkeep`` every ``upkeep_interval_ns`` of wall time, busy or quiet (the audit trail hands a
  lone record to its writer there instead of waiting for the next record).

  Which arrival, ``stamp`` says. ``"dispatch"`` (the default): the wall time at which the driver takes the event,
  for sources that do not stamp. ``"source"``: the event's own ``ts_init`` (kept between the kernel's now and the
  wall's: a stamp from another clock can neither go back in time nor move the kernel ahead of the wall), for a
  market data adapter that stamps each event with the wall time its frame was read from the socket: what an order
  carries as ``ts_init`` is then the arrival of the data that triggered it, so tick-to-trade
  (``tapeflow.live.tick_to_trade``) counts the time an event waited behind earlier ones. In that mode what one
  wake-up found is dispatched in time order: the feed event at its own stamp (read before the driver woke, so
  never later than now), then the inbox at now; in ``"dispatch"`` mode both are "now" and the inbox goes first.

Events from outside the feed (order reports, results, commands) come through an ``Inbox``
(``tapeflow.engine.inbox``), drained between feed events in arrival order. In real time they are stamped with
their arrival like feed events and dispatched the same way (what arrived during one wait goes before the feed
event that ended it); a ``put`` wakes the waiting driver, from any thread.
In a replay they are scheduled at their own ``ts_init`` before the next feed event is dispatched, as a backtest's
``ScheduledInbox`` schedules them, so the replay and the backtest agree (an event dated before the kernel's
clock is refused).

The driver waits only through its wall clock (``tapeflow.live.clock``): tests give it a ``FakeClock``.

Batches. Waiting for the source costs a task, a wait and several passes of the event loop (~30 us); a socket
frame carries many messages (Alpaca batches them), and all but the first are already decoded when the first is
dispatched. A source that can say so (``ReadySource``: ``next_ready()`` hands over, without waiting, an event it
holds) has them dispatched right after, one by one, each exactly as if it had been awaited (same stamps, the
inbox delivered between them, none once the source was stopped): one wait per frame instead of one per message
(``benchmarks/bench_live.py``: at 100k msgs/s offered the node held ~28k msgs/s before, ~58k after; CPU per
message went from ~31 us to ~17 us).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

from tapeflow.engine.clock import Clock
from tapeflow.engine.inbox import Inbox
from tapeflow.engine.kernel import Kernel
from tapeflow.live.clock import WallClock, as_wall_clock
from tapeflow.model.errors import EngineError
from tapeflow.model.events import Event

UPKEEP_INTERVAL_NS = 200_000_000
"""How often (wall time) a real-time run calls ``Kernel.upkeep``: a lone audit record reaches the writer within it."""

Stamp = Literal["dispatch", "source"]
"""Which arrival time a real-time run gives a feed event (see the module docstring)."""
STAMPS: tuple[Stamp, ...] = ("dispatch", "source")


@runtime_checkable
class ReadySource(Protocol):
    """A source that can hand over, without waiting, the events it already holds (see "Batches" above)."""

    def next_ready(self) -> Event | None:
        """What the next ``__anext__`` would return at once, taken out of the source; None if it would wait."""
        ...


async def run_live(
    kernel: Kernel,
    source: AsyncIterable[Event],
    *,
    realtime: bool = False,
    wall: Clock | None = None,
    until: int | None = None,
    upkeep_interval_ns: int = UPKEEP_INTERVAL_NS,
    inbox: Inbox | None = None,
    stamp: Stamp = "dispatch",
) -> Kernel:
    """Drive ``kernel`` from ``source`` until it is exhausted, then finish and stop the kernel.

    ``wall`` is the real-time clock (default: the system's); one without ``sleep_until``/``wait`` is waited on
    in real time. What ``inbox`` holds when the source ends is still delivered, before ``finish``. ``stamp``
    (real time only): ``"dispatch"`` or ``"source"``, see the module docstring.
    """
    if upkeep_interval_ns <= 0:
        raise EngineError(f"upkeep_interval_ns must be positive, got {upkeep_interval_ns}; the default is 0.2 s")
    if stamp not in STAMPS:
        raise EngineError(f"stamp must be one of {', '.join(STAMPS)}, got {stamp!r}")
    events = source.__aiter__()
    clock = as_wall_clock(wall)
    if realtime:
        kernel.start(at=clock.now())
    else:
        first = await anext(events, None)
        kernel.start(at=None if first is None else first.ts_init)
    try:
        if realtime:
            await _run_realtime(kernel, events, clock, upkeep_interval_ns, inbox, stamp == "source")
            if inbox is not None:
                _deliver(kernel, inbox, clock.now())
        else:
            if first is not None:
                _schedule(kernel, inbox)
                kernel.run((first,))
            async for event in events:
                _schedule(kernel, inbox)
                kernel.run((event,))
            _schedule(kernel, inbox)
        kernel.finish(until)
    finally:
        kernel.stop()
    return kernel


async def _run_realtime(
    kernel: Kernel,
    events: AsyncIterator[Event],
    wall: WallClock,
    upkeep_ns: int,
    inbox: Inbox | None,
    source_stamp: bool,
) -> None:
    bell = _Doorbell(asyncio.get_running_loop())
    next_ready = events.next_ready if isinstance(events, ReadySource) else None
    if inbox is not None:
        inbox.set_waker(bell.ring)
    pending: asyncio.Future[Event] | None = None
    next_upkeep = wall.now() + upkeep_ns
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(events))
            if inbox is None:
                waiting: set[asyncio.Future[Any]] = {pending}
                wake = _wake_time(kernel, next_upkeep)
            else:
                waiting = {pending, bell.arm()}
                wake = wall.now() if len(inbox) else _wake_time(kernel, next_upkeep)
            await wall.wait(waiting, wake)
            now = wall.now()
            if not source_stamp and inbox is not None and len(inbox):
                _deliver(kernel, inbox, now)
            dispatched = False
            if pending.done():
                try:
                    event = pending.result()
                except StopAsyncIteration:
                    pending = None
                    return
                pending = None
                _dispatch(kernel, event, now, source_stamp)
                dispatched = True
            if source_stamp and inbox is not None and len(inbox):
                _deliver(kernel, inbox, now)
            elif not dispatched:
                kernel.advance(max(now, kernel.now))
            if dispatched and next_ready is not None:
                while (ready := next_ready()) is not None:
                    if not source_stamp and inbox is not None and len(inbox):
                        _deliver(kernel, inbox, now)
                    _dispatch(kernel, ready, now, source_stamp)
                    if source_stamp and inbox is not None and len(inbox):
                        _deliver(kernel, inbox, now)
            if now >= next_upkeep:
                kernel.upkeep()
                next_upkeep = now + upkeep_ns
    finally:
        if inbox is not None:
            inbox.set_waker(None)
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending


def _dispatch(kernel: Kernel, event: Event, now: int, source_stamp: bool) -> None:
    """One feed event, stamped as the module docstring says."""
    if not source_stamp:
        event = _restamp(event, max(now, kernel.now))
    elif not kernel.now <= event.ts_init <= now:  # never behind the kernel, never ahead of the wall
        event = _restamp(event, max(min(event.ts_init, now), kernel.now))
    kernel.run((event,))


def _wake_time(kernel: Kernel, next_upkeep: int) -> int:
    due = kernel.next_due()
    return next_upkeep if due is None else min(due, next_upkeep)


def _deliver(kernel: Kernel, inbox: Inbox, now: int) -> None:
    """Real time: what arrived since the last look, stamped with its arrival, dispatched in arrival order."""
    arrived = inbox.drain()
    if arrived:
        stamp = max(now, kernel.now)
        kernel.run([_restamp(event, stamp) for event in arrived])


def _schedule(kernel: Kernel, inbox: Inbox | None) -> None:
    """Replay: what arrived, scheduled at its own ``ts_init`` (as a backtest's ``ScheduledInbox`` does)."""
    if inbox is not None and len(inbox):
        for event in inbox.drain():
            kernel.emit(event)


class _Doorbell:
    """Wakes the driver's wait when the inbox receives something, whichever thread put it."""

    __slots__ = ("_loop", "_waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiting: asyncio.Future[None] | None = None

    def arm(self) -> asyncio.Future[None]:
        """A future the next ring completes (the driver waits on it with the feed and the clock)."""
        self._waiting = self._loop.create_future()
        return self._waiting

    def ring(self) -> None:
        """Any thread: ask the loop to complete the armed future."""
        with contextlib.suppress(RuntimeError):  # the loop closed after the run: the event stays in the inbox
            self._loop.call_soon_threadsafe(self._answer)

    def _answer(self) -> None:
        waiting = self._waiting
        if waiting is not None and not waiting.done():
            waiting.set_result(None)


def _restamp(event: Event, ts_init: int) -> Event:
    """The event as seen by us: same content, ``ts_init`` = arrival time."""
    return msgspec.structs.replace(event, ts_init=ts_init)


async def replay(events: Iterable[Event], *, pause: float = 0.0) -> AsyncIterator[Event]:
    """An async source replaying a recorded tape; it yields to the loop between events, as a socket would."""
    for event in events:
        await asyncio.sleep(pause)
        yield event
