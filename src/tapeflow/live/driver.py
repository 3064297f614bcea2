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
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Iterable

import msgspec

from tapeflow.engine.clock import Clock, LiveClock
from tapeflow.engine.kernel import Kernel
from tapeflow.model.errors import EngineError
from tapeflow.model.events import Event

UPKEEP_INTERVAL_NS = 200_000_000
"""How often (wall time) a real-time run calls ``Kernel.upkeep``: a lone audit record reaches the writer within it."""


async def run_live(
    kernel: Kernel,
    source: AsyncIterable[Event],
    *,
    realtime: bool = False,
    wall: Clock | None = None,
    until: int | None = None,
    upkeep_interval_ns: int = UPKEEP_INTERVAL_NS,
) -> Kernel:
    """Drive ``kernel`` from ``source`` until it is exhausted, then finish and stop the kernel."""
    if upkeep_interval_ns <= 0:
        raise EngineError(f"upkeep_interval_ns must be positive, got {upkeep_interval_ns}; the default is 0.2 s")
    events = source.__aiter__()
    clock = wall if wall is not None else LiveClock()
    if realtime:
        kernel.start(at=clock.now())
    else:
        first = await anext(events, None)
        kernel.start(at=None if first is None else first.ts_init)
    try:
        if realtime:
            await _run_realtime(kernel, events, clock, upkeep_interval_ns)
        else:
            if first is not None:
                kernel.run((first,))
            async for event in events:
                kernel.run((event,))
        kernel.finish(until)
    finally:
        kernel.stop()
    return kernel


async def _run_realtime(kernel: Kernel, events: AsyncIterator[Event], wall: Clock, upkeep_ns: int) -> None:
    pending: asyncio.Task[Event] | None = None
    next_upkeep = wall.now() + upkeep_ns
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(events))
            due = kernel.next_due()
            wake = next_upkeep if due is None else min(due, next_upkeep)
            done, _ = await asyncio.wait({pending}, timeout=max(0.0, (wake - wall.now()) / 1e9))
            now = wall.now()
            if done:
                try:
                    event = pending.result()
                except StopAsyncIteration:
                    pending = None
                    return
                pending = None
                kernel.run((_restamp(event, max(now, kernel.now)),))
            else:
                kernel.advance(max(now, kernel.now))
            if now >= next_upkeep:
                kernel.upkeep()
                next_upkeep = now + upkeep_ns
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending


def _restamp(event: Event, ts_init: int) -> Event:
    """The event as seen by us: same content, ``ts_init`` = arrival time."""
    return msgspec.structs.replace(event, ts_init=ts_init)


async def replay(events: Iterable[Event], *, pause: float = 0.0) -> AsyncIterator[Event]:
    """An async source replaying a recorded tape; it yields to the loop between events, as a socket would."""
    for event in events:
        await asyncio.sleep(pause)
        yield event
