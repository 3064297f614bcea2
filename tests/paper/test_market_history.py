"""TapeHistory, bar aggregation in New York time and the cursor paging the market data REST relies on."""

from __future__ import annotations

from datetime import date

import pytest

from tapeflow.data.nytime import ny_to_utc_ns
from tapeflow.model.errors import ValueRangeError
from tapeflow.model.market import Bar, Trade
from tapeflow.paper.market_history import DAY, HOUR_NS, MINUTE_NS, TapeHistory, aggregate, page

SECOND = 1_000_000_000
SUMMER = date(2012, 6, 21)
WINTER = date(2012, 12, 21)


def _trade(ts: int, price: int, size: int = 100) -> Trade:
    return Trade(ts_event=ts, ts_init=ts, symbol="AAPL", price=price, size=size)


def _at(day: date, hours: int, minutes: int, seconds: int = 0) -> int:
    return ny_to_utc_ns(day, ((hours * 60 + minutes) * 60 + seconds) * SECOND)


def test_minute_bars_take_ohlcv_count_and_price_times_size_of_the_prints_in_each_minute() -> None:
    trades = [
        _trade(_at(SUMMER, 9, 30, 5), 100_0000, 10),
        _trade(_at(SUMMER, 9, 30, 20), 101_0000, 20),
        _trade(_at(SUMMER, 9, 30, 59), 99_5000, 30),
        _trade(_at(SUMMER, 9, 32, 0), 100_5000, 40),
    ]
    first, second = aggregate(trades, MINUTE_NS)
    assert (first.t, first.open, first.high, first.low, first.close) == (
        _at(SUMMER, 9, 30),
        100_0000,
        101_0000,
        99_5000,
        99_5000,
    )
    assert (first.volume, first.trades, first.pv) == (60, 3, 100_0000 * 10 + 101_0000 * 20 + 99_5000 * 30)
    assert (second.t, second.volume, second.trades) == (_at(SUMMER, 9, 32), 40, 1)


@pytest.mark.parametrize(("day", "midnight_utc_hour"), [(SUMMER, 4), (WINTER, 5)])
def test_a_daily_bar_starts_at_new_york_midnight_in_summer_and_winter(day: date, midnight_utc_hour: int) -> None:
    trades = [_trade(_at(day, 9, 30), 100_0000), _trade(_at(day, 15, 59), 101_0000)]
    (bar,) = aggregate(trades, DAY)
    assert bar.t == _at(day, 0, 0)
    assert bar.t % (24 * HOUR_NS) == midnight_utc_hour * HOUR_NS
    assert (bar.open, bar.close, bar.trades) == (100_0000, 101_0000, 2)


def test_hour_bars_are_aligned_on_new_york_hours() -> None:
    trades = [_trade(_at(SUMMER, 9, 30), 1), _trade(_at(SUMMER, 9, 59), 2), _trade(_at(SUMMER, 10, 0), 3)]
    assert [b.t for b in aggregate(trades, HOUR_NS)] == [_at(SUMMER, 9, 0), _at(SUMMER, 10, 0)]


def test_pages_in_both_orders_give_every_item_once_even_across_ties() -> None:
    items = [1, 2, 2, 2, 3, 4, 4, 5]
    for desc in (False, True):
        got: list[int] = []
        cursor = None
        while True:
            chunk, cursor = page(items, int, 2, 4, 2, desc, cursor)
            got.extend(chunk)
            if cursor is None:
                break
        assert got == ([2, 2, 2, 3, 4, 4][::-1] if desc else [2, 2, 2, 3, 4, 4])


def test_a_cursor_survives_items_dropped_from_the_front() -> None:
    items = [1, 2, 3, 3, 4]
    chunk, cursor = page(items, int, 0, 9, 3, False, None)
    assert chunk == [1, 2, 3] and cursor == (3, 1)
    assert page(items[2:], int, 0, 9, 9, False, cursor) == ([3, 4], None)


def test_history_keeps_time_order_and_drops_its_oldest_half_past_the_cap() -> None:
    history = TapeHistory(max_per_symbol=4)
    for ts in (10, 30, 20, 40, 50):
        history.on_trade(_trade(ts, 1))
    assert [t.ts_event for t in history.trades["AAPL"]] == [30, 40, 50]
    with pytest.raises(ValueRangeError):
        TapeHistory(max_per_symbol=1)


def test_a_tape_of_bars_is_served_as_its_own_bars_stamped_with_their_start() -> None:
    history = TapeHistory()
    end = _at(SUMMER, 9, 31)
    history.on_bar(Bar(ts_event=end, ts_init=end, symbol="AAPL", open=1, high=3, low=1, close=2, volume=7))
    history.on_trade(_trade(_at(SUMMER, 9, 30, 30), 5))  # ignored: the tape's bars win
    (row,) = history.bars_of("AAPL", MINUTE_NS, 0, end, end)
    assert (row.t, row.close, row.volume, row.trades, row.pv) == (_at(SUMMER, 9, 30), 2, 7, None, None)
    assert history.bars_of("AAPL", HOUR_NS, 0, end, end)[0].trades == 1  # no hour bars on the tape: from trades
