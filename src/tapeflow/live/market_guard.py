"""What a live market data feed lets through: no message twice, quotes never rolled back, trades signed.

Alpaca's stream can repeat a message (a server resend) and deliver one late; after a reconnect the REST backfill
and the first live frames overlap. ``FeedGuard`` decides for each decoded event, in arrival order:

- a trade whose id (exchange and ``i``) was seen is a duplicate: dropped and counted. A trade without an id (0 on
  the wire) cannot be told from a genuine identical print, and tapes do print the same size at the same price in
  the same nanosecond: it is never dropped as a duplicate (the REST overlap is still exact, below);
- a quote identical to the symbol's previous quote, time included, is a duplicate: dropped and counted (a repeat
  of the same quote in the same nanosecond carries nothing, so dropping it cannot lose information);
- a quote older than the symbol's last quote is out of order: counted and dropped, because applying it would put
  an older state over a newer one in the books; a late trade or bar is counted as out of order and delivered
  (each print is a fact; dropping it would lose volume);
- backfill: ``begin_backfill`` remembers what was seen live at the gap's first instant (REST's ``start`` is
  inclusive), so those items are skipped exactly, multiplicities included; the backfilled items are then
  remembered until live data passes them, so a live frame carrying what REST already gave is skipped too.
  Neither skip is an anomaly (``overlap`` counts them).
- every trade is signed (``tapeflow.live.aggressor``) against the quotes delivered before it.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from typing import Final

from tapeflow.data.quality import SourceQuality
from tapeflow.live.aggressor import AggressorSigner
from tapeflow.model.events import Event
from tapeflow.model.market import Bar, Quote, Trade

MAX_IDS: Final = 200_000
"""Trade ids remembered per symbol (the oldest half is forgotten beyond it): a resend comes within seconds."""

Key = tuple[object, ...]


def _channel(event: Event) -> str:
    if isinstance(event, Trade):
        return "trades"
    if isinstance(event, Quote):
        return "quotes"
    if isinstance(event, Bar):
        return "bars"
    return "statuses"


def _key(event: Event) -> Key:
    """Identity of an item on the wire (``ts_init`` is our arrival stamp, and the aggressor our inference)."""
    if isinstance(event, Trade):
        return (event.ts_event, event.price, event.size, event.venue, event.trade_id, event.conditions)
    if isinstance(event, Quote):
        return (event.ts_event, event.bid_price, event.bid_size, event.ask_price, event.ask_size, event.venue)
    if isinstance(event, Bar):
        return (event.ts_event, event.open, event.high, event.low, event.close, event.volume)
    return (event.ts_event, repr(event))


class _Last:
    """One (channel, symbol): its latest time and the items seen at exactly that time."""

    __slots__ = ("at", "ts")

    def __init__(self) -> None:
        self.ts = -1
        self.at: collections.Counter[Key] = collections.Counter()

    def see(self, ts: int, key: Key) -> None:
        if ts > self.ts:
            self.ts = ts
            self.at = collections.Counter()
        if ts == self.ts:
            self.at[key] += 1


class FeedGuard:
    """Admission of decoded events; ``quality()`` answers as the readers do (``tapeflow.data.quality``)."""

    def __init__(self, source: str) -> None:
        self.signer = AggressorSigner()
        self._quality = SourceQuality(source=source, format="alpaca-stream")
        self._last: dict[tuple[str, str], _Last] = {}
        self._last_quote: dict[str, Quote] = {}
        self._ids: dict[str, dict[tuple[str, str], None]] = {}
        self._skip_start: dict[tuple[str, str], tuple[int, collections.Counter[Key]]] = {}
        self._overlap: dict[tuple[str, str], tuple[int, collections.Counter[Key]]] = {}
        self.overlap = 0
        """Items skipped because a backfill and the live stream both carried them (expected, not an anomaly)."""
        self.latest = -1
        """The latest ``ts_event`` delivered, any symbol."""

    def quality(self) -> SourceQuality:
        return self._quality

    def last_ts(self, channel: str, symbol: str) -> int | None:
        """The latest time delivered on ``channel`` for ``symbol`` (None: nothing yet)."""
        last = self._last.get((channel, symbol))
        return None if last is None else last.ts

    def note(self, rows: int, malformed: int, first_problem: str) -> None:
        """Counts of the decoder, copied in so that one ``SourceQuality`` says everything."""
        q = self._quality
        q.rows, q.malformed = rows, malformed
        if first_problem:
            q.note(first_problem)

    # -- live ---------------------------------------------------------------------------------------------------

    def admit(self, events: Iterable[Event]) -> list[Event]:
        """The events to deliver, in order, from one frame's worth."""
        out: list[Event] = []
        for event in events:
            admitted = self._admit(event)
            if admitted is not None:
                out.append(admitted)
        return out

    def _admit(self, event: Event) -> Event | None:
        q = self._quality
        symbol: str = getattr(event, "symbol", "")
        slot = (_channel(event), symbol)
        key = _key(event)
        overlap = self._overlap.get(slot)
        if overlap is not None:
            if overlap[1][key] > 0:
                overlap[1][key] -= 1
                self.overlap += 1
                return None
            if event.ts_event > overlap[0]:
                del self._overlap[slot]
        last = self._last.get(slot)
        if last is None:
            last = self._last[slot] = _Last()
        if isinstance(event, Trade) and event.trade_id:
            ids = self._ids.setdefault(symbol, {})
            ident = (event.venue, event.trade_id)
            if ident in ids:
                self._duplicate(event)
                return None
            ids[ident] = None
            if len(ids) > MAX_IDS:
                for old in list(ids)[: MAX_IDS // 2]:
                    del ids[old]
        elif isinstance(event, Quote):
            previous = self._last_quote.get(symbol)
            if previous is not None and _key(previous) == key:
                self._duplicate(event)
                # still seen at its instant: a backfill from here (REST carries a tape's repeated quote as often as
                # the tape does) must skip every copy, or the second would come back as new after another quote
                last.see(event.ts_event, key)
                return None
        elif isinstance(event, Bar) and event.ts_event == last.ts and last.at[key]:
            self._duplicate(event)
            return None
        if event.ts_event < last.ts:
            q.out_of_order += 1
            q.note(f"{slot[0]} of {symbol} at {event.ts_event} after {last.ts}")
            if isinstance(event, Quote):
                return None
        else:
            last.see(event.ts_event, key)
        if isinstance(event, Quote):
            self._last_quote[symbol] = event
            self.signer.quote(event)
        elif isinstance(event, Trade):
            event = self.signer.sign(event)
        q.events += 1
        self.latest = max(self.latest, event.ts_event)
        return event

    def _duplicate(self, event: Event) -> None:
        q = self._quality
        q.duplicates += 1
        q.note(f"duplicate {type(event).__name__} of {getattr(event, 'symbol', '')} at {event.ts_event}")

    # -- backfill -----------------------------------------------------------------------------------------------

    def begin_backfill(self, slots: Iterable[tuple[str, str]]) -> None:
        """Before a backfill of ``slots`` (channel, symbol): what was seen live at each one's last instant."""
        for slot in slots:
            last = self._last.get(slot)
            if last is not None:
                self._skip_start[slot] = (last.ts, collections.Counter(last.at))

    def admit_backfill(self, events: Iterable[Event]) -> list[Event]:
        """Backfilled events (in time order) to deliver; afterwards live items REST already gave are skipped."""
        out: list[Event] = []
        given: dict[tuple[str, str], tuple[int, collections.Counter[Key]]] = {}
        for event in events:
            slot = (_channel(event), getattr(event, "symbol", ""))
            key = _key(event)
            start = self._skip_start.get(slot)
            if start is not None and event.ts_event <= start[0]:
                if start[1][key] > 0:
                    start[1][key] -= 1
                    self.overlap += 1
                    continue
                if event.ts_event < start[0]:
                    self.overlap += 1  # REST gave something before its start: already seen live
                    continue
            ts, seen = given.get(slot, (0, collections.Counter()))
            seen[key] += 1  # even if dropped below: the live socket may repeat it as REST gave it
            given[slot] = (max(ts, event.ts_event), seen)
            admitted = self._admit(event)
            if admitted is not None:
                out.append(admitted)
        self._skip_start.clear()
        self._overlap.update(given)
        return out
