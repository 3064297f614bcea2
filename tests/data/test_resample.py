"""Resampling trades to bars: no bar before its close, exact OHLCV, volume bars."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.data.resample import time_bars, volume_bars
from tapeflow.model.events import Event
from tapeflow.model.market import Bar, Trade


def _t(ts: int, price: int, size: int = 1, sym: str = "X", cond: tuple[str, ...] = ()) -> Trade:
    return Trade(ts_event=ts, ts_init=ts, symbol=sym, price=price, size=size, conditions=cond)


def test_time_bar_emitted_at_close_before_the_next_interval() -> None:
    out = list(time_bars([_t(1, 10), _t(5, 12), _t(9, 8, 2), _t(10, 11), _t(25, 9)], 10))
    kinds = [type(e).__name__ for e in out]
    assert kinds == ["Trade", "Trade", "Trade", "Bar", "Trade", "Bar", "Trade", "Bar"]
    b = out[3]
    assert isinstance(b, Bar) and (b.ts_event, b.open, b.high, b.low, b.close, b.volume) == (10, 10, 12, 8, 8, 4)
    assert out[5].ts_init == 20 and out[7].ts_init == 30  # the 10-20 bar closes at 20; 20-30 at the end


def test_suspicious_trades_pass_through_but_not_into_bars() -> None:
    out = list(time_bars([_t(1, 10), _t(2, 999, cond=("SUSPICIOUS",))], 10))
    bar = out[-1]
    assert isinstance(bar, Bar) and bar.high == 10 and len(out) == 3


def test_volume_bars_close_on_the_completing_trade() -> None:
    out = [e for e in volume_bars([_t(1, 10, 3), _t(2, 11, 3), _t(3, 9, 5), _t(4, 9, 1)], 5) if isinstance(e, Bar)]
    assert [(b.ts_event, b.volume, b.open, b.close, b.interval_ns) for b in out] == [(2, 6, 10, 11, 1), (3, 5, 9, 9, 0)]


trades = st.lists(st.tuples(st.integers(0, 50), st.integers(1, 100), st.sampled_from("AB")), max_size=60)


@settings(max_examples=200, deadline=None)
@given(trades, st.integers(1, 20))
def test_no_bar_before_its_close_and_volume_conserved(rows: list[tuple[int, int, str]], interval: int) -> None:
    ts = 0
    events: list[Event] = []
    for gap, price, sym in rows:
        ts += gap
        events.append(_t(ts, price, 1, sym))
    out = list(time_bars(events, interval))
    seen_ts = -1
    for e in out:
        assert e.ts_init >= seen_ts  # stream stays in time order
        seen_ts = e.ts_init
        if isinstance(e, Bar):
            assert e.ts_event % interval == 0
            # every trade in the bar is before its close, and the bar comes after all of them
            idx = out.index(e)
            members = [
                x
                for x in out[:idx]
                if isinstance(x, Trade) and x.symbol == e.symbol and e.ts_event - interval <= x.ts_init < e.ts_event
            ]
            assert sum(m.size for m in members) == e.volume
            assert not any(
                isinstance(x, Trade)
                and x.ts_init < e.ts_event
                and x.symbol == e.symbol
                and x.ts_init >= e.ts_event - interval
                for x in out[idx:]
            )
    assert sum(e.volume for e in out if isinstance(e, Bar)) == len(events)
