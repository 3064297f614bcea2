"""What the market looked like during a run, kept small enough for a chart: top-of-book and depth samples, and
the book around each of our orders.

A LOBSTER day is hundreds of thousands of book changes; a chart of each is a 50 MB page nobody can scroll. So
``MarketSamples`` keeps one top-of-book sample per ``interval`` of exchange time per symbol (the first change
in each interval, as the book was after it), and when a symbol's samples pass ``max_top`` it drops every other
one and doubles the interval: memory and file size stay bounded whatever the run's length, the samples stay
evenly spread, and the same run keeps the same samples (no randomness). Depth (the best ``depth_levels`` of each
side, L2/L3 books only) is thinned the same way with its own bound. The interval reached is written with the
samples, so a chart can say how coarse it is.

Each sample also keeps the feed leg of latency (``ts_init - ts_event`` of the event that moved the book), and
each order the book when it left (``SubmitOrder``) and when its acceptance was seen (``OrderAccepted``), with
the displayed shares at its limit price then: the inputs of the slippage split and the queue estimate
(docs/REPORTS.md says which numbers come from the run and which are derived).
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec
import pyarrow as pa  # type: ignore[import-untyped]

from tapeflow.book.keeper import L2_EVENTS
from tapeflow.book.quote_book import QuoteBook
from tapeflow.book.view import TopOfBook
from tapeflow.engine.kernel import Kernel
from tapeflow.model.enums import Side
from tapeflow.model.events import Event
from tapeflow.model.market import Quote
from tapeflow.model.orders import OrderAccepted, SubmitOrder
from tapeflow.model.prices import NO_PRICE

DEFAULT_MAX_TOP = 4_000
DEFAULT_MAX_DEPTH = 400
DEFAULT_DEPTH_LEVELS = 10
START_INTERVAL_NS = 10_000_000
"""10 ms: a short run keeps fine detail; a long one doubles it as often as its length needs."""
DEPTH_START_INTERVAL_NS = 1_000_000_000


class Books(Protocol):
    """Where the current book of a symbol is read (``BookKeeper``)."""

    def book(self, symbol: str) -> Any: ...


class _Thinned:
    """Rows sampled on a doubling interval, bounded by ``limit`` (see the module docstring)."""

    def __init__(self, columns: tuple[str, ...], interval: int, limit: int) -> None:
        self.columns: dict[str, list[int]] = {name: [] for name in columns}
        self.interval = interval
        self.limit = limit
        self.next_due = 0
        self.rows = 0
        self.seen = 0

    def add(self, ts: int, *rows: tuple[int, ...]) -> None:
        for row in rows:
            for values, value in zip(self.columns.values(), row, strict=True):
                values.append(value)
        self.rows += 1
        self.next_due = (ts // self.interval + 1) * self.interval
        if self.rows > self.limit:
            self._halve()

    def _halve(self) -> None:
        """Keep every other sample (a sample's rows share a ``ts``), and sample half as often from now on."""
        ts = self.columns["ts"]
        keep: list[int] = []
        sample = -1
        last = None
        for i, t in enumerate(ts):
            if t != last:
                sample += 1
                last = t
            if sample % 2 == 0:
                keep.append(i)
        for name, values in self.columns.items():
            self.columns[name] = [values[i] for i in keep]
        self.rows = (sample + 2) // 2
        self.interval *= 2
        self.next_due = (self.next_due // self.interval + 1) * self.interval


class OrderMark(msgspec.Struct, kw_only=True):
    """The book around one order: best bid/ask when it left and when its acceptance was seen."""

    strategy_id: str
    client_order_id: str
    symbol: str
    side: Side
    price: int
    bid_sent: int
    ask_sent: int
    bid_ack: int = NO_PRICE
    ask_ack: int = NO_PRICE
    shares_ahead_ack: int = -1
    """Displayed shares at the order's limit price when the acceptance was seen; -1: not a limit order or no book."""


_TOP_COLUMNS = ("ts", "feed_ns", "bid", "bid_size", "ask", "ask_size")
_DEPTH_COLUMNS = ("ts", "side", "level", "price", "size")


class MarketSamples:
    """Kernel component sampling the books (set ``books`` after assembly: the keeper the run's books are in)."""

    def __init__(
        self,
        books: Books | None = None,
        *,
        max_top: int = DEFAULT_MAX_TOP,
        max_depth: int = DEFAULT_MAX_DEPTH,
        depth_levels: int = DEFAULT_DEPTH_LEVELS,
    ) -> None:
        self.books = books
        self.max_top = max_top
        self.max_depth = max_depth
        self.depth_levels = depth_levels
        self.top: dict[str, _Thinned] = {}
        self.depth: dict[str, _Thinned] = {}
        self.marks: dict[tuple[str, str], OrderMark] = {}

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(Quote, self.on_market)
        for event_type in L2_EVENTS:  # an L2 feed without signals emits no quotes: sample its deltas
            kernel.subscribe(event_type, self.on_market)
        kernel.subscribe(SubmitOrder, self.on_submit)
        kernel.subscribe(OrderAccepted, self.on_accepted)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    def _book(self, symbol: str) -> Any:
        return None if self.books is None else self.books.book(symbol)

    def _top(self, symbol: str, event: Event | None = None) -> TopOfBook | None:
        book = self._book(symbol)
        if book is not None:
            top: TopOfBook = book.top()
            return top
        if isinstance(event, Quote):
            return TopOfBook(
                bid_price=event.bid_price, bid_size=event.bid_size, ask_price=event.ask_price, ask_size=event.ask_size
            )
        return None

    def on_market(self, event: Event) -> None:
        """Every book change comes here: the common case (nothing due) is two compares and returns."""
        symbol: str = event.symbol  # type: ignore[attr-defined]
        ts = event.ts_event
        top_rows = self.top.get(symbol)
        if top_rows is None:
            top_rows = self._start(symbol)
        depth_rows = self.depth.get(symbol)
        top_rows.seen += 1
        if depth_rows is not None:
            depth_rows.seen += 1
        if ts >= top_rows.next_due:
            top = self._top(symbol, event)
            if top is not None and (top.bid_price or top.ask_price):
                feed = event.ts_init - ts
                top_rows.add(ts, (ts, feed, top.bid_price, top.bid_size, top.ask_price, top.ask_size))
        if depth_rows is not None and ts >= depth_rows.next_due:
            depth = self._book(symbol).depth(self.depth_levels)
            sides = ((1, depth.bid_prices, depth.bid_sizes), (-1, depth.ask_prices, depth.ask_sizes))
            rows = [
                (ts, code, level, int(price), int(size))
                for code, prices, sizes in sides
                for level, (price, size) in enumerate(zip(prices, sizes, strict=True))
            ]
            if rows:
                depth_rows.add(ts, *rows)

    def _start(self, symbol: str) -> _Thinned:
        """A symbol's first change: its top samples, and depth samples when its book has depth (L2/L3)."""
        rows = self.top[symbol] = _Thinned(_TOP_COLUMNS, START_INTERVAL_NS, self.max_top)
        book = self._book(symbol)
        if book is not None and not isinstance(book, QuoteBook):
            self.depth[symbol] = _Thinned(_DEPTH_COLUMNS, DEPTH_START_INTERVAL_NS, self.max_depth)
        return rows

    def on_submit(self, event: SubmitOrder) -> None:
        top = self._top(event.symbol)
        self.marks[(event.strategy_id, event.client_order_id)] = OrderMark(
            strategy_id=event.strategy_id,
            client_order_id=event.client_order_id,
            symbol=event.symbol,
            side=event.side,
            price=event.price,
            bid_sent=NO_PRICE if top is None else top.bid_price,
            ask_sent=NO_PRICE if top is None else top.ask_price,
        )

    def on_accepted(self, event: OrderAccepted) -> None:
        mark = self.marks.get((event.strategy_id, event.client_order_id))
        if mark is None:
            return
        book = self._book(mark.symbol)
        top = self._top(mark.symbol)
        if top is not None:
            mark.bid_ack, mark.ask_ack = top.bid_price, top.ask_price
        if book is not None and mark.price != NO_PRICE:
            mark.shares_ahead_ack = int(book.size_at(mark.side, mark.price))

    # -- outputs ------------------------------------------------------------------------------------------------

    def tables(self) -> dict[str, Any]:
        """``top``, ``depth`` and ``order_marks`` as Arrow tables; the intervals reached are in the metadata."""
        return {
            "top": _thinned_table(self.top, _TOP_COLUMNS),
            "depth": _thinned_table(self.depth, _DEPTH_COLUMNS),
            "order_marks": _marks_table(list(self.marks.values())),
        }


def _thinned_table(by_symbol: dict[str, _Thinned], names: tuple[str, ...]) -> Any:
    symbols: list[str] = []
    columns: dict[str, list[int]] = {name: [] for name in names}
    sampling: dict[str, dict[str, int]] = {}
    for symbol in sorted(by_symbol):
        rows = by_symbol[symbol]
        count = len(rows.columns["ts"])
        symbols += [symbol] * count
        for name in names:
            columns[name] += rows.columns[name]
        sampling[symbol] = {"interval_ns": rows.interval, "samples": rows.rows, "book_changes": rows.seen}
    table = pa.table(
        {"symbol": pa.array(symbols, pa.string()).dictionary_encode()}
        | {name: pa.array(values, pa.int64()) for name, values in columns.items()}
    )
    meta = {
        "tapeflow.units": "ts int64 ns UTC (exchange time); feed_ns ns; prices 1/10000 USD; sizes shares; "
        "side 1 bid, -1 ask; level 0 is the best",
        "tapeflow.sampling": msgspec.json.encode(sampling).decode(),
    }
    return table.replace_schema_metadata(meta)


def _marks_table(marks: list[OrderMark]) -> Any:
    table = pa.table(
        {
            "strategy_id": pa.array([m.strategy_id for m in marks], pa.string()),
            "client_order_id": pa.array([m.client_order_id for m in marks], pa.string()),
            "symbol": pa.array([m.symbol for m in marks], pa.string()).dictionary_encode(),
            "side": pa.array([m.side.sign for m in marks], pa.int8()),
            "price": pa.array([m.price for m in marks], pa.int64()),
            "bid_sent": pa.array([m.bid_sent for m in marks], pa.int64()),
            "ask_sent": pa.array([m.ask_sent for m in marks], pa.int64()),
            "bid_ack": pa.array([m.bid_ack for m in marks], pa.int64()),
            "ask_ack": pa.array([m.ask_ack for m in marks], pa.int64()),
            "shares_ahead_ack": pa.array([m.shares_ahead_ack for m in marks], pa.int64()),
        }
    )
    return table.replace_schema_metadata(
        {"tapeflow.units": "prices 1/10000 USD (0: side empty); side 1 buy, -1 sell; shares_ahead_ack -1: unknown"}
    )
