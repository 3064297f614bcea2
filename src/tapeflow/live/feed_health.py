"""Feed health for the live console: which venues are up, which feeds are stale, how old the last market event is.

A kernel component (added with ``extra=``), so it learns the same facts at the same point of the run as risk and
the audit trail: the connection events (``tapeflow.model.venue_events``, one subscription to ``VenueStatus``) and
every market data event. On the market data path it does two stores per event and nothing else; everything else
is computed when a snapshot asks (``tapeflow.live.snapshot``), on the loop thread, between dispatches.
"""

from __future__ import annotations

from collections import deque

from tapeflow.engine.kernel import Kernel
from tapeflow.model.events import Event
from tapeflow.model.market import (
    Bar,
    BookDelta,
    BookSnapshot,
    OrderAdded,
    OrderDeleted,
    OrderExecuted,
    OrderReduced,
    OrderReplaced,
    Quote,
    Trade,
)
from tapeflow.model.venue_events import (
    FeedBackfillDone,
    FeedResumed,
    FeedStale,
    VenueConnected,
    VenueDisconnected,
    VenueReconnected,
    VenueStatus,
)

MARKET_DATA: tuple[type[Event], ...] = (
    Trade,
    Quote,
    Bar,
    BookDelta,
    BookSnapshot,
    OrderAdded,
    OrderExecuted,
    OrderReduced,
    OrderDeleted,
    OrderReplaced,
)
"""The events that count as market data arriving (what "age of the last market event" is measured on)."""

RECENT = 8
"""How many of the latest connection events are kept, in words, for the console."""


class FeedHealth:
    """Connection and staleness state from the events the node sees; read it with ``stale()`` and the fields."""

    def __init__(self) -> None:
        self.connected: set[str] = set()
        """Venues whose order session announced itself up and has not dropped since."""
        self.down: dict[str, str] = {}
        """Venues whose session dropped, with the reason given."""
        self._stale: dict[tuple[str, str], str] = {}
        self.disconnects = 0
        self.reconnects = 0
        self.stale_events = 0
        self.incomplete_backfills = 0
        """Backfills that ended saying a gap may remain (REST failed or stopped short, or the lookback was cut)."""
        self.other: dict[str, int] = {}
        """Other ``VenueStatus`` events (an adapter's own: reconciliations, backfills), counted by type."""
        self.recent: deque[str] = deque(maxlen=RECENT)
        self.market_events = 0
        self.last_market_ns = 0
        """``ts_init`` (the arrival stamp) of the last market data event; 0 before the first."""

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(VenueStatus, self.on_status)
        for kind in MARKET_DATA:
            kernel.subscribe(kind, self.on_market)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    def on_market(self, event: Event) -> None:
        self.market_events += 1
        self.last_market_ns = event.ts_init

    def on_status(self, event: VenueStatus) -> None:
        kind = type(event)
        if kind is VenueConnected or kind is VenueReconnected:
            venue = event.venue  # type: ignore[attr-defined]
            self.connected.add(venue)
            self.down.pop(venue, None)
            if kind is VenueReconnected:
                self.reconnects += 1
            text = f"{venue} {'reconnected' if kind is VenueReconnected else 'connected'}"
        elif kind is VenueDisconnected:
            assert isinstance(event, VenueDisconnected)
            self.connected.discard(event.venue)
            self.down[event.venue] = event.reason or "no reason given"
            self.disconnects += 1
            text = f"{event.venue} disconnected: {self.down[event.venue]}"
        elif kind is FeedStale:
            assert isinstance(event, FeedStale)
            self._stale[(event.venue, event.symbol)] = event.reason
            self.stale_events += 1
            text = f"{event.venue} feed stale{' ' + event.symbol if event.symbol else ''}: {event.reason}"
        elif kind is FeedResumed:
            assert isinstance(event, FeedResumed)
            if event.symbol:
                self._stale.pop((event.venue, event.symbol), None)
            else:  # the whole feed is back: every symbol of that venue with it
                for key in [k for k in self._stale if k[0] == event.venue]:
                    del self._stale[key]
            text = f"{event.venue} feed resumed{' ' + event.symbol if event.symbol else ''}"
        else:
            name = kind.__name__
            self.other[name] = self.other.get(name, 0) + 1
            text = name
            if kind is FeedBackfillDone:  # the one status whose content the operator must read: was the gap filled
                assert isinstance(event, FeedBackfillDone)
                text = f"{event.venue} backfilled {event.count}"
                if not event.complete:
                    self.incomplete_backfills += 1
                    text += ", incomplete: a gap may remain"
        self.recent.append(text)

    def stale(self) -> list[str]:
        """What is stale now, sorted: ``venue`` for a whole feed, ``venue:SYMBOL`` for one symbol."""
        return sorted(f"{venue}:{symbol}" if symbol else venue for venue, symbol in self._stale)

    def last_market_age(self, now: int) -> int | None:
        """ns since the last market event arrived (by ``now``, the same clock as its stamp); None before any."""
        return None if not self.market_events else max(0, now - self.last_market_ns)
