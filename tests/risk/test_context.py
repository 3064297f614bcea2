"""The risk context's lazy exposures and its reference price from the portfolio's doubled mark."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from tapeflow.engine.kernel import Kernel
from tapeflow.model import OrderType, Quote, Side, SubmitOrder
from tapeflow.risk.context import RiskContext

from .helpers import ASK, BID, SYM, FakePortfolio

T0 = 1_700_000_000_000_000_000


def _market(side: Side) -> SubmitOrder:
    return SubmitOrder(
        ts_event=T0,
        ts_init=T0,
        strategy_id="s",
        client_order_id="c1",
        symbol=SYM,
        side=side,
        order_type=OrderType.MARKET,
        quantity=100,
    )


def _quote(ts: int) -> Quote:
    return Quote(ts_event=ts, ts_init=ts, symbol=SYM, bid_price=BID, bid_size=100, ask_price=ASK, ask_size=100)


def test_cached_exposures_are_recomputed_after_a_quote_reaches_moved_and_kept_without_one() -> None:
    portfolio = FakePortfolio(positions={SYM: 100})
    ctx = RiskContext(portfolio=portfolio)
    kernel = Kernel()
    kernel.subscribe(Quote, ctx.moved.append)
    first = ctx.gross()
    portfolio.mark = Fraction(BID, 1)
    assert ctx.gross() == first  # no quote, no fill: the cache stands
    kernel.run([_quote(T0)])
    assert ctx.gross() == 100 * BID
    assert ctx.net() == 100 * BID
    assert not ctx.moved  # forgotten once, when read


def test_many_quotes_between_two_reads_hold_one_event_only() -> None:
    ctx = RiskContext(portfolio=FakePortfolio())
    kernel = Kernel()
    kernel.subscribe(Quote, ctx.moved.append)
    kernel.run([_quote(T0 + i) for i in range(1_000)])
    assert len(ctx.moved) == 1


@given(st.integers(min_value=1, max_value=10**10), st.sampled_from([Side.BUY, Side.SELL]))
def test_a_market_order_without_a_book_is_valued_at_the_mark_rounded_up_as_from_the_fraction(
    mark_x2: int, side: Side
) -> None:
    portfolio = FakePortfolio()
    portfolio.mark = Fraction(mark_x2, 2)
    ctx = RiskContext(portfolio=portfolio)
    ctx.begin(T0, False)
    mark = portfolio.mark
    assert ctx.ref_price(_market(side)) == -(-mark.numerator // mark.denominator)


def test_a_market_order_without_a_book_or_a_mark_has_no_price() -> None:
    portfolio = FakePortfolio()
    portfolio.mark = None  # type: ignore[assignment]
    ctx = RiskContext(portfolio=portfolio)
    ctx.begin(T0, False)
    assert ctx.ref_price(_market(Side.BUY)) == 0
