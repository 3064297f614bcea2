"""The arrival mid as an int (``TradingNode._mid_x2_of``) equals what the ``Fraction`` path it replaced gave.

The old path: the book's ``mid()`` (a ``Fraction``), else the portfolio's ``mark_price`` (a ``Fraction``), doubled
and rounded by the results collector. Both are run on the same states: quote books (one-sided and empty sides
included), L2 books from snapshots, symbols marked only by bars or only by fills.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.backtest.engine import Backtest
from tapeflow.model import Bar, BookLevel, BookSnapshot, Quote
from tapeflow.portfolio.position import round_div
from tapeflow.report.results import ResultsCollector
from tests.backtest.scenario import T0

SYMBOLS = ("AAA", "BBB", "CCC")
prices = st.integers(min_value=0, max_value=3_000_000)
sizes = st.integers(min_value=0, max_value=500)


def _old_mid_x2(bt: Backtest, symbol: str) -> int | None:
    book = bt.books.book(symbol)
    mid = book.mid() if book is not None else None
    if mid is None:
        mid = bt.portfolio.mark_price(symbol)
    if mid is None:
        return None
    doubled = Fraction(mid) * 2
    return round_div(doubled.numerator, doubled.denominator)


@settings(max_examples=150, deadline=None)
@given(
    quotes=st.lists(st.tuples(st.sampled_from(SYMBOLS), prices, sizes, prices, sizes), max_size=12),
    bars=st.lists(st.tuples(st.sampled_from(SYMBOLS), st.integers(min_value=1, max_value=3_000_000)), max_size=4),
)
def test_mid_x2_of_quote_books_and_bar_marks_equals_the_fraction_path(
    quotes: list[tuple[str, int, int, int, int]], bars: list[tuple[str, int]]
) -> None:
    bt = Backtest([], level="L1")
    node = bt.node
    for i, (symbol, close) in enumerate(bars):
        bar = Bar(ts_event=T0 + i, ts_init=T0 + i, symbol=symbol, open=close, high=close, low=close, close=close,
                  volume=100)  # fmt: skip
        bt.portfolio.on_bar(bar)
    for i, (symbol, bid, bid_size, ask, ask_size) in enumerate(quotes):
        quote = Quote(ts_event=T0 + 10 + i, ts_init=T0 + 10 + i, symbol=symbol, bid_price=bid, bid_size=bid_size,
                      ask_price=ask, ask_size=ask_size)  # fmt: skip
        bt.books.on_quote(quote)
        bt.portfolio.on_quote(quote)
    for symbol in (*SYMBOLS, "NEVER"):
        assert node._mid_x2_of(symbol) == _old_mid_x2(bt, symbol)


@settings(max_examples=100, deadline=None)
@given(
    bids=st.lists(st.tuples(st.integers(1, 10_000), st.integers(1, 500)), max_size=4, unique_by=lambda t: t[0]),
    asks=st.lists(st.tuples(st.integers(10_001, 20_000), st.integers(1, 500)), max_size=4, unique_by=lambda t: t[0]),
)
def test_mid_x2_of_l2_books_equals_the_fraction_path(bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
    bt = Backtest([], level="L2")
    snap = BookSnapshot(
        ts_event=T0,
        ts_init=T0,
        symbol="AAA",
        bids=tuple(BookLevel(p * 100, s) for p, s in sorted(bids, reverse=True)),
        asks=tuple(BookLevel(p * 100, s) for p, s in sorted(asks)),
    )
    bt.books.on_event(snap)
    assert bt.node._mid_x2_of("AAA") == _old_mid_x2(bt, "AAA")


def test_results_prefer_the_int_mid_when_both_are_given() -> None:
    collector = ResultsCollector(mid_of=lambda _: Fraction(7, 2), mid_x2_of=lambda _: 9)
    assert collector._arrival_mid_x2("AAA") == 9
    assert ResultsCollector(mid_of=lambda _: Fraction(7, 2))._arrival_mid_x2("AAA") == 7
