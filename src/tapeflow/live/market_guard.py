"""What a live market data feed lets through: no message twice, quotes never rolled back, trades signed, and
after a reconnect exactly what the drop may have cost.

Alpaca's stream can repeat a message (a server resend) and deliver one late; after a reconnect the REST backfill
and what was delivered live overlap. ``FeedGuard`` decides for each decoded event, in arrival order:

- a trade whose id (exchange and ``i``) was seen is a duplicate: dropped and counted. A trade without an id (0 on
  the wire) cannot be told from a genuine identical print, and tapes do print the same size at the same price in
  the same nanosecond: it is never dropped as a duplicate (the REST overlap is still exact, below);
- a quote identical to the symbol's previous quote, time included, is a duplicate: dropped and counted (a repeat
  of the same quote in the same nanosecond carries nothing, so dropping it cannot lose information);
- a quote older than the symbol's last quote is out of order: counted and dropped, because applying it would put
  an older state over a newer one in the books; a late trade or bar is counted as out of order and delivered
  (each print is a fact; dropping it would lose volume);
- every trade is signed (``tapeflow.live.aggressor``) against the quotes delivered before it.

The backfill after a reconnect. A message the stream was holding back (a server's buffer, a delay on the way)
when the socket dropped never comes on the new socket, and it can be older than the newest item delivered: a
backfill from the newest time seen would miss it, silently. So each (channel, symbol) keeps a watermark, the
newest time among the items that arrived at least ``lookback`` before the drop. The stream sends a symbol's
items in time order but for delays; if none is held back longer than ``lookback``, each item older than the
watermark was sent before the ones that make it, so delivery is complete up to it, and the backfill asks REST for
everything from it (``begin_backfill``). Quotes use no lookback: a held-back quote older than the last one
would be dropped as out of order anyway, so the backfill from the last quote leaves the books exactly as a whole
stream would.

What REST returns is then de-duplicated exactly against what was delivered: every item delivered at the
watermark or later is remembered by its identity, multiplicities included (a trade's exchange and id when it has
one, else every field the wire carries), so an id-less genuine second print is never taken for the first. The
items that arrived within ``lookback`` are a bounded window (``MAX_RECENT`` per slot): beyond it the oldest are
folded in early, which raises the watermark. Dedupe stays exact but the coverage shrinks, so where that reached
into the lookback before the drop ``cut`` names the slot and the backfill says it may be incomplete rather than
guess. The backfilled items are then remembered for ``lookback`` more (of arrival time) until live data passes
them, so a live frame carrying what REST already gave is skipped too, even a held-back one arriving late. Neither
skip is an anomaly (``overlap`` counts them); ``recovered`` counts backfilled items older than their slot's newest
delivered one: the held-back messages a backfill from the newest time would have lost.
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
MAX_RECENT: Final = 100_000
"""Items remembered per (channel, symbol) among those that arrived within the lookback: bounded memory, about
30 MB for a symbol at the cap (~300 bytes a trade with its id, measured)."""
LOOKED_BACK: Final = frozenset({"trades", "bars"})
"""Channels whose backfill looks back ``lookback`` for held-back items (quotes: see the module docstring)."""

NOTHING: Final = 1 << 63
"""Later than any time: the earliest time delivered before anything was."""

Key = tuple[object, ...]
"""An item's identity on the wire; its first element is always the item's time (``ts_event``)."""
Slot = tuple[str, str]


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
        if event.trade_id:  # the exchange's id: the print itself, whatever else REST and the stream spell apart
            return (event.ts_event, event.venue, event.trade_id)
        return (event.ts_event, event.price, event.size, event.venue, event.conditions)
    if isinstance(event, Quote):
        return (event.ts_event, event.bid_price, event.bid_size, event.ask_price, event.ask_size, event.venue)
    if isinstance(event, Bar):
        # one bar a minute: REST may give a minute revised by late prints, which must not come as a second bar
        # (its volume would count twice; ``tapeflow.live.market_wire`` ignores the stream's revisions likewise)
        return (event.ts_event, event.interval_ns)
    return (event.ts_event, repr(event))


def _time(key: Key) -> int:
    ts = key[0]
    assert isinstance(ts, int)
    return ts


class _Seen:
    """What one (channel, symbol) delivered, as far as a backfill from its watermark must know.

    ``ts`` is the newest time delivered. ``recent`` holds (arrival, time, key) of every item that arrived within
    ``span`` ns of the latest arrival, oldest first, and ``count`` their keys with multiplicities. ``mark`` is the
    newest time among the items that arrived before (the watermark) and ``at_mark`` their keys at exactly that
    time. So every item delivered at ``mark`` or later is in ``count`` or ``at_mark``: a backfill from ``mark``
    (REST's ``start`` is inclusive) skips exactly those."""

    __slots__ = ("at_mark", "count", "early", "mark", "recent", "span", "ts")

    def __init__(self, span: int) -> None:
        self.span = span
        self.ts = -1
        self.mark = -1
        self.at_mark: collections.Counter[Key] = collections.Counter()
        self.recent: collections.deque[tuple[int, int, Key]] = collections.deque()
        self.count: collections.Counter[Key] = collections.Counter()
        self.early = -1
        """The latest arrival among items folded before their time (``recent`` overflowed): a backfill whose
        lookback reaches past it starts later than ``span`` promises."""

    def see(self, ts: int, arrival: int, key: Key) -> None:
        if ts > self.ts:
            self.ts = ts
        if not self.span:  # no lookback (quotes): every item is folded at once; the hot path stays two steps
            if ts > self.mark:
                self.mark = ts
                self.at_mark = collections.Counter()
            if ts == self.mark:
                self.at_mark[key] += 1
            return
        self.recent.append((arrival, ts, key))
        self.count[key] += 1
        self.settle(arrival - self.span)

    def settle(self, cutoff: int) -> None:
        """Fold the items that arrived before ``cutoff`` (or beyond ``MAX_RECENT``) into the watermark."""
        recent, count = self.recent, self.count
        while recent and (recent[0][0] < cutoff or len(recent) > MAX_RECENT):
            arrival, ts, key = recent.popleft()
            if arrival >= cutoff and arrival > self.early:
                self.early = arrival
            left = count[key] - 1
            if left:
                count[key] = left
            else:
                del count[key]
            if ts > self.mark:
                self.mark = ts
                self.at_mark = collections.Counter()
            if ts == self.mark:
                self.at_mark[key] += 1

    def delivered_from(self, start: int) -> collections.Counter[Key]:
        """The keys of every item delivered at ``start`` or later (``start`` at or after the watermark)."""
        out = collections.Counter({key: n for key, n in self.count.items() if _time(key) >= start})
        if start == self.mark:
            out.update(self.at_mark)
        return out

    def has(self, key: Key) -> bool:
        return self.count[key] > 0 or self.at_mark[key] > 0


class FeedGuard:
    """Admission of decoded events; ``quality()`` answers as the readers do (``tapeflow.data.quality``).

    ``lookback_ns``: how long (arrival time) a message may have been held back on its way and still be recovered
    by the backfill after a drop (trades and bars; quotes need none)."""

    def __init__(self, source: str, *, lookback_ns: int = 0) -> None:
        self.signer = AggressorSigner()
        self.lookback_ns = lookback_ns
        self._quality = SourceQuality(source=source, format="alpaca-stream")
        self._seen: dict[Slot, _Seen] = {}
        self._last_quote: dict[str, Quote] = {}
        self._ids: dict[str, dict[tuple[str, str], None]] = {}
        self._skip: dict[Slot, tuple[int, collections.Counter[Key]]] = {}
        self._overlap: dict[Slot, tuple[int, int, collections.Counter[Key]]] = {}
        self.cut: list[Slot] = []
        """Slots of the last ``begin_backfill`` whose start is later than the lookback promises (``MAX_RECENT``
        items arrived within it): a held-back item older than the start may be missing, and the backfill says so."""
        self.overlap = 0
        """Items skipped because a backfill and the live stream both carried them (expected, not an anomaly)."""
        self.recovered = 0
        """Backfilled items older than their slot's newest delivered item: held back when the socket dropped."""
        self.latest = -1
        """The latest ``ts_event`` delivered, any symbol."""
        self.earliest = NOTHING
        """The earliest ``ts_event`` delivered, any symbol (``NOTHING`` before the first)."""

    def quality(self) -> SourceQuality:
        return self._quality

    def last_ts(self, channel: str, symbol: str) -> int | None:
        """The latest time delivered on ``channel`` for ``symbol`` (None: nothing yet)."""
        seen = self._seen.get((channel, symbol))
        return None if seen is None else seen.ts

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

    def _slot(self, slot: Slot) -> _Seen:
        seen = self._seen.get(slot)
        if seen is None:
            seen = self._seen[slot] = _Seen(self.lookback_ns if slot[0] in LOOKED_BACK else 0)
        return seen

    def _admit(self, event: Event) -> Event | None:
        q = self._quality
        symbol: str = getattr(event, "symbol", "")
        slot = (_channel(event), symbol)
        key = _key(event)
        overlap = self._overlap.get(slot)
        if overlap is not None:
            if overlap[2][key] > 0:
                overlap[2][key] -= 1
                self.overlap += 1
                return None
            if event.ts_event > overlap[0] and event.ts_init > overlap[1]:
                del self._overlap[slot]
        seen = self._seen.get(slot)
        if seen is None:
            seen = self._slot(slot)
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
                # still seen: a backfill from here (REST carries a tape's repeated quote as often as the tape does)
                # must skip every copy, or the second would come back as new after another quote
                seen.see(event.ts_event, event.ts_init, key)
                return None
        elif isinstance(event, Bar) and seen.has(key):
            self._duplicate(event)
            return None
        if event.ts_event < seen.ts:
            q.out_of_order += 1
            q.note(f"{slot[0]} of {symbol} at {event.ts_event} after {seen.ts}")
            if isinstance(event, Quote):
                return None
        seen.see(event.ts_event, event.ts_init, key)
        if isinstance(event, Quote):
            self._last_quote[symbol] = event
            self.signer.quote(event)
        elif isinstance(event, Trade):
            event = self.signer.sign(event)
        q.events += 1
        ts = event.ts_event
        if ts > self.latest:
            self.latest = ts
        if ts < self.earliest:
            self.earliest = ts
        return event

    def _duplicate(self, event: Event) -> None:
        q = self._quality
        q.duplicates += 1
        q.note(f"duplicate {type(event).__name__} of {getattr(event, 'symbol', '')} at {event.ts_event}")

    # -- backfill -----------------------------------------------------------------------------------------------

    def begin_backfill(self, slots: Iterable[Slot], dropped_at: int | None = None, base: int = 0) -> dict[Slot, int]:
        """Before a backfill of ``slots`` (channel, symbol): where each one's REST query starts (inclusive), and
        what was delivered from there on, to skip. ``dropped_at``: the arrival time the socket dropped (None:
        after everything); ``base``: the start of a slot whose every item may be held back (nothing arrived
        ``lookback`` before the drop), at or before anything the feed delivered."""
        starts: dict[Slot, int] = {}
        self.cut = []
        for slot in slots:
            seen = self._seen.get(slot)
            if seen is None:
                starts[slot] = base
                continue
            cutoff = NOTHING if dropped_at is None else dropped_at - seen.span + 1
            seen.settle(cutoff)
            if seen.early >= cutoff:
                self.cut.append(slot)
            start = seen.mark if seen.mark >= 0 else base  # nothing folded yet: everything delivered is remembered
            starts[slot] = start
            self._skip[slot] = (start, seen.delivered_from(start))
        return starts

    def admit_backfill(self, events: Iterable[Event]) -> list[Event]:
        """Backfilled events (in time order) to deliver; afterwards live items REST already gave are skipped."""
        out: list[Event] = []
        given: dict[Slot, tuple[int, int, collections.Counter[Key]]] = {}
        for event in events:
            slot = (_channel(event), getattr(event, "symbol", ""))
            key = _key(event)
            skip = self._skip.get(slot)
            if skip is not None:
                if event.ts_event < skip[0]:
                    self.overlap += 1  # REST gave something before its start: already seen live
                    continue
                if skip[1][key] > 0:
                    skip[1][key] -= 1
                    self.overlap += 1
                    continue
            ts, until, seen_keys = given.get(slot, (0, 0, collections.Counter()))
            seen_keys[key] += 1  # even if dropped below: the live socket may repeat it as REST gave it
            span = self._slot(slot).span
            given[slot] = (max(ts, event.ts_event), max(until, event.ts_init + span), seen_keys)
            newest = self._slot(slot).ts
            admitted = self._admit(event)
            if admitted is not None:
                if admitted.ts_event < newest:
                    self.recovered += 1
                out.append(admitted)
        self._skip.clear()
        self._overlap.update(given)
        return out
