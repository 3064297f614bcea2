from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.engine import Kernel
from tapeflow.model import Bar, LiquiditySide, OrderFilled, Quote, Side, ValueRangeError
from tapeflow.model.errors import EngineError
from tapeflow.model.venue_state import VenuePosition, VenueState
from tapeflow.portfolio import Portfolio, PortfolioConfig, Position, round_div

START = 100_000 * 10_000  # $100,000.00
D = 10_000  # one dollar in price units


def fill(ts: int, side: Side, qty: int, price: int, fee: int = 0, symbol: str = "AAPL", sid: str = "s1") -> OrderFilled:
    return OrderFilled(
        ts_event=ts,
        ts_init=ts,
        strategy_id=sid,
        client_order_id=f"o{ts}",
        symbol=symbol,
        side=side,
        price=price,
        quantity=qty,
        leaves_quantity=0,
        liquidity_side=LiquiditySide.TAKER,
        fee=fee,
    )


def quote(ts: int, bid: int, ask: int, symbol: str = "AAPL", bid_size: int = 100, ask_size: int = 100) -> Quote:
    return Quote(
        ts_event=ts,
        ts_init=ts,
        symbol=symbol,
        bid_price=bid,
        bid_size=bid_size,
        ask_price=ask,
        ask_size=ask_size,
    )


def portfolio(**kw: object) -> Portfolio:
    return Portfolio(PortfolioConfig(starting_cash=START, sample_interval_ns=None, **kw))  # type: ignore[arg-type]


def test_round_div_rounds_half_to_even_for_both_signs() -> None:
    assert [round_div(n, 2) for n in (-3, -1, 1, 3, 5)] == [-2, 0, 0, 2, 2]
    assert round_div(7, 3) == 2 and round_div(-7, 3) == -2
    with pytest.raises(ValueRangeError, match="denominator must be positive"):
        round_div(1, 0)


def test_two_buys_average_cost_is_exact_and_a_partial_sale_realizes_against_it() -> None:
    p = portfolio()
    p.on_fill(fill(1, Side.BUY, 100, 10 * D, fee=5_000))
    p.on_fill(fill(2, Side.BUY, 100, 11 * D, fee=5_000))
    view = p.position("AAPL")
    assert view.quantity == 200
    assert view.avg_cost == Fraction(105_000)  # $10.50
    p.on_fill(fill(3, Side.SELL, 150, 12 * D, fee=5_000))
    view = p.position("AAPL")
    assert view.quantity == 50
    assert view.realized == 225 * D  # gross of fees: 150 * (12.00 - 10.50)
    assert p.realized_pnl() == 225 * D
    assert p.fees == 15_000  # $1.50, kept apart
    assert view.avg_cost == Fraction(105_000)  # a reduction does not move the average
    assert view.cost_basis == 50 * 105_000
    # cash: -1000 - 1100 + 1800 - 3 * 0.50
    assert p.cash == START - 1_000 * D - 1_100 * D + 1_800 * D - 15_000


def test_long_flips_short_through_zero_and_the_new_short_opens_at_the_fill_price() -> None:
    p = portfolio()
    p.on_fill(fill(1, Side.BUY, 100, 10 * D))
    p.on_fill(fill(2, Side.SELL, 300, 12 * D))
    view = p.position("AAPL")
    assert view.quantity == -200
    assert view.realized == 200 * D  # only the 100 closed shares realize
    assert view.avg_cost == 12 * D
    assert view.cost_basis == -200 * 12 * D


def test_covering_a_short_realizes_the_fall_in_price() -> None:
    p = portfolio()
    p.on_fill(fill(1, Side.SELL, 100, 20 * D))
    p.on_fill(fill(2, Side.BUY, 40, 18 * D))
    assert p.position("AAPL").realized == 40 * 2 * D
    p.on_fill(fill(3, Side.BUY, 60, 21 * D))
    view = p.position("AAPL")
    assert view.quantity == 0
    assert view.realized == 80 * D - 60 * D
    assert view.cost_basis == 0 and view.avg_cost == 0


def test_reduction_rounding_leaves_the_remainder_in_the_basis_so_the_round_trip_is_exact() -> None:
    p = portfolio()
    p.on_fill(fill(1, Side.BUY, 1, 10 * D))
    p.on_fill(fill(2, Side.BUY, 2, 11 * D))  # basis 320,000 over 3 shares: 106,666.67 each
    p.on_fill(fill(3, Side.SELL, 1, 12 * D))
    assert p.position("AAPL").realized == 120_000 - 106_667
    p.on_fill(fill(4, Side.SELL, 2, 12 * D))
    assert p.position("AAPL").realized == 3 * 120_000 - 320_000  # exact over the round trip


def test_unrealized_is_marked_to_the_quote_mid_and_a_half_unit_mid_rounds_half_up() -> None:
    p = portfolio()
    p.on_quote(quote(1, 99_999, 100_002))  # mid 100,000.5
    p.on_fill(fill(2, Side.BUY, 3, 10 * D))
    view = p.position("AAPL")
    assert view.mark == Fraction(200_001, 2)
    assert view.market_value == 300_002  # 300,001.5 rounds half up
    assert view.unrealized == 2
    assert p.equity() == START + 2
    p.on_quote(quote(3, 100_100, 0, ask_size=0))  # one-sided: no mid, the mark stays
    assert p.position("AAPL").mark == Fraction(200_001, 2)


def test_unmarked_position_is_valued_at_its_last_fill_price_until_a_mark_arrives() -> None:
    p = portfolio()
    p.on_fill(fill(1, Side.BUY, 10, 10 * D))
    assert p.position("AAPL").unrealized == 0
    p.on_bar(Bar(ts_event=2, ts_init=2, symbol="AAPL", open=1, high=1, low=1, close=11 * D, volume=1))
    assert p.position("AAPL").unrealized == 10 * D
    p.mark("AAPL", Fraction(2 * 95_001, 2))
    assert p.position("AAPL").unrealized == -49_990
    with pytest.raises(ValueRangeError, match="not a multiple of half a price unit"):
        p.mark("AAPL", Fraction(1, 3))


def test_exposures_cash_and_fees_with_a_long_and_a_short() -> None:
    p = portfolio()
    p.on_fill(fill(1, Side.BUY, 100, 10 * D, fee=100, symbol="AAPL"))
    p.on_fill(fill(2, Side.SELL, 50, 20 * D, fee=-30, symbol="MSFT"))  # a maker rebate
    p.mark("AAPL", 11 * D)
    p.mark("MSFT", 21 * D)
    assert p.gross_exposure() == 1_100 * D + 1_050 * D
    assert p.net_exposure() == 1_100 * D - 1_050 * D
    assert p.fees == 70
    assert p.cash == START - 1_000 * D - 100 + 1_000 * D + 30
    assert p.unrealized_pnl() == 100 * D - 50 * D
    assert p.equity() == START + p.realized_pnl() + p.unrealized_pnl() - p.fees
    assert [v.symbol for v in p.positions()] == ["AAPL", "MSFT"]
    assert p.quantity("MSFT") == -50 and p.quantity("IBM") == 0


def test_strategy_filter_ignores_other_strategies_fills() -> None:
    p = portfolio(strategy_id="s1")
    p.on_fill(fill(1, Side.BUY, 10, 10 * D, sid="s2"))
    assert p.quantity("AAPL") == 0 and p.cash == START


def test_through_the_kernel_fills_quotes_and_timer_samples_build_the_equity_curve() -> None:
    p = Portfolio(PortfolioConfig(starting_cash=START, sample_interval_ns=10, sample_clock="timer"))
    kernel = Kernel()
    kernel.add(p)
    kernel.start(at=0)
    kernel.run([quote(5, 99 * D, 101 * D), fill(7, Side.BUY, 10, 100 * D, fee=50), quote(25, 103 * D, 105 * D)])
    kernel.finish(until=25)
    kernel.stop()
    curve = p.curve
    # start, timer at 10 and 20 (before the quote at 25), final at stop (25)
    assert list(curve.ts) == [0, 10, 20, 25]
    assert list(curve.equity) == [START, START - 50, START - 50, START - 50 + 40 * D]
    assert list(curve.gross) == [0, 1_000 * D, 1_000 * D, 1_040 * D]
    assert curve.fees[-1] == 50 and curve.cash[-1] == START - 1_000 * D - 50


def test_a_second_sample_at_the_same_time_replaces_the_first() -> None:
    p = portfolio()
    p.sample(5)
    p.on_fill(fill(5, Side.BUY, 1, 10 * D, fee=7))
    p.sample(5)
    assert list(p.curve.ts) == [5] and list(p.curve.equity) == [START - 7]


fills_strategy = st.lists(
    st.tuples(
        st.sampled_from(["AAPL", "MSFT"]),
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(1, 500),
        st.integers(1, 5_000_000),
        st.integers(-500, 5_000),
        st.one_of(st.none(), st.integers(1, 5_000_000)),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(fills_strategy)
def test_equity_identity_holds_exactly_over_random_fill_sequences(
    steps: list[tuple[str, Side, int, int, int, int | None]],
) -> None:
    p = portfolio()
    for ts, (symbol, side, qty, price, fee, mark_x2) in enumerate(steps):
        p.on_fill(fill(ts, side, qty, price, fee, symbol=symbol))
        if mark_x2 is not None:
            p.mark(symbol, Fraction(mark_x2, 2))
        assert p.equity() == START + p.realized_pnl() + p.unrealized_pnl() - p.fees
        assert p.equity() == p.cash + p.net_exposure()
    for view in p.positions():
        assert view.quantity * view.avg_cost == view.cost_basis


def test_position_repr_names_its_state() -> None:
    position = Position("AAPL")
    position.apply_fill(5, 10, 2)
    assert repr(position) == "Position('AAPL', quantity=5, cost_basis=50, realized=0, fees=2)"


# -- sampling on the data's clock ----------------------------------------------------------------------------------


def _drive(p: Portfolio, batches: list[list[Quote]]) -> Kernel:
    """What the backtest driver does: start at the first event, show each batch to ``on_batch``, dispatch it."""
    kernel = Kernel()
    kernel.add(p)
    kernel.start(at=batches[0][0].ts_init)
    for batch in batches:
        p.on_batch(list(batch))
        kernel.run_sorted([list(batch)])
    kernel.finish()
    kernel.stop()
    return kernel


def test_data_clock_samples_once_per_interval_with_events_and_nothing_through_a_weekend() -> None:
    sec = 1_000_000_000
    weekend = 2 * 86_400 * sec
    times = [0, sec // 2, sec + 3, 3 * sec + 7, weekend, weekend + 10, weekend + sec]
    p = Portfolio(PortfolioConfig(starting_cash=START, sample_interval_ns=sec))
    _drive(p, [[quote(t, 99 * D, 101 * D)] for t in times[:3]] + [[quote(t, 99 * D, 101 * D) for t in times[3:]]])
    # the start, then the last event of each interval that had one; the weekend's empty intervals cost nothing
    assert list(p.curve.ts) == [0, sec // 2, sec + 3, 3 * sec + 7, weekend + 10, weekend + sec]


def test_a_data_clock_sample_includes_what_happened_at_its_time() -> None:
    sec = 1_000_000_000
    p = Portfolio(PortfolioConfig(starting_cash=START, sample_interval_ns=sec))
    _drive(p, [[quote(5, 99 * D, 101 * D), fill(5, Side.BUY, 10, 100 * D, fee=50), quote(2 * sec, 103 * D, 105 * D)]])
    assert list(p.curve.ts) == [5, 2 * sec]
    assert list(p.curve.equity) == [START - 50, START - 50 + 40 * D]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(0, 40), min_size=1, max_size=60),
    st.integers(1, 9),
    st.lists(st.integers(1, 8), min_size=1, max_size=10),
)
def test_data_clock_samples_do_not_depend_on_how_the_tape_is_cut_into_batches(
    steps: list[int], interval: int, cuts: list[int]
) -> None:
    """Whatever the batch sizes: one sample at the last event of each interval, plus the start."""
    times = [sum(steps[: i + 1]) for i in range(len(steps))]
    events = [quote(t, 99 * D, 101 * D) for t in times]
    batches: list[list[Quote]] = []
    i = 0
    while i < len(events):
        size = cuts[len(batches) % len(cuts)]
        batches.append(events[i : i + size])
        i += size
    p = Portfolio(PortfolioConfig(starting_cash=START, sample_interval_ns=interval))
    _drive(p, batches)
    origin = times[0]
    last_of: dict[int, int] = {}
    for t in times:
        last_of[(t - origin) // interval] = t
    assert list(p.curve.ts) == sorted({origin, *last_of.values()})


def test_without_a_driver_the_data_clock_samples_only_at_start_and_stop() -> None:
    p = Portfolio(PortfolioConfig(starting_cash=START, sample_interval_ns=10))
    kernel = Kernel()
    kernel.add(p)
    kernel.start(at=0)
    kernel.run([quote(5, 99 * D, 101 * D), quote(25, 103 * D, 105 * D)])
    kernel.stop()
    assert p.samples_on_data and list(p.curve.ts) == [0, 25]


def test_a_dividend_pays_the_holder_in_cash_and_a_short_pays_it() -> None:
    from tapeflow.model.market import Dividend

    p = portfolio()
    p.on_dividend(Dividend(ts_event=1, ts_init=1, symbol="AAPL", amount=4_700))  # flat: nothing
    assert (p.cash, p.dividends) == (START, 0)
    p.on_fill(fill(2, Side.BUY, 100, 10 * D))
    p.on_dividend(Dividend(ts_event=3, ts_init=3, symbol="AAPL", amount=4_700))
    assert (p.cash, p.dividends) == (START - 1_000 * D + 470_000, 470_000)  # 100 x $0.47
    p.on_fill(fill(4, Side.SELL, 300, 10 * D))
    p.on_dividend(Dividend(ts_event=5, ts_init=5, symbol="AAPL", amount=4_700))
    assert p.dividends == 470_000 - 940_000  # short 200: the borrower pays
    p.on_dividend(Dividend(ts_event=6, ts_init=6, symbol="MSFT", amount=9_999))  # not held
    assert p.dividends == -470_000


def _restored_state() -> VenueState:
    return VenueState(
        venue="NET",
        ts=0,
        cash=50_000 * D,
        positions=(
            VenuePosition(symbol="AAPL", quantity=100, cost_basis=100 * 190 * D),
            VenuePosition(symbol="MSFT", quantity=-50, cost_basis=-50 * 400 * D),
        ),
    )


def test_restore_takes_the_venues_positions_and_cash_and_pnl_counts_from_the_restart() -> None:
    p = Portfolio(PortfolioConfig(starting_cash=START))
    p.restore(_restored_state())
    assert p.cash == 50_000 * D
    assert (p.quantity("AAPL"), p.quantity("MSFT")) == (100, -50)
    assert p.starting_cash == 50_000 * D + 100 * 190 * D - 50 * 400 * D
    p.on_fill(fill(1, Side.SELL, 100, 200 * D))
    p.mark("MSFT", 390 * D)
    assert p.realized_pnl() == 100 * 10 * D
    assert p.quantity("AAPL") == 0
    assert p.unrealized_pnl() == 50 * 10 * D
    assert p.equity() == p.starting_cash + p.realized_pnl() - p.fees + p.unrealized_pnl()


def test_restore_refuses_a_portfolio_that_already_traded_and_a_symbol_listed_twice() -> None:
    p = Portfolio()
    p.on_fill(fill(1, Side.BUY, 100, 190 * D))
    with pytest.raises(EngineError, match="already holds fills"):
        p.restore(_restored_state())
    twice = VenueState(
        venue="NET",
        ts=0,
        cash=0,
        positions=(VenuePosition(symbol="AAPL", quantity=1, cost_basis=D),) * 2,
    )
    with pytest.raises(EngineError, match="lists a symbol twice"):
        Portfolio().restore(twice)


_STEPS = st.lists(
    st.tuples(
        st.sampled_from(["bar", "fill", "book"]),
        st.sampled_from(["AAPL", "MSFT", "IBM"]),
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(1, 500),
        st.integers(1, 10**7),
    ),
    max_size=40,
)


@settings(max_examples=80, deadline=None)
@given(_STEPS)
def test_last_bars_value_every_position_as_a_portfolio_hearing_the_bars_itself_does(
    steps: list[tuple[str, str, Side, int, int]],
) -> None:
    """The node's portfolio reads the exchange's last bars by lookup (``last_bars``) instead of hearing each bar:
    same marks, prices, exposures and views after every step, books outranking bars in both. (A ``mark`` call is
    left out: given ``last_bars``, a bar's close outranks it by design, see the next test.)"""
    last: dict[str, Bar] = {}
    books: dict[str, int] = {}
    config = PortfolioConfig(starting_cash=START, sample_interval_ns=None)
    hearing = Portfolio(config, book_marks=books.get)
    new = Portfolio(config, book_marks=books.get, last_bars=last)
    for ts, (kind, symbol, side, qty, price) in enumerate(steps, 1):
        if kind == "bar":
            bar = Bar(ts_event=ts, ts_init=ts, symbol=symbol, open=1, high=1, low=1, close=price, volume=1)
            last[symbol] = bar
            hearing.on_bar(bar)
        elif kind == "book":
            books[symbol] = 2 * price + 1
        else:
            for p in (hearing, new):
                p.on_fill(fill(ts, side, qty, price, symbol=symbol))
        for symbol in ("AAPL", "MSFT", "IBM"):
            assert new.mark_x2(symbol) == hearing.mark_x2(symbol)
            assert new.mark_price(symbol) == hearing.mark_price(symbol)
        assert new.exposures() == hearing.exposures()
        assert new.positions() == hearing.positions()


class _Top:
    """A local book as the portfolio reads it: its best prices (0 for an empty side)."""

    def __init__(self, best_bid: int, best_ask: int) -> None:
        self.best_bid, self.best_ask = best_bid, best_ask


@settings(max_examples=80, deadline=None)
@given(_STEPS)
def test_given_the_books_the_portfolio_marks_as_given_their_doubled_mids(
    steps: list[tuple[str, str, Side, int, int]],
) -> None:
    """The node hands the portfolio its books (``books``) rather than a function of its own giving their doubled
    mids (``book_marks``): same marks, exposures and views after every step, a one-sided book marking nothing."""
    last: dict[str, Bar] = {}
    books: dict[str, _Top] = {}

    def mids(symbol: str) -> int | None:  # what the node's own function gave
        book = books.get(symbol)
        return book.best_bid + book.best_ask if book is not None and book.best_bid and book.best_ask else None

    config = PortfolioConfig(starting_cash=START, sample_interval_ns=None)
    given_mids = Portfolio(config, book_marks=mids, last_bars=last)
    given_books = Portfolio(config, books=books.get, last_bars=last)
    for ts, (kind, symbol, side, qty, price) in enumerate(steps, 1):
        if kind == "bar":
            last[symbol] = Bar(ts_event=ts, ts_init=ts, symbol=symbol, open=1, high=1, low=1, close=price, volume=1)
        elif kind == "book":
            books[symbol] = _Top(price if qty % 3 else 0, price + qty if qty % 5 else 0)
        else:
            for p in (given_mids, given_books):
                p.on_fill(fill(ts, side, qty, price, symbol=symbol))
        for symbol in ("AAPL", "MSFT", "IBM"):
            assert given_books.mark_x2(symbol) == given_mids.mark_x2(symbol)
        assert given_books.exposures() == given_mids.exposures()
        assert given_books.positions() == given_mids.positions()
    kernel = Kernel()
    kernel.add(given_books)  # a portfolio given the books hears no quotes: they mark nothing where a book is kept
    assert given_books.on_quote not in kernel._subscriptions.handlers(Quote)
    kernel.add(alone := Portfolio(config))
    assert alone.on_quote in kernel._subscriptions.handlers(Quote)


def test_given_last_bars_a_bars_close_outranks_a_mark_call_whichever_came_last() -> None:
    last: dict[str, Bar] = {}
    p = Portfolio(PortfolioConfig(starting_cash=START, sample_interval_ns=None), last_bars=last)
    p.mark("AAPL", Fraction(7 * D))
    assert p.mark_price("AAPL") == Fraction(7 * D)  # no bar yet: the mark call marks
    last["AAPL"] = Bar(ts_event=1, ts_init=1, symbol="AAPL", open=1, high=1, low=1, close=9 * D, volume=1)
    p.mark("AAPL", Fraction(8 * D))
    assert p.mark_price("AAPL") == Fraction(9 * D)


def test_given_last_bars_the_portfolio_hears_no_bars_and_values_at_the_last_bar_close() -> None:
    last: dict[str, Bar] = {}
    p = Portfolio(PortfolioConfig(starting_cash=START, sample_interval_ns=None), last_bars=last)
    kernel = Kernel()
    kernel.add(p)
    kernel.run([fill(1, Side.BUY, 10, 10 * D)])
    kernel.run([Bar(ts_event=2, ts_init=2, symbol="AAPL", open=1, high=1, low=1, close=99 * D, volume=1)])
    assert p.position("AAPL").unrealized == 0  # the portfolio did not listen: the dict's keeper did not see it
    last["AAPL"] = Bar(ts_event=3, ts_init=3, symbol="AAPL", open=1, high=1, low=1, close=11 * D, volume=1)
    assert p.position("AAPL").unrealized == 10 * D


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["AAPL", "MSFT"]), st.integers(1, 10**9)), min_size=1, max_size=40))
def test_mark_price_reused_between_reads_equals_a_fresh_fraction_of_the_doubled_mark(
    marks: list[tuple[str, int]],
) -> None:
    p = portfolio()
    for symbol, x2 in marks:
        p.mark(symbol, Fraction(x2, 2))
        for _ in range(2):  # the second read reuses the first's Fraction
            price = p.mark_price(symbol)
            assert price == Fraction(x2, 2) and p.mark_x2(symbol) == x2


@settings(max_examples=200, deadline=None)
@given(fills_strategy)
def test_exposures_in_one_pass_equal_the_gross_and_net_sums_after_every_fill_and_mark(
    steps: list[tuple[str, Side, int, int, int, int | None]],
) -> None:
    p = portfolio()
    assert p.exposures() == (0, 0)
    for ts, (symbol, side, qty, price, fee, mark_x2) in enumerate(steps):
        p.on_fill(fill(ts, side, qty, price, fee, symbol=symbol))
        assert p.exposures() == (p.gross_exposure(), p.net_exposure())
        if mark_x2 is not None:
            p.mark(symbol, Fraction(mark_x2, 2))
            assert p.exposures() == (p.gross_exposure(), p.net_exposure())


@settings(max_examples=200, deadline=None)
@given(fills_strategy)
def test_a_fill_books_cash_fees_and_notional_as_the_signed_formula_over_random_fills(
    steps: list[tuple[str, Side, int, int, int, int | None]],
) -> None:
    """``on_fill`` books a buy and a sell in two branches; the reference is the one signed formula it replaced,
    ``cash -= side.sign * quantity * price + fee``, with the fill price as the symbol's mark until another."""
    p, other = portfolio(), portfolio(strategy_id="s2")
    cash, fees, notional = START, 0, 0
    for ts, (symbol, side, qty, price, fee, _) in enumerate(steps):
        p.on_fill(fill(ts, side, qty, price, fee, symbol=symbol))
        other.on_fill(fill(ts, side, qty, price, fee, symbol=symbol))  # another strategy's fill: not counted
        cash -= side.sign * qty * price + fee
        fees += fee
        notional += qty * price
        assert (p.cash, p.fees, p.traded_notional, p.fill_count) == (cash, fees, notional, ts + 1)
        assert p.mark_x2(symbol) == 2 * price and p.quantity(symbol) == p.position(symbol).quantity
    assert (other.cash, other.fill_count, other.positions()) == (START, 0, [])


def _old_apply_fill(state: list[int], signed_quantity: int, price: int) -> int:
    """``Position.apply_fill`` before a full close took the basis whole: ``state`` is [quantity, basis, realized]."""
    qty, basis = state[0], state[1]
    if qty == 0 or (qty > 0) == (signed_quantity > 0):
        state[0], state[1] = qty + signed_quantity, basis + signed_quantity * price
        return 0
    closing = min(abs(signed_quantity), abs(qty))
    removed = round_div(basis * closing, abs(qty))
    closing_signed = closing if signed_quantity > 0 else -closing
    pnl = -closing_signed * price - removed
    state[2] += pnl
    state[1] = basis - removed
    state[0] = qty + closing_signed
    opening = signed_quantity - closing_signed
    if opening:
        state[0] += opening
        state[1] += opening * price
    return pnl


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(-400, 400).filter(bool), st.integers(1, 5_000_000)), max_size=50))
def test_apply_fill_realizes_and_keeps_the_basis_as_the_computation_it_replaced(
    fills: list[tuple[int, int]],
) -> None:
    position, state = Position("AAPL"), [0, 0, 0]
    for signed, price in fills:
        assert position.apply_fill(signed, price, 0) == _old_apply_fill(state, signed, price)
        assert [position.quantity, position.cost_basis, position.realized] == state


@given(fills_strategy)
def test_fills_move_the_positions_as_apply_fill_moves_them(
    steps: list[tuple[str, Side, int, int, int, int | None]],
) -> None:
    """``on_fill`` opens and adds to a position itself and leaves the rest to ``Position.apply_fill``: the
    positions (shares, basis, realized PnL, fees) are those of ``apply_fill`` given every fill."""
    p, reference = portfolio(), dict[str, Position]()
    for ts, (symbol, side, qty, price, fee, _) in enumerate(steps):
        p.on_fill(fill(ts, side, qty, price, fee, symbol=symbol))
        reference.setdefault(symbol, Position(symbol)).apply_fill(side.sign * qty, price, fee)
        got = p.position(symbol)
        want = reference[symbol]
        assert (got.quantity, got.cost_basis, got.realized, got.fees) == (
            want.quantity,
            want.cost_basis,
            want.realized,
            want.fees,
        )
