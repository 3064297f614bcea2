"""What the paper venue's market data REST answers from: the trades, quotes and bars the node has dispatched.

The venue must never look ahead, so history is not read from the tape file but recorded as the node dispatches it
(``TapeHistory.attach`` subscribes to the kernel): whatever a query asks, it can only be answered with events at
or before ``venue.now``. Per-symbol lists (a tape-day fits); past ``max_per_symbol`` the oldest half of a list is
dropped, so a long replay keeps bounded memory and answers from the recent past only.

Bars are aggregated here from trades in New York time (minute and hour buckets from New York midnight, day buckets
at New York midnight, as Alpaca stamps a bar with its start), exact ints throughout: the VWAP is kept as the sum
of price times size and divided only when written. A tape of bars is served as its own bars.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Final, TypeVar

from tapeflow.data.nytime import NEW_YORK, NS_PER_SECOND, ny_to_utc_ns
from tapeflow.engine.kernel import Kernel
from tapeflow.model.errors import ValueRangeError
from tapeflow.model.market import Bar, Quote, Trade

MINUTE_NS: Final = 60 * NS_PER_SECOND
HOUR_NS: Final = 60 * MINUTE_NS
DAY: Final = -1
"""The width of a daily bucket: not a fixed number of ns (DST days have 23 or 25 hours)."""

T = TypeVar("T")


@dataclasses.dataclass(slots=True)
class BarRow:
    """One aggregated bar: ``t`` its start (ns), prices in 1/10,000 dollar, ``pv`` the sum of price times size."""

    t: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    trades: int | None
    pv: int | None

    @property
    def ts_event(self) -> int:
        return self.t


def ny_midnight(ts: int) -> int:
    """New York midnight (ns since the epoch) of the New York day ``ts`` falls on."""
    day: date = datetime.fromtimestamp(ts // NS_PER_SECOND, UTC).astimezone(NEW_YORK).date()
    return ny_to_utc_ns(day, 0)


def bucket_start(ts: int, width: int) -> int:
    """The start of the bucket of ``width`` (ns, or ``DAY``) holding ``ts``, counted from New York midnight."""
    midnight = ny_midnight(ts)
    if width == DAY:
        return midnight
    return midnight + (ts - midnight) // width * width


def aggregate(trades: Sequence[Trade], width: int) -> list[BarRow]:
    """Trades in time order to bars of ``width``; a bucket without trades has no bar (as Alpaca's)."""
    rows: list[BarRow] = []
    lo = hi = -1  # the current bucket [lo, hi): most trades fall in it, so the calendar is asked once a bucket
    for trade in trades:
        ts = trade.ts_event
        if not lo <= ts < hi:
            midnight = ny_midnight(ts)
            tomorrow = ny_midnight(midnight + 26 * HOUR_NS)
            if width == DAY:
                lo, hi = midnight, tomorrow
            else:  # a bucket never crosses New York midnight
                lo = midnight + (ts - midnight) // width * width
                hi = min(lo + width, tomorrow)
        last = rows[-1] if rows else None
        if last is None or last.t != lo:
            rows.append(BarRow(lo, trade.price, trade.price, trade.price, trade.price, 0, 0, 0))
            last = rows[-1]
        last.high = max(last.high, trade.price)
        last.low = min(last.low, trade.price)
        last.close = trade.price
        last.volume += trade.size
        last.trades = (last.trades or 0) + 1
        last.pv = (last.pv or 0) + trade.price * trade.size
    return rows


def bar_rows(bars: Sequence[Bar]) -> list[BarRow]:
    """Recorded bars as rows stamped with their start (tapeflow stamps a bar with its end); no count or VWAP."""
    rows = []
    for bar in bars:
        start = ny_midnight(bar.ts_event - 1) if bar.interval_ns >= 23 * HOUR_NS else bar.ts_event - bar.interval_ns
        rows.append(BarRow(start, bar.open, bar.high, bar.low, bar.close, bar.volume, None, None))
    return rows


def _record(store: dict[str, list[T]], symbol: str, event: T, ts: int, key: Callable[[T], int], cap: int) -> None:
    items = store.setdefault(symbol, [])
    if items and key(items[-1]) > ts:  # out of time order (a delayed feed): keep the list sorted for bisect
        bisect.insort_right(items, event, key=key)
    else:
        items.append(event)
    if len(items) > cap:
        del items[: len(items) // 2]


def _ts(event: Trade | Quote | Bar) -> int:
    return event.ts_event


class TapeHistory:
    """The dispatched trades, quotes and bars of every symbol, in time order (``ts_event``)."""

    def __init__(self, *, max_per_symbol: int = 5_000_000) -> None:
        if max_per_symbol < 2:
            raise ValueRangeError(f"max_per_symbol {max_per_symbol} must be at least 2")
        self.max_per_symbol = max_per_symbol
        self.trades: dict[str, list[Trade]] = {}
        self.quotes: dict[str, list[Quote]] = {}
        self.bars: dict[str, list[Bar]] = {}

    def attach(self, kernel: Kernel) -> TapeHistory:
        """Records from now on everything ``kernel`` dispatches (attach before the venue is stepped)."""
        kernel.subscribe(Trade, self.on_trade)
        kernel.subscribe(Quote, self.on_quote)
        kernel.subscribe(Bar, self.on_bar)
        return self

    def on_trade(self, trade: Trade) -> None:
        _record(self.trades, trade.symbol, trade, trade.ts_event, _ts, self.max_per_symbol)

    def on_quote(self, quote: Quote) -> None:
        _record(self.quotes, quote.symbol, quote, quote.ts_event, _ts, self.max_per_symbol)

    def on_bar(self, bar: Bar) -> None:
        _record(self.bars, bar.symbol, bar, bar.ts_event, _ts, self.max_per_symbol)

    def symbols(self) -> set[str]:
        return {*self.trades, *self.quotes, *self.bars}

    def bars_of(self, symbol: str, width: int, start: int, end: int, now: int) -> list[BarRow]:
        """Bars of ``width`` starting in [start, end] from what is known at ``now``: the tape's own bars of that
        width if it has them, else bars aggregated from its trades (the last one may still be forming)."""
        own = [
            b
            for b in self.bars.get(symbol, ())
            if b.interval_ns == width or (width == DAY and b.interval_ns >= 23 * HOUR_NS)
        ]
        if own:
            rows = bar_rows(own)
        else:
            trades = self.trades.get(symbol, [])
            lo = bisect.bisect_left(trades, start, key=_ts)
            hi = bisect.bisect_right(trades, min(now, end + 26 * HOUR_NS), key=_ts)
            rows = aggregate(trades[lo:hi], width)
        return [r for r in rows if start <= r.t <= end]


Cursor = tuple[int, int]
"""Where a page resumes: the time of the next item and how many items of that same time precede it."""


def page(
    items: Sequence[T], key: Callable[[T], int], lo: int, hi: int, limit: int, desc: bool, cursor: Cursor | None
) -> tuple[list[T], Cursor | None]:
    """Up to ``limit`` items with ``lo <= key <= hi`` from a time-sorted list, from ``cursor`` on, and the cursor of
    the next item if any is left (a cursor survives items dropped from the list's front)."""
    first = bisect.bisect_left(items, lo, key=key)
    stop = bisect.bisect_right(items, hi, key=key)
    out: list[T] = []
    if not desc:
        pos = first if cursor is None else max(first, bisect.bisect_left(items, cursor[0], key=key) + cursor[1])
        while pos < stop and len(out) < limit:
            out.append(items[pos])
            pos += 1
        if pos >= stop:
            return out, None
        ts = key(items[pos])
        return out, (ts, pos - bisect.bisect_left(items, ts, key=key))
    pos = stop - 1 if cursor is None else min(stop - 1, bisect.bisect_right(items, cursor[0], key=key) - 1 - cursor[1])
    while pos >= first and len(out) < limit:
        out.append(items[pos])
        pos -= 1
    if pos < first:
        return out, None
    ts = key(items[pos])
    return out, (ts, bisect.bisect_right(items, ts, key=key) - 1 - pos)
