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


class Integrity:
    """Staleness, crossing and bad references of one book; emits integrity events through ``emit``."""

    __slots__ = (
        "crossed",
        "duplicates",
        "emit",
        "gaps",
        "sequence",
        "stale",
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
        if self.emit is not None:
            ts = self.ts
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
        self.sequence = sequence
        self.stale = False
        self.stale_since_ns = None
        self.crossed = False
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
