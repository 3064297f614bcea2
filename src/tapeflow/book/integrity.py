"""Whether a book can be trusted right now, and the events that say when that changes.

A book that silently drifts from the exchange is worse than no book: a strategy quotes on it, the risk collar
prices against it. So every way a book can go wrong is detected where it happens and becomes state plus an
event:

- a sequence gap (messages were lost): ``stale`` until a snapshot rebuilds the book (``BookGap``, then
  ``BookResynced``); messages that arrive during the gap are still applied, so the book stays as close as it
  can;
- a crossed book after an update (best bid >= best ask): ``crossed`` while it lasts (``BookCrossed`` once when
  it starts);
- a message for an order id the book does not hold: counted and reported (``UnknownOrderRef``), never an
  exception, because one bad message must not stop a feed.

``trustworthy`` is the one question a consumer needs: not stale and not crossed.

For the run summary the same state is also counted over time (``totals``): how many crossing episodes, how long
the book was crossed and stale in total. The counters move only when the state changes (a cross starts or ends, a
gap opens, a snapshot repairs it), never per message, so they cost the hot path nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from tapeflow.model.book_events import BookCrossed, BookGap, BookResynced, UnknownOrderRef
from tapeflow.model.events import Event

Emit = Callable[[Event], None]


class BookHealth(msgspec.Struct, frozen=True, kw_only=True):
    """A consumer's answer to "may I act on this book now?", with the reasons."""

    trustworthy: bool
    stale: bool
    crossed: bool
    sequence: int
    gaps: int
    unknown_order_refs: int
    stale_since_ns: int | None


class IntegrityTotals(msgspec.Struct, frozen=True, kw_only=True):
    """What went wrong with one book over a whole run (the run summary's ``books`` rows).

    Times are event time in ns; an episode still open at the end is closed at the run's last event time.
    """

    symbol: str
    gaps: int = 0
    """Sequence gaps (messages lost)."""
    crossings: int = 0
    """Episodes of best bid >= best ask."""
    crossed_ns: int = 0
    """Total time the book was crossed."""
    stale_ns: int = 0
    """Total time the book was stale (from a gap to the snapshot that repaired it)."""
    unknown_order_refs: int = 0
    """Messages naming an order the book did not hold."""
    duplicates: int = 0
    """Messages dropped because their sequence number was already applied, and adds of an order id the book still
    held (the new order replaced the old one: its delete was missed)."""

    @property
    def anomalies(self) -> int:
        """Count of things that went wrong (times are consequences of these, not separate events)."""
        return self.gaps + self.crossings + self.unknown_order_refs + self.duplicates


class Integrity:
    """Staleness, crossing and bad references of one book; emits integrity events through ``emit``."""

    __slots__ = (
        "crossed",
        "crossed_ns",
        "crossed_since_ns",
        "crossings",
        "duplicates",
        "emit",
        "gaps",
        "sequence",
        "stale",
        "stale_ns",
        "stale_since_ns",
        "symbol",
        "ts",
        "unknown_order_refs",
    )

    def __init__(self, symbol: str, emit: Emit | None = None) -> None:
        self.symbol = symbol
        self.emit = emit
        self.sequence = 0
        """Last sequence number applied (0: the feed has none, or nothing seen yet)."""
        self.stale = False
        self.stale_since_ns: int | None = None
        self.crossed = False
        self.crossings = 0
        """Crossing episodes so far (``on_crossed`` while not crossed)."""
        self.crossed_since_ns = 0
        self.crossed_ns = 0
        """Time crossed in closed episodes; ``totals`` adds the open one."""
        self.stale_ns = 0
        """Time stale in repaired episodes; ``totals`` adds the open one."""
        self.gaps = 0
        self.duplicates = 0
        self.unknown_order_refs = 0
        self.ts = 0
        """Time of the last message seen: integrity events raised by raw writes carry it."""

    @property
    def trustworthy(self) -> bool:
        return not self.stale and not self.crossed

    def check_sequence(self, sequence: int, ts: int) -> bool:
        """Track the feed sequence; False when the message is a duplicate or older than what was applied."""
        self.ts = ts
        if not sequence:
            return True
        last = self.sequence
        if last and sequence != last + 1:
            if sequence <= last:
                self.duplicates += 1
                return False
            self.gaps += 1
            if not self.stale:
                self.stale = True
                self.stale_since_ns = ts
            if self.emit is not None:
                self.emit(
                    BookGap(
                        ts_event=ts,
                        ts_init=ts,
                        symbol=self.symbol,
                        expected_sequence=last + 1,
                        received_sequence=sequence,
                    )
                )
        self.sequence = sequence
        return True

    def mark_stale(self, ts: int) -> None:
        """Stale for a reason other than a gap (a feed handler knows it lost data)."""
        if not self.stale:
            self.stale = True
            self.stale_since_ns = ts

    def on_crossed(self, bid: int, ask: int) -> None:
        if self.crossed:
            return
        self.crossed = True
        self.crossings += 1
        ts = self.ts
        self.crossed_since_ns = ts
        if self.emit is not None:
            self.emit(
                BookCrossed(
                    ts_event=ts,
                    ts_init=ts,
                    symbol=self.symbol,
                    bid_price=bid,
                    ask_price=ask,
                    sequence=self.sequence,
                )
            )

    def uncross(self) -> None:
        """The cross ended (a best level went away, or the book was cleared): close the episode at ``ts``."""
        if self.crossed:
            self.crossed = False
            self.crossed_ns += max(0, self.ts - self.crossed_since_ns)

    def on_unknown(self, order_id: int, operation: str) -> bool:
        """Count a reference to an order the book does not hold; always returns False (the write did
        nothing)."""
        self.unknown_order_refs += 1
        if self.emit is not None:
            ts = self.ts
            self.emit(
                UnknownOrderRef(
                    ts_event=ts,
                    ts_init=ts,
                    symbol=self.symbol,
                    order_id=order_id,
                    operation=operation,
                    count=self.unknown_order_refs,
                )
            )
        return False

    def on_snapshot(self, sequence: int, ts: int) -> None:
        """A full snapshot was applied: whatever was wrong before is gone."""
        self.ts = ts
        was_untrusted = self.stale or self.crossed
        since = self.stale_since_ns
        if since is not None:
            self.stale_ns += max(0, ts - since)
        self.uncross()
        self.sequence = sequence
        self.stale = False
        self.stale_since_ns = None
        if was_untrusted and self.emit is not None:
            self.emit(
                BookResynced(
                    ts_event=ts,
                    ts_init=ts,
                    symbol=self.symbol,
                    sequence=sequence,
                    stale_for_ns=max(0, ts - since) if since is not None else 0,
                )
            )

    def health(self) -> BookHealth:
        return BookHealth(
            trustworthy=self.trustworthy,
            stale=self.stale,
            crossed=self.crossed,
            sequence=self.sequence,
            gaps=self.gaps,
            unknown_order_refs=self.unknown_order_refs,
            stale_since_ns=self.stale_since_ns,
        )

    def totals(self, end_ns: int | None = None) -> IntegrityTotals:
        """Counts and times so far, an open crossed or stale episode closed at ``end_ns`` (default: ``ts``)."""
        end = self.ts if end_ns is None else max(end_ns, self.ts)
        crossed_ns = self.crossed_ns + (max(0, end - self.crossed_since_ns) if self.crossed else 0)
        since = self.stale_since_ns
        stale_ns = self.stale_ns + (max(0, end - since) if since is not None else 0)
        return IntegrityTotals(
            symbol=self.symbol,
            gaps=self.gaps,
            crossings=self.crossings,
            crossed_ns=crossed_ns,
            stale_ns=stale_ns,
            unknown_order_refs=self.unknown_order_refs,
            duplicates=self.duplicates,
        )
