"""NBBO from per-exchange quotes: a hand-built multi-exchange scenario with known answers, and properties."""

from __future__ import annotations

import zipfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.data.nbbo import NbboBuilder
from tapeflow.data.taq import TaqReader
from tapeflow.model.market import Quote


def test_three_exchanges_best_prices_and_summed_sizes() -> None:
    nb = NbboBuilder()
    nb.set_bid("N", 100_0000, 300)
    nb.set_ask("N", 100_0500, 200)
    nb.set_bid("P", 100_0100, 100)
    nb.set_ask("P", 100_0500, 400)
    nb.set_bid("Q", 100_0100, 50)
    assert nb.nbbo.bid_price == 100_0100 and nb.nbbo.bid_size == 150
    assert nb.nbbo.ask_price == 100_0500 and nb.nbbo.ask_size == 600
    assert nb.set_bid("P", 0, 0)  # P withdraws its bid: Q alone at the best
    assert (nb.bid_price, nb.bid_size) == (100_0100, 50)
    assert nb.set_bid("Q", 99_9900, 50)  # the best moves down to N
    assert (nb.bid_price, nb.bid_size) == (100_0000, 300)
    assert not nb.set_bid("Q", 99_9900, 50)  # nothing changed at the top
    nb.set_bid("Z", 100_0500, 10)
    assert nb.nbbo.locked and not nb.nbbo.crossed
    nb.set_bid("Z", 100_0600, 10)
    assert nb.nbbo.crossed


def test_locked_and_crossed_time_is_measured() -> None:
    nb = NbboBuilder()
    nb.set_bid("N", 100, 1)
    nb.set_ask("N", 101, 1)
    nb.record(0)
    nb.set_bid("P", 101, 1)
    nb.record(10)
    nb.set_bid("P", 102, 1)
    nb.record(15)
    stats = nb.finish(20)
    assert (stats.updates, stats.locked_updates, stats.crossed_updates) == (3, 1, 1)
    assert (stats.two_sided_ns, stats.locked_ns, stats.crossed_ns) == (20, 5, 5)


def test_top_of_book_rows_drop_exchanges_that_claim_better() -> None:
    nb = NbboBuilder()
    nb.set_top_bid("N", 100, 5)
    nb.set_top_bid("Q", 99, 7)  # N must have left the top: its 100 is stale
    assert nb.exchange_quote("N")[:2] == (0, 0)
    assert (nb.bid_price, nb.bid_size) == (99, 7)


quotes = st.lists(
    st.tuples(st.sampled_from("NPQZKJ"), st.booleans(), st.integers(0, 20), st.integers(0, 5)), max_size=200
)


@settings(max_examples=200, deadline=None)
@given(quotes)
def test_nbbo_is_never_worse_than_any_exchange(updates: list[tuple[str, bool, int, int]]) -> None:
    nb = NbboBuilder()
    for ex, is_bid, price, size in updates:
        (nb.set_bid if is_bid else nb.set_ask)(ex, price, size)
        for other in "NPQZKJ":
            bp, _bs, ap, _az = nb.exchange_quote(other)
            assert bp <= nb.bid_price
            assert ap == 0 or 0 < nb.ask_price <= ap
        live_bids = [nb.exchange_quote(e) for e in "NPQZKJ" if nb.exchange_quote(e)[0] > 0]
        assert nb.bid_size == sum(q[1] for q in live_bids if q[0] == nb.bid_price)


def _write_day(tmp: Path, trades: list[str], quotes: list[str]) -> tuple[Path, Path]:
    t = tmp / "20131007_trade.zip"
    q = tmp / "20131007_quote.zip"
    with zipfile.ZipFile(t, "w") as zf:
        zf.writestr("20131007_xyz_Trade_Tick.csv", "\n".join(trades) + "\n")
    with zipfile.ZipFile(q, "w") as zf:
        zf.writestr("20131007_xyz_Quote_Tick.csv", "\n".join(quotes) + "\n")
    return t, q


def test_exchange_mode_scenario_known_nbbo_and_aggressors(tmp_path: Path) -> None:
    quotes = [
        "36000000,1000000,300,0,0,N,1,0",
        "36000000,0,0,1000500,200,N,1,0",
        "36000001,1000100,100,0,0,P,1,0",
        "36000002,0,0,1000400,100,Q,1,0",
        "36000005,1000200,100,0,0,Q,1,0",
    ]
    trades = [
        "36000003,1000400,100,Q,1,0",  # at the ask 100.04 -> BUY by quote rule
        "36000004,1000250,100,D,1,0",  # mid of 100.01/100.04 is 100.025 -> tick test: down -> SELL
        "36000005,1000100,100,P,80000001,0",  # trade before same-ms quote: at bid 100.01 -> SELL, odd lot
    ]
    t, q = _write_day(tmp_path, trades, quotes)
    reader = TaqReader(t, q, quotes_are="exchange")
    events = list(reader.events())
    nbbos = [
        (e.bid_price, e.bid_size, e.ask_price, e.ask_size) for e in events if isinstance(e, Quote) and e.venue == "NBBO"
    ]
    assert nbbos == [
        (1000000, 300, 1000500, 200),
        (1000100, 100, 1000500, 200),
        (1000100, 100, 1000400, 100),
        (1000200, 100, 1000400, 100),
    ]
    trades_out = [e for e in events if not isinstance(e, Quote)]
    assert [tr.aggressor.value for tr in trades_out] == ["BUY", "SELL", "SELL"]
    assert trades_out[2].conditions == ("REGULAR", "ODD_LOT")
    assert (reader.stats.lee_ready.by_quote, reader.stats.lee_ready.by_tick) == (2, 1)
    assert [type(e).__name__ for e in events][-3:] == ["Trade", "Quote", "Quote"]
