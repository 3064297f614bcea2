"""The synthetic market agrees with itself: a book rebuilt from its deltas matches quotes and backs trades."""

from __future__ import annotations

import hashlib
import itertools
import math
import statistics

import msgspec
import pytest

from tapeflow.config import SyntheticConfig
from tapeflow.data.synthetic import SyntheticMarket
from tapeflow.engine.merge import merge_sorted
from tapeflow.model import (
    RULE_612,
    Aggressor,
    BookAction,
    BookDelta,
    BookSnapshot,
    ConfigError,
    Quote,
    Side,
    Trade,
)


@pytest.fixture(scope="module")
def streams() -> list[list[object]]:
    market = SyntheticMarket(SyntheticConfig(symbols=("AAPL", "TSLA"), seed=5, events_per_symbol=30_000))
    return [list(s) for s in market.sources()]


def test_each_stream_has_exactly_the_configured_count(streams: list[list[object]]) -> None:
    assert [len(s) for s in streams] == [30_000, 30_000]


def check_consistent(stream: list[object]) -> tuple[int, int]:
    """Rebuilds the book from the snapshot and deltas and checks every event against it; returns (quotes, trades)."""
    snap = stream[0]
    assert isinstance(snap, BookSnapshot)
    bids = {lvl.price: lvl.size for lvl in snap.bids}
    asks = {lvl.price: lvl.size for lvl in snap.asks}
    seq = snap.sequence
    last_ts = 0
    trades = 0
    checked_quotes = 0
    for ev in stream[1:]:
        assert isinstance(ev, BookDelta | Quote | Trade)
        assert ev.ts_init >= last_ts
        last_ts = ev.ts_init
        if isinstance(ev, Trade):
            book = asks if ev.aggressor is Aggressor.BUY else bids
            assert ev.price in book, "a trade must print at a price the book showed"
            assert 0 < ev.size <= book[ev.price]
            trades += 1
        elif isinstance(ev, BookDelta):
            assert ev.sequence == seq + 1, "sequence numbers are contiguous"
            seq = ev.sequence
            assert RULE_612.is_valid(ev.price) and ev.price > 0
            book = bids if ev.side is Side.BUY else asks
            if ev.action is BookAction.DELETE:
                assert ev.price in book
                del book[ev.price]
            elif ev.action is BookAction.ADD:
                assert ev.price not in book and ev.size > 0
                book[ev.price] = ev.size
            else:
                assert ev.price in book and ev.size > 0
                book[ev.price] = ev.size
            assert max(bids) < min(asks), "never crossed or locked"
        else:
            best_bid, best_ask = max(bids), min(asks)
            assert (ev.bid_price, ev.bid_size) == (best_bid, bids[best_bid])
            assert (ev.ask_price, ev.ask_size) == (best_ask, asks[best_ask])
            checked_quotes += 1
    return checked_quotes, trades


def test_book_from_deltas_matches_quotes_backs_trades_and_never_crosses(streams: list[list[object]]) -> None:
    for stream in streams:
        quotes, trades = check_consistent(stream)
        assert quotes > 5_000
        assert trades > 2_000


def test_sizes_are_heavy_tailed_and_arrivals_bursty(streams: list[list[object]]) -> None:
    trades = [e for e in streams[0] if isinstance(e, Trade)]
    sizes = [t.size for t in trades]
    assert max(sizes) > 20 * statistics.median(sizes)
    times = sorted({e.ts_init for e in streams[0] if isinstance(e, Quote | BookDelta | Trade)})
    gaps = [b - a for a, b in itertools.pairwise(times)]
    cv = statistics.pstdev(gaps) / statistics.mean(gaps)
    assert cv > 1.2, f"exponential gaps alone give cv=1; bursts make it larger, got {cv:.2f}"
    assert not math.isnan(cv)


def test_same_seed_same_stream_other_symbols_independent() -> None:
    one = SyntheticMarket(SyntheticConfig(symbols=("AAPL",), seed=9, events_per_symbol=500))
    two = SyntheticMarket(SyntheticConfig(symbols=("AAPL", "MSFT"), seed=9, events_per_symbol=500))
    assert list(one.stream(0)) == list(two.stream(0))
    assert list(one.stream(0)) == list(one.stream(0))


def test_start_prices_must_match_symbols() -> None:
    with pytest.raises(ConfigError, match="2 start prices for 1 symbols"):
        SyntheticMarket(SyntheticConfig(symbols=("AAPL",), start_price=("1.00", "2.00")))


DEFAULT_STREAM_SHA256 = "e83fc960a0ba2d1f398cf465eedf2b846ba65f6ccdc48855e0980294105c8a2f"
"""The default market (``SyntheticConfig()``, all four symbols merged) as generated before the regime market
existed: the plain market must not change by a byte, or every recorded benchmark and example result would."""


def test_the_default_stream_is_byte_identical_to_before_the_regime_market() -> None:
    digest = hashlib.sha256()
    encoder = msgspec.msgpack.Encoder()
    count = 0
    for event in merge_sorted(SyntheticMarket(SyntheticConfig()).sources()):
        digest.update(type(event).__name__.encode())
        digest.update(encoder.encode(event))
        count += 1
    assert count == 4 * 50_000
    assert digest.hexdigest() == DEFAULT_STREAM_SHA256
