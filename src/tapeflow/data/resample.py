"""Trades to bars inside the event stream, without look-ahead.

A time bar covering ``[start, start + interval)`` is emitted only once its interval has closed: when the first
event at or after ``start + interval`` arrives (before that event, stamped at the close), or at the end of the
stream. Its ``ts_event`` and ``ts_init`` are the close, so in a backtest a strategy sees it exactly when a live
system could have built it. Intervals are aligned to the Unix epoch, which for intervals dividing an hour is
also aligned to New York wall-clock time. Intervals without trades give no bar.

Volume bars close on the trade that brings their volume to at least the threshold (that trade stays whole in
the bar); they are emitted right after it, stamped with its time. Trades with any of the ``exclude``
conditions (suspicious prints by default, as LEAN does) do not enter bars but pass through.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from typing import Final

from tapeflow.model.events import Event
from tapeflow.model.market import Bar, Trade

DEFAULT_EXCLUDE: Final = frozenset({"SUSPICIOUS"})


class _Acc:
    __slots__ = ("close", "first_ts", "high", "low", "open", "start", "volume")

    def __init__(self, start: int, ts: int, price: int, size: int) -> None:
        self.start = start
        self.first_ts = ts
        self.open = self.high = self.low = self.close = price
        self.volume = size

    def add(self, price: int, size: int) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += size

    def bar(self, symbol: str, ts: int, interval: int) -> Bar:
        return Bar(
            ts_event=ts, ts_init=ts, symbol=symbol, open=self.open, high=self.high, low=self.low,
            close=self.close, volume=self.volume, interval_ns=interval,
        )  # fmt: skip


def time_bars(
    events: Iterable[Event], interval_ns: int, *, exclude: frozenset[str] = DEFAULT_EXCLUDE, passthrough: bool = True
) -> Iterator[Event]:
    """The input events (unless ``passthrough=False``) with a ``Bar`` per symbol and closed interval inserted."""
    if interval_ns <= 0:
        raise ValueError(f"interval_ns must be positive, not {interval_ns}")
    open_bars: dict[str, _Acc] = {}
    closes: list[tuple[int, str]] = []
    for ev in events:
        ts = ev.ts_init
        while closes and closes[0][0] <= ts:
            end, sym = heapq.heappop(closes)
            yield open_bars.pop(sym).bar(sym, end, interval_ns)
        if isinstance(ev, Trade) and exclude.isdisjoint(ev.conditions):
            acc = open_bars.get(ev.symbol)
            if acc is None:
                start = ts - ts % interval_ns
                open_bars[ev.symbol] = _Acc(start, ts, ev.price, ev.size)
                heapq.heappush(closes, (start + interval_ns, ev.symbol))
            else:
                acc.add(ev.price, ev.size)
        if passthrough:
            yield ev
    while closes:
        end, sym = heapq.heappop(closes)
        yield open_bars.pop(sym).bar(sym, end, interval_ns)


def volume_bars(
    events: Iterable[Event], volume: int, *, exclude: frozenset[str] = DEFAULT_EXCLUDE, passthrough: bool = True
) -> Iterator[Event]:
    """The input events with a ``Bar`` after each trade that completes ``volume`` shares for its symbol.

    ``interval_ns`` of a volume bar is the time from its first trade to its last. A partial bar at the end of
    the stream is not emitted: it never reached its volume.
    """
    if volume <= 0:
        raise ValueError(f"volume must be positive, not {volume}")
    open_bars: dict[str, _Acc] = {}
    for ev in events:
        if passthrough:
            yield ev
        if isinstance(ev, Trade) and exclude.isdisjoint(ev.conditions):
            acc = open_bars.get(ev.symbol)
            if acc is None:
                acc = open_bars[ev.symbol] = _Acc(ev.ts_init, ev.ts_init, ev.price, ev.size)
            else:
                acc.add(ev.price, ev.size)
            if acc.volume >= volume:
                del open_bars[ev.symbol]
                yield acc.bar(ev.symbol, ev.ts_init, ev.ts_init - acc.first_ts)
