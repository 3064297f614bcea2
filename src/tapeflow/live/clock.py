"""Wall clocks for the real-time live driver: what time it is, and how to wait for a time.

The driver never sleeps on its own: it waits through the clock it is given, so the same driver code runs on
``RealTimeClock`` (the wall clock, asyncio sleeping) and on ``FakeClock`` (tests: time jumps ahead as soon as
nothing else can run, so a test of a quiet minute takes milliseconds and gives the same result every time).
The ``Clock`` protocol of ``tapeflow.engine`` (``now()`` only) stays what components see; waiting needs asyncio,
which lives here at the edge.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from heapq import heappop, heappush
from typing import Any, Protocol, runtime_checkable

from tapeflow.engine.clock import Clock, LiveClock

_IDLE_CYCLES = 42
"""Passes of the event loop with nothing else ready before FakeClock jumps (looptime counts 42 passes, too)."""


@runtime_checkable
class WallClock(Protocol):
    def now(self) -> int:
        """Current wall time, int ns since the Unix epoch, UTC."""
        ...

    async def sleep_until(self, ts: int) -> None:
        """Return once the clock reads ``ts`` or later."""
        ...

    async def wait(self, futures: Collection[asyncio.Future[Any]], until: int) -> None:
        """Return when one of ``futures`` is done or the clock reaches ``until``, whichever comes first.

        Always lets the loop run at least once, even when ``until`` has passed."""
        ...


class RealTimeClock:
    """The wall clock (``now`` of the ``Clock`` it wraps, by default ``LiveClock``), waited on with asyncio."""

    __slots__ = ("_clock",)

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock if clock is not None else LiveClock()

    def now(self) -> int:
        return self._clock.now()

    async def sleep_until(self, ts: int) -> None:
        await asyncio.sleep(max(0.0, (ts - self._clock.now()) / 1e9))

    async def wait(self, futures: Collection[asyncio.Future[Any]], until: int) -> None:
        timeout = max(0.0, (until - self._clock.now()) / 1e9)
        await asyncio.wait(futures, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)


def as_wall_clock(clock: Clock | None) -> WallClock:
    """``clock`` if it can wait; a ``Clock`` that only tells time is waited on in real time (``RealTimeClock``)."""
    if isinstance(clock, WallClock):
        return clock
    return RealTimeClock(clock)


class FakeClock:
    """Wall time for tests: stands still while anything can run, jumps to the earliest sleeper when nothing can.

    "Nothing can run" means ``idle_cycles`` passes of the event loop in a row in which no other callback was
    ready. That is exact for work on the loop, including what threads hand to it (``call_soon_threadsafe``); a
    thread still working is invisible, so time may jump meanwhile (a test that needs a thread's put to land first
    waits for it).
    """

    __slots__ = ("_idle_cycles", "_now", "_seq", "_sleepers", "_ticker", "jumps")

    def __init__(self, start: int = 0, *, idle_cycles: int = _IDLE_CYCLES) -> None:
        self._now = start
        self._idle_cycles = idle_cycles
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = 0
        self._ticker: asyncio.Task[None] | None = None
        self.jumps = 0
        """How many times time jumped ahead (how many times everything waited on this clock)."""

    def now(self) -> int:
        return self._now

    async def sleep_until(self, ts: int) -> None:
        if ts <= self._now:
            await asyncio.sleep(0)
            return
        sleeper = self._sleeper(ts)
        try:
            await sleeper
        finally:
            sleeper.cancel()

    async def wait(self, futures: Collection[asyncio.Future[Any]], until: int) -> None:
        if until <= self._now:
            await asyncio.sleep(0)
            return
        sleeper = self._sleeper(until)
        try:
            await asyncio.wait({*futures, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()  # no-op once it fired; otherwise the ticker drops it

    def _sleeper(self, ts: int) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        sleeper: asyncio.Future[None] = loop.create_future()
        heappush(self._sleepers, (ts, self._seq, sleeper))
        self._seq += 1
        if self._ticker is None or self._ticker.done():
            self._ticker = loop.create_task(self._tick())
        return sleeper

    async def _idle(self) -> None:
        """Returns after ``idle_cycles`` passes of the loop in a row with nothing but this task ready."""
        # No public API tells whether callbacks are ready; CPython's loop keeps them in ``_ready``. On a loop without
        # it, the passes are counted blindly, as looptime does.
        ready = getattr(asyncio.get_running_loop(), "_ready", None)
        quiet = 0
        while quiet < self._idle_cycles:
            await asyncio.sleep(0)
            quiet = 0 if ready else quiet + 1

    async def _tick(self) -> None:
        sleepers = self._sleepers
        while True:
            await self._idle()
            while sleepers and sleepers[0][2].done():
                heappop(sleepers)
            if not sleepers:
                return
            self._now = max(self._now, sleepers[0][0])
            self.jumps += 1
            while sleepers and sleepers[0][0] <= self._now:
                sleeper = heappop(sleepers)[2]
                if not sleeper.done():
                    sleeper.set_result(None)
