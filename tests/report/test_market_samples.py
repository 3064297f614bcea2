"""MarketSamples: bounded, evenly thinned, deterministic samples of the book for the tear sheet's charts."""

from __future__ import annotations

import msgspec
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tapeflow.model.market import Quote
from tapeflow.report.market_samples import START_INTERVAL_NS, MarketSamples

T0 = 1_718_976_600_000_000_000  # 2024-06-21 09:30 New York


def _quote(ts: int, bid: int = 1_000_000, lag: int = 5_000) -> Quote:
    return Quote(
        ts_event=ts, ts_init=ts + lag, symbol="AAPL", bid_price=bid, bid_size=100, ask_price=bid + 100, ask_size=200
    )


def _feed(samples: MarketSamples, times: list[int]) -> None:
    for i, ts in enumerate(times):
        samples.on_market(_quote(ts, bid=1_000_000 + i))


def test_one_sample_per_interval_keeps_the_first_change_of_each() -> None:
    samples = MarketSamples()
    step = START_INTERVAL_NS // 4
    _feed(samples, [T0 + i * step for i in range(40)])
    table = samples.tables()["top"]
    ts = table.column("ts").to_pylist()
    assert len(ts) == 10 and all(t % START_INTERVAL_NS == T0 % START_INTERVAL_NS for t in ts)
    assert table.column("feed_ns").to_pylist() == [5_000] * 10


@given(st.integers(min_value=1, max_value=5_000), st.integers(min_value=1, max_value=50_000_000))
def test_samples_stay_within_the_bound_whatever_the_run_length(changes: int, step: int) -> None:
    samples = MarketSamples(max_top=64)
    _feed(samples, [T0 + i * step for i in range(changes)])
    table = samples.tables()["top"]
    assert 1 <= table.num_rows <= 64 + 1
    gaps = np.diff(table.column("ts").to_numpy())
    assert (gaps > 0).all()
    sampling = msgspec.json.decode(table.schema.metadata[b"tapeflow.sampling"])["AAPL"]
    assert sampling["book_changes"] == changes
    assert sampling["interval_ns"] >= START_INTERVAL_NS


def test_past_the_bound_the_interval_doubles_and_the_samples_stay_even() -> None:
    samples = MarketSamples(max_top=100)
    _feed(samples, [T0 + i * START_INTERVAL_NS for i in range(1_000)])
    table = samples.tables()["top"]
    meta = msgspec.json.decode(table.schema.metadata[b"tapeflow.sampling"])["AAPL"]
    assert meta["interval_ns"] == 16 * START_INTERVAL_NS  # 1,000 intervals -> 500 -> 250 -> 125 -> 63 samples
    gaps = set(np.diff(table.column("ts").to_numpy()).tolist())
    assert gaps == {16 * START_INTERVAL_NS}


def test_the_same_events_give_the_same_samples() -> None:
    times = [T0 + (i * 7_919_993) % 3_000_000_000 for i in range(3_000)]
    times.sort()
    first, second = MarketSamples(max_top=50), MarketSamples(max_top=50)
    _feed(first, times)
    _feed(second, times)
    assert first.tables()["top"].equals(second.tables()["top"])


def test_without_a_book_there_is_no_depth_and_quotes_give_the_top() -> None:
    samples = MarketSamples()
    _feed(samples, [T0])
    tables = samples.tables()
    assert tables["depth"].num_rows == 0
    row = tables["top"].to_pylist()[0]
    assert (row["bid"], row["bid_size"], row["ask"], row["ask_size"]) == (1_000_000, 100, 1_000_100, 200)
