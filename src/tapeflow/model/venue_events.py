"""Venue connection events: what a network venue adapter tells the node about its link, as records on the queue.

A simulated exchange never sends these (it has no connection to lose). A network adapter puts them on the kernel
queue when its session comes up, drops, comes back, or when its market data stops or restarts arriving, so that
the risk engine (``tapeflow.risk.venue_rules``: no new orders to a venue that is down), the strategies
(``Strategy.on_venue_status``) and the audit trail see the same facts at the same point of the run. As events they
are logged and replayed like any other: a replayed outage gives the same decisions.

All of them derive from ``VenueStatus`` so that one subscription sees them all; the base carries no field of its
own (a field on a base class would move its subclasses' encoded fields, see ``tapeflow.model.events``).
"""

from __future__ import annotations

from tapeflow.model.events import Event


class VenueStatus(Event, frozen=True, kw_only=True):
    """Base of the connection events: subscribe to it to see every one of them."""


class VenueConnected(VenueStatus, frozen=True, kw_only=True):
    """The order session with ``venue`` is up for the first time in this run: orders may go to it."""

    venue: str


class VenueDisconnected(VenueStatus, frozen=True, kw_only=True):
    """The order session with ``venue`` is down: commands to it are answered with rejects, not queued."""

    venue: str
    reason: str = ""


class VenueReconnected(VenueStatus, frozen=True, kw_only=True):
    """The order session with ``venue`` is back after a ``VenueDisconnected``.

    Orders sent before the drop may have changed meanwhile: an adapter reconciles them (its open orders, positions
    and cash, ``tapeflow.model.venue_state``) before it announces this.
    """

    venue: str
    down_ns: int = 0
    """How long the session was down, by the adapter's clock (0 when unknown)."""


class FeedStale(VenueStatus, frozen=True, kw_only=True):
    """Market data from ``venue`` stopped arriving (``symbol`` empty: the whole feed); books may be out of date."""

    venue: str
    reason: str = ""
    symbol: str = ""


class FeedResumed(VenueStatus, frozen=True, kw_only=True):
    """Market data from ``venue`` arrives again after a ``FeedStale`` (``symbol`` empty: the whole feed)."""

    venue: str
    symbol: str = ""


# -- the market data adapter's (tapeflow.live.market_feed) ---------------------------------------------------------


class FeedBackfill(VenueStatus, frozen=True, kw_only=True):
    """Opens a backfill: the events that follow, up to ``FeedBackfillDone``, were fetched over REST after a
    reconnect to fill the gap, not received live (a marker around them rather than a field on every trade, quote
    and bar, which would change every recorded tape and the hot path).

    ``start_ns`` is where the backfill starts: the earliest, over its symbols and channels, of the newest time up to
    which live delivery was known complete (``tapeflow.live.market_guard``); ``symbols`` are those asked for."""

    venue: str
    start_ns: int
    symbols: tuple[str, ...] = ()


class FeedBackfillDone(VenueStatus, frozen=True, kw_only=True):
    """Closes a backfill: ``count`` events were delivered between it and its ``FeedBackfill``, the last at
    ``end_ns`` (``start_ns`` of the opening when none); ``complete`` False when REST failed and a gap may remain."""

    venue: str
    count: int = 0
    end_ns: int = 0
    complete: bool = True


# -- the order adapter's (tapeflow.live.alpaca_venue) --------------------------------------------------------------


class Reconciled(VenueStatus, frozen=True, kw_only=True):
    """The node's orders, fills and positions compared with what ``venue`` says over REST (at start, after every
    reconnect): ``fills_applied`` / ``cancels_applied`` are the reports the stream had not delivered (posted once,
    before this), ``mismatches`` what nothing explains (an order we never sent, a position our fills do not
    make); any mismatch also engages the kill switch. ``detail`` names each finding."""

    venue: str
    orders_checked: int = 0
    fills_applied: int = 0
    cancels_applied: int = 0
    mismatches: int = 0
    detail: str = ""


class VenueMessageRejected(VenueStatus, frozen=True, kw_only=True):
    """A message from ``venue`` could not be read and was dropped (counted, never applied): ``count`` so far."""

    venue: str
    channel: str
    reason: str
    count: int = 0
