"""A LOBSTER day as tapeflow events, for the kernel: the same decoder as the replay, pushing into events.

``iter_events`` yields, in file order: a ``BookSnapshot`` of the initial book (levels only), then per message
``OrderAdded`` / ``OrderReduced`` / ``OrderDeleted`` / ``OrderExecuted`` (types 1-4), preceded by an
``OrderDiscovered`` when the message names an order nobody saw arrive, ``Trade`` for hidden executions (5) and
crosses (6), ``TradingStatus`` for halts and resumptions (7), and ``DepthRevealed`` after a message that
brought a level into view. An ``L3Book`` fed these events ends every message in the state the replay proves
against the orderbook file.

When a LOBSTER deletion removes fewer shares than the order had left (part of it was cancelled while its level
was out of view, and the level's size already came from the orderbook file), the ``OrderDeleted`` carries the
shares the level loses in ``size``, exactly as the replay's raw ``delete`` takes them; otherwise ``size`` is 0.
(An explicit ``OrderReduced`` before the deletion, as this reader once emitted, took those shares from the level a
second time: levels that disagreed with the replay until the next reveal, and a deletion of an order the reduce
had already dropped with its emptied level.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from operator import length_hint
from pathlib import Path

from tapeflow.data.lobster import LobsterCounts, LobsterDecoder
from tapeflow.data.lobster_file import LobsterFile, open_lobster
from tapeflow.data.quality import SourceQuality
from tapeflow.model.book_events import DepthRevealed, OrderDiscovered
from tapeflow.model.enums import Aggressor, MarketStatus, Side
from tapeflow.model.events import Event, TradingStatus
from tapeflow.model.market import (
    BookLevel,
    BookSnapshot,
    OrderAdded,
    OrderDeleted,
    OrderExecuted,
    OrderReduced,
    Trade,
)


class _EventSink:
    """Turns the decoder's pushes into events; tracks order sizes only to make unseen cancels explicit."""

    def __init__(self, symbol: str, venue: str = "XNAS") -> None:
        self.symbol = symbol
        self.venue = venue
        self.events: list[Event] = []
        self._sizes: dict[int, int] = {}

    def load(self, bids: Iterable[BookLevel], asks: Iterable[BookLevel], orders: tuple[()] = (), ts: int = 0) -> None:
        self.events.append(
            BookSnapshot(
                ts_event=ts,
                ts_init=ts,
                symbol=self.symbol,
                bids=tuple(bids),
                asks=tuple(asks),
                venue=self.venue,
            )
        )

    def add(self, order_id: int, side: Side, price: int, size: int, ts: int = 0) -> None:
        self._sizes[order_id] = size
        self.events.append(
            OrderAdded(
                ts_event=ts,
                ts_init=ts,
                symbol=self.symbol,
                order_id=order_id,
                side=side,
                price=price,
                size=size,
            )
        )

    def discover(self, order_id: int, side: Side, price: int, size: int, ts: int = 0) -> None:
        self._sizes[order_id] = size
        self.events.append(
            OrderDiscovered(
                ts_event=ts,
                ts_init=ts,
                symbol=self.symbol,
                order_id=order_id,
                side=side,
                price=price,
                size=size,
            )
        )

    def _reduce(self, order_id: int, size: int) -> None:
        left = self._sizes.get(order_id, 0) - size
        if left > 0:
            self._sizes[order_id] = left
        else:
            self._sizes.pop(order_id, None)

    def execute(self, order_id: int, size: int, ts: int = 0) -> bool:
        self._reduce(order_id, size)
        self.events.append(OrderExecuted(ts_event=ts, ts_init=ts, symbol=self.symbol, order_id=order_id, size=size))
        return True

    def cancel(self, order_id: int, size: int, ts: int = 0) -> bool:
        self._reduce(order_id, size)
        self.events.append(OrderReduced(ts_event=ts, ts_init=ts, symbol=self.symbol, order_id=order_id, size=size))
        return True

    def delete(self, order_id: int, ts: int = 0, size: int = 0) -> bool:
        left = self._sizes.pop(order_id, 0)
        self.events.append(
            OrderDeleted(
                ts_event=ts,
                ts_init=ts,
                symbol=self.symbol,
                order_id=order_id,
                size=size if size and size != left else 0,
            )
        )
        return True

    def reveal(
        self, side: Side, after_price: int, levels: list[tuple[int, int]], through_end: bool, ts: int = 0
    ) -> int:
        self.events.append(
            DepthRevealed(
                ts_event=ts,
                ts_init=ts,
                symbol=self.symbol,
                side=side,
                after_price=after_price,
                levels=tuple(BookLevel(p, s) for p, s in levels),
                through_end=through_end,
            )
        )
        return 0

    def trade(self, ts: int, price: int, size: int, aggressor: Aggressor, kind: int) -> None:
        if kind == 4:  # the OrderExecuted is the trade; a consumer reads its aggressor from the book
            return
        conditions = ("hidden",) if kind == 5 else ("cross",)
        self.events.append(
            Trade(
                ts_event=ts,
                ts_init=ts,
                symbol=self.symbol,
                price=price,
                size=size,
                aggressor=aggressor,
                venue=self.venue,
                conditions=conditions,
            )
        )

    def status(self, ts: int, status: MarketStatus) -> None:
        self.events.append(
            TradingStatus(
                ts_event=ts, ts_init=ts, symbol=self.symbol, status=status, reason="LOBSTER", venue=self.venue
            )
        )


class LobsterEvents:
    """A LOBSTER day as an iterable of events that can say afterwards what it read (``quality()``).

    Each iteration reads the file again from the start, with fresh counts: ``quality()`` describes the latest
    pass, complete once the iteration has ended. A malformed row, a time that goes backwards or leaves the
    file's window, and a row-count mismatch between the two members are ``DataError`` (the message file and the
    orderbook file must agree row by row, so nothing can be skipped); an order id added twice is counted in
    ``duplicates`` and not applied; messages naming orders the file never added (the book the day began with,
    orders beyond level N) are the format's normal ``OrderDiscovered``, counted in ``discovered``, not an anomaly.
    """

    def __init__(self, path: str | Path | LobsterFile) -> None:
        self.file = path if isinstance(path, LobsterFile) else open_lobster(path)
        self.counts = LobsterCounts()
        self._events = 0

    def __iter__(self) -> Iterator[Event]:
        lf = self.file
        sink = _EventSink(lf.symbol)
        decoder = LobsterDecoder(lf, sink, on_trade=sink.trade, on_status=sink.status)
        self.counts = decoder.counts
        self._events = 0
        batch: Iterator[Event] = iter(())
        try:
            for _ in decoder.run():
                self._events += len(sink.events)
                batch = iter(sink.events)
                yield from batch
                sink.events.clear()
        finally:
            # a consumer that stops early (``islice``, an error) did not get the rest of the batch
            self._events -= length_hint(batch)

    def quality(self) -> SourceQuality:
        c = self.counts
        return SourceQuality(
            source=f"{self.file.path}!{self.file.message_member}",
            format="lobster",
            rows=c.rows,
            events=self._events,
            duplicates=c.duplicates,
            discovered=c.discovered,
            first_problem=c.first_problem,
        )


def iter_events(path: str | Path | LobsterFile) -> LobsterEvents:
    """A LOBSTER zip as tapeflow events, streamed (one block of rows in memory at a time), with its counts."""
    return LobsterEvents(path)
