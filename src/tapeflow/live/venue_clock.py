"""The venue's time as the node's clock: for the local paper venue, whose day is a recorded tape, not today.

Against Alpaca the node's clock is the wall clock: it is 10:31 New York time when the data says so. The paper venue
replays a day of 2012 at its own pace (stepped by a test, or N times the wall clock), so the wall clock would put
every order outside the trading session (risk's session window), every throttle on the wrong scale, and every
timestamp a decade away from the data. Here the node's time is the venue's instead: the time of the newest market
event received (``ts_event``, the venue's stamp), standing still until the next one arrives.

``VenueClock`` is the live driver's ``WallClock`` in this mode. ``now`` is the venue time; ``wait`` returns when a
future completes (data, the inbox's doorbell) and never because time passed, since on the venue's clock time passes
only with data: timers fire when the data's time reaches them, as in a backtest. Status events of the feed (stale,
resumed, backfill) are stamped with the venue time at which they happened (``on_venue_time``), not the wall time:
the kernel's time never leaves the tape's day.

Tick-to-trade is still a wall-clock figure: ``on_venue_time`` remembers when each dispatched stamp arrived on the
socket (the feed's wall stamp), and ``TickToTradeBridge`` measures an order from that arrival to its bytes written.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Callable, Collection
from typing import Any, Final

import msgspec

from tapeflow.model.events import Event
from tapeflow.model.market import Bar, Quote, Trade
from tapeflow.model.orders import OrderCommand

MARKET_EVENTS: Final = (Trade, Quote, Bar)
_REMEMBERED: Final = 8192
"""Arrival times kept for tick-to-trade (the orders of a run refer to recent data)."""


class VenueClock:
    """The node's clock in venue-time mode: the newest venue stamp seen, waited on only through futures."""

    __slots__ = ("_now",)

    def __init__(self, start: int = 0) -> None:
        self._now = start

    def now(self) -> int:
        return self._now

    def advance(self, ts: int) -> int:
        """Move to ``ts`` if it is later (never back); returns the clock's time."""
        if ts > self._now:
            self._now = ts
        return self._now

    async def sleep_until(self, ts: int) -> None:
        """Venue time moves only with data: sleeping for it means waiting for the data to get there."""
        while self._now < ts:
            await asyncio.sleep(0.001)

    async def wait(self, futures: Collection[asyncio.Future[Any]], until: int) -> None:
        if until <= self._now:
            await asyncio.sleep(0)
            return
        await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)


class Arrivals:
    """Wall arrival time of recently dispatched venue stamps (bounded), for tick-to-trade in venue-time mode."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: OrderedDict[int, int] = OrderedDict()

    def note(self, venue_ts: int, wall_ts: int) -> None:
        seen = self._seen
        if venue_ts not in seen:  # the first arrival of a stamp is the one an order can react to
            seen[venue_ts] = wall_ts
            if len(seen) > _REMEMBERED:
                seen.popitem(last=False)

    def get(self, venue_ts: int) -> int | None:
        return self._seen.get(venue_ts)


class VenueTimeFeed:
    """``source`` (a market data adapter stamping arrival in ``ts_init``) restamped with the venue's time.

    Market events: ``ts_init`` = their ``ts_event`` (never below the last one: a backfilled or late event is seen
    now, not in the past). Anything else the feed says (stale, resumed, backfill markers): stamped with the venue
    time it happened at. The rest of a frame the source already decoded is handed over without a wait, as the
    source itself would (``next_ready``, ``tapeflow.live.driver.ReadySource``)."""

    __slots__ = ("_arrivals", "_clock", "_inner", "_take")

    def __init__(self, source: AsyncIterable[Event], clock: VenueClock, arrivals: Arrivals | None = None) -> None:
        self._inner: AsyncIterator[Event] = source.__aiter__()
        self._take: Callable[[], Event | None] | None = getattr(source, "next_ready", None)
        self._clock = clock
        self._arrivals = arrivals

    def __aiter__(self) -> VenueTimeFeed:
        return self

    async def __anext__(self) -> Event:
        return self._restamp(await self._inner.__anext__())

    def next_ready(self) -> Event | None:
        take = self._take
        event = None if take is None else take()
        return None if event is None else self._restamp(event)

    def _restamp(self, event: Event) -> Event:
        clock = self._clock
        if isinstance(event, MARKET_EVENTS):
            arrived = event.ts_init
            now = clock.advance(event.ts_event)
            if self._arrivals is not None:
                self._arrivals.note(now, arrived)
            return msgspec.structs.replace(event, ts_init=now)
        now = clock.now()
        return msgspec.structs.replace(event, ts_event=now, ts_init=now)


def on_venue_time(source: AsyncIterable[Event], clock: VenueClock, arrivals: Arrivals | None = None) -> VenueTimeFeed:
    """``source`` on the venue's clock (``VenueTimeFeed``)."""
    return VenueTimeFeed(source, clock, arrivals)


class TickToTradeBridge:
    """The order sender's ``on_written`` hook in venue-time mode: from the data's wall arrival to the bytes written.

    ``record(latency_ns, written_ns)`` is the meter's (``LatencyMeter.record``: the write time feeds its rate); an
    order whose trigger is not a remembered market event (a timer, the control socket) is not a tick-to-trade
    sample and is skipped (counted in ``unmatched``)."""

    __slots__ = ("_arrivals", "_record", "unmatched")

    def __init__(self, arrivals: Arrivals, record: Callable[[int, int], None]) -> None:
        self._arrivals = arrivals
        self._record = record
        self.unmatched = 0

    def on_written(self, command: OrderCommand, written_ns: int) -> None:
        arrived = self._arrivals.get(command.ts_init)
        if arrived is None:
            self.unmatched += 1
            return
        self._record(written_ns - arrived, written_ns)
