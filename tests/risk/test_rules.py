"""Every rule at, just below and just above its limit, through the engine (so the rejection event is real)."""

from __future__ import annotations

import pytest

from tapeflow.book.l2 import L2Book
from tapeflow.book.quote_book import QuoteBook
from tapeflow.model import MarketStatus, OrderType, Quote, RiskRejected, Side, TradingStatus
from tapeflow.risk.config import AccountChecks, FlowChecks, KillSwitchConfig, OrderChecks, RiskConfig, SymbolLimits
from tests.risk.helpers import ASK, BID, SYM, FakeBook, FakeBooks, FakePortfolio, Rig

pytestmark = pytest.mark.usefixtures("risk_path")  # every test through both paths (conftest.py)

OFF_ORDER = OrderChecks(max_quantity=None, max_notional_usd=None, collar_bps=None, max_spread_bps=None)
OFF_ACCOUNT = AccountChecks(max_position=None, initial_margin_bps=None)
OFF_FLOW = FlowChecks(
    strategy_orders_per_second=None,
    symbol_orders_per_second=None,
    messages_per_second=None,
    duplicate_window_ms=None,
    max_open_orders=None,
    max_open_orders_total=None,
)
OFF_KILL = KillSwitchConfig(runaway_orders=None, max_rejects=None)


def cfg(**sections: object) -> RiskConfig:
    base = {"order": OFF_ORDER, "account": OFF_ACCOUNT, "flow": OFF_FLOW, "kill_switch": OFF_KILL}
    base.update(sections)
    return RiskConfig(**base)  # type: ignore[arg-type]


def one(rig: Rig, **kw: object) -> str | None:
    """Submit one order; None when it reached the venue, else the rule that refused it."""
    cmd = rig.submit(**kw)  # type: ignore[arg-type]
    return None if rig.passed(cmd) else rig.last_rule()


@pytest.mark.parametrize(("qty", "rule"), [(999, None), (1_000, None), (1_001, "max_order_quantity")])
def test_max_order_quantity_at_below_above(qty: int, rule: str | None) -> None:
    rig = Rig(cfg(order=OrderChecks(max_quantity=1_000, max_notional_usd=None, collar_bps=None)))
    assert one(rig, quantity=qty) == rule


def test_max_order_quantity_per_symbol_override_and_rejection_fields() -> None:
    order = OrderChecks(max_quantity=1_000, max_notional_usd=None, collar_bps=None)
    config = cfg(order=order, symbols={SYM: SymbolLimits(max_quantity=200)})
    rig = Rig(config, books=FakeBooks(AAPL=FakeBook(), MSFT=FakeBook()))
    assert one(rig, quantity=200) is None
    assert one(rig, quantity=201) == "max_order_quantity"
    reject = [e for e in rig.seen if isinstance(e, RiskRejected)][-1]
    assert (reject.stage, reject.limit, reject.value) == ("order", 200, 201)
    assert "201" in reject.reason and "200" in reject.reason
    assert one(rig, quantity=500, symbol="MSFT") is None


@pytest.mark.parametrize(("qty", "rule"), [(9, "min_order_quantity"), (10, None), (11, None)])
def test_min_order_quantity(qty: int, rule: str | None) -> None:
    rig = Rig(cfg(order=OrderChecks(min_quantity=10, max_quantity=None, max_notional_usd=None, collar_bps=None)))
    assert one(rig, quantity=qty) == rule


@pytest.mark.parametrize(("qty", "rule"), [(99, "max_order_notional"), (100, None), (101, "max_order_notional")])
def test_max_order_notional(qty: int, rule: str | None) -> None:
    # a $10,000 limit: 100 x $100.00 is exactly at it; 99 x $101.02 = $10,000.98 is just above
    rig = Rig(cfg(order=OrderChecks(max_quantity=None, max_notional_usd=10_000, collar_bps=None)))
    assert one(rig, quantity=qty, price=1_010_200 if qty == 99 else BID) == rule


def test_max_order_notional_market_order_valued_at_far_side() -> None:
    rig = Rig(cfg(order=OrderChecks(max_quantity=None, max_notional_usd=10_000, collar_bps=None)))
    assert one(rig, quantity=100, price=0) == "max_order_notional"  # 100 x $100.01 > $10,000
    assert one(rig, quantity=99, price=0) is None


@pytest.mark.parametrize(("qty", "rule"), [(99, "lot_size"), (100, None), (101, "lot_size")])
def test_round_lots_only(qty: int, rule: str | None) -> None:
    rig = Rig(cfg(order=OrderChecks(round_lots_only=True, max_quantity=None, max_notional_usd=None, collar_bps=None)))
    assert one(rig, quantity=qty) == rule


@pytest.mark.parametrize(
    ("price", "rule"), [(BID - 1, "tick_size"), (BID, None), (BID + 1, "tick_size"), (9_999, None)]
)
def test_tick_size_rule_612(price: int, rule: str | None) -> None:
    rig = Rig(cfg(order=OrderChecks(max_quantity=None, max_notional_usd=None, collar_bps=None)))
    assert one(rig, price=price) == rule


def test_restricted_list_and_runtime_update() -> None:
    from tapeflow.model.risk_events import RiskLimitsChanged, UpdateRiskLimit

    rig = Rig(cfg(order=OrderChecks(restricted=("TSLA",), max_quantity=None, max_notional_usd=None, collar_bps=None)))
    assert one(rig, symbol="TSLA") == "restricted_list"
    assert one(rig) is None
    now = rig.kernel.now
    rig.kernel.run(
        [
            UpdateRiskLimit(
                ts_event=now,
                ts_init=now,
                rule="restricted_list",
                field="restricted",
                symbol=SYM,
                value=1,
                reason="deal team wall-cross",
            )
        ]
    )
    changed = [e for e in rig.seen if isinstance(e, RiskLimitsChanged)]
    assert changed[-1].accepted and changed[-1].old == 0 and changed[-1].new == 1
    assert one(rig) == "restricted_list"


@pytest.mark.parametrize(
    ("position", "qty", "located", "rule"),
    [
        (0, 100, 99, "short_locate"),
        (0, 100, 100, None),
        (0, 101, 100, "short_locate"),
        (100, 100, 0, None),
        (100, 101, 0, "short_locate"),
    ],
)
def test_short_sale_needs_a_locate(position: int, qty: int, located: int, rule: str | None) -> None:
    order = OrderChecks(
        locates={SYM: located} if located else {}, max_quantity=None, max_notional_usd=None, collar_bps=None
    )
    rig = Rig(cfg(order=order), portfolio=FakePortfolio(positions={SYM: position}))
    assert one(rig, quantity=qty, side=Side.SELL, price=ASK) == rule


def test_easy_to_borrow_needs_no_locate_unless_hard_to_borrow() -> None:
    order = OrderChecks(
        require_locate=False, hard_to_borrow=("GME",), max_quantity=None, max_notional_usd=None, collar_bps=None
    )
    rig = Rig(cfg(order=order), books=FakeBooks(AAPL=FakeBook(), GME=FakeBook()))
    assert one(rig, side=Side.SELL, price=ASK) is None
    assert one(rig, side=Side.SELL, price=ASK, symbol="GME") == "short_locate"


# collar 500 bps around mid 100.005: buy limit allowed up to 105.00525 -> 105.00 ok, 105.01 refused
@pytest.mark.parametrize(
    ("side", "price", "rule"),
    [
        (Side.BUY, 1_049_900, None),
        (Side.BUY, 1_050_000, None),
        (Side.BUY, 1_050_100, "price_collar"),
        (Side.SELL, 950_100, None),
        (Side.SELL, 950_000, "price_collar"),  # floor is 95.00475
    ],
)
def test_price_collar(side: Side, price: int, rule: str | None) -> None:
    order = OrderChecks(collar_bps=500, max_spread_bps=None, max_quantity=None, max_notional_usd=None)
    rig = Rig(cfg(order=order), portfolio=FakePortfolio(positions={SYM: 1_000}))
    assert one(rig, side=side, price=price) == rule


@pytest.mark.parametrize(("ask", "rule"), [(1_009_900, None), (1_010_000, None), (1_010_100, "price_collar")])
def test_market_order_spread_limit(ask: int, rule: str | None) -> None:
    # spread_bps = (ask - bid) * 20,000 / (bid + ask); 100 bps at bid 100.00 is an ask of 101.00 (99.5 bps)
    books = FakeBooks(AAPL=FakeBook(BID, ask))
    rig = Rig(
        cfg(order=OrderChecks(collar_bps=None, max_spread_bps=100, max_quantity=None, max_notional_usd=None)),
        books=books,
    )
    assert one(rig, price=0) == rule


def test_one_sided_or_stale_book_refused() -> None:
    rig = Rig(
        cfg(order=OrderChecks(collar_bps=500, max_quantity=None, max_notional_usd=None)),
        books=FakeBooks(AAPL=FakeBook(BID, 0), MSFT=FakeBook(stale=True)),
    )
    assert one(rig) == "price_collar"
    assert one(rig, symbol="MSFT") == "stale_book"


def test_crossed_book_refuses_orders_names_the_prices_and_lets_cancels_through() -> None:
    books = FakeBooks(AAPL=FakeBook(), MSFT=FakeBook())
    rig = Rig(cfg(order=OFF_ORDER), books=books)
    resting = rig.submit(quantity=100)
    assert rig.passed(resting)
    books.books[SYM].crossed = True
    books.books[SYM].best_ask = BID  # locked: bid == ask counts as crossed for the book's integrity
    assert one(rig, quantity=101) == "crossed_book"
    reject = [e for e in rig.seen if isinstance(e, RiskRejected)][-1]
    assert (reject.stage, reject.reason) == (
        "order",
        "the AAPL book is crossed (bid 100.00 >= ask 100.00); wait until it uncrosses",
    )
    assert one(rig, quantity=102, symbol="MSFT") is None  # only the crossed symbol
    rig.modify(resting.client_order_id, 300)
    assert rig.last_rule() == "crossed_book"  # a modify is checked as the order it becomes
    rig.cancel(resting.client_order_id)
    assert type(rig.venue.sent[-1]).__name__ == "CancelOrder"  # reducing risk always passes
    books.books[SYM].crossed = False
    books.books[SYM].best_ask = ASK
    assert one(rig, quantity=103) is None


def test_crossed_real_l2_book_refused_until_it_uncrosses() -> None:
    book = L2Book(SYM)
    book.update(Side.BUY, BID, 500)
    book.update(Side.SELL, ASK, 500)
    rig = Rig(cfg(order=OFF_ORDER), books=FakeBooks(AAPL=book))  # type: ignore[arg-type]
    assert one(rig, quantity=100) is None
    book.update(Side.BUY, ASK + 100, 200)  # a bid through the ask: the book's integrity marks it crossed
    assert book.crossed and one(rig, quantity=101) == "crossed_book"
    book.update(Side.BUY, ASK + 100, 0)  # the crossing level goes: uncrossed
    assert not book.crossed and one(rig, quantity=102) is None


def test_crossed_quote_book_refused_until_the_next_quote_uncrosses_it() -> None:
    book = QuoteBook(SYM)
    book.apply(_quote(BID, ASK, 1))
    rig = Rig(cfg(order=OFF_ORDER), books=FakeBooks(AAPL=book))  # type: ignore[arg-type]
    assert one(rig, quantity=100) is None
    book.apply(_quote(ASK + 100, ASK, 2))  # a bid above the ask: an L1 book knows that much
    assert book.crossed and one(rig, quantity=101) == "crossed_book"
    book.apply(_quote(ASK, ASK, 3))  # locked is not crossed
    assert not book.crossed and one(rig, quantity=102) is None


def _quote(bid: int, ask: int, ts: int) -> Quote:
    return Quote(ts_event=ts, ts_init=ts, symbol=SYM, bid_price=bid, bid_size=100, ask_price=ask, ask_size=100)


def test_crossed_book_rule_is_on_by_default_and_can_be_turned_off() -> None:
    from tapeflow.risk.build import build_rules
    from tapeflow.risk.context import RiskContext

    ctx = RiskContext(books=FakeBooks())  # type: ignore[arg-type]
    assert "crossed_book" in [r.name for r in build_rules(RiskConfig(), ctx)]
    off = OrderChecks(max_quantity=None, max_notional_usd=None, collar_bps=None, reject_crossed_book=False)
    rig = Rig(cfg(order=off), books=FakeBooks(AAPL=FakeBook(crossed=True)))
    assert one(rig) is None


def test_risk_path_fixture_switches_the_engine(risk_path: str) -> None:
    assert Rig().engine.fused is (risk_path == "fused")


def test_halt_and_quoting_status() -> None:
    rig = Rig(cfg(order=OFF_ORDER))
    now = rig.kernel.now
    rig.kernel.run([TradingStatus(ts_event=now, ts_init=now, symbol=SYM, status=MarketStatus.HALTED)])
    assert one(rig) == "trading_status"
    rig.kernel.run([TradingStatus(ts_event=now, ts_init=now, symbol=SYM, status=MarketStatus.QUOTING)])
    assert one(rig) is None
    assert one(rig, price=0) == "trading_status"
    rig.kernel.run([TradingStatus(ts_event=now, ts_init=now, symbol=SYM, status=MarketStatus.TRADING)])
    assert one(rig, price=0) is None


OPEN = 1_718_976_600_000_000_000  # 09:30:00 New York


@pytest.mark.parametrize(("at", "rule"), [(OPEN - 1, "trading_status"), (OPEN, None), (OPEN + 1, None)])
def test_regular_session_boundary(at: int, rule: str | None) -> None:
    rig = Rig(cfg(order=OFF_ORDER), start=at)
    assert one(rig) == rule


def test_pre_market_allowed_when_configured() -> None:
    order = OrderChecks(sessions=("pre", "regular"), max_quantity=None, max_notional_usd=None, collar_bps=None)
    assert one(Rig(cfg(order=order), start=OPEN - 1)) is None
    assert one(Rig(cfg(order=order), start=OPEN + 7 * 3_600 * 10**9)) == "trading_status"  # 16:30 post


# bar data keeps no book: the collar is taken around the portfolio's mark (the last close), here 100.005
@pytest.mark.parametrize(
    ("side", "price", "order_type", "rule"),
    [
        (Side.BUY, 1_050_000, OrderType.LIMIT, None),
        (Side.BUY, 1_050_100, OrderType.LIMIT, "price_collar"),  # above 105.00525
        (Side.SELL, 950_100, OrderType.LIMIT, None),
        (Side.SELL, 950_000, OrderType.LIMIT, "price_collar"),  # below 95.00475
        (Side.BUY, 0, OrderType.MARKET, None),  # no spread to check without a book
    ],
)
def test_price_collar_without_a_book_uses_the_last_price(
    side: Side, price: int, order_type: OrderType, rule: str | None
) -> None:
    order = OrderChecks(collar_bps=500, max_spread_bps=100, max_quantity=None, max_notional_usd=None)
    rig = Rig(cfg(order=order), books=FakeBooks(MSFT=FakeBook()), portfolio=FakePortfolio(positions={SYM: 1_000}))
    assert one(rig, side=side, price=price, order_type=order_type) == rule


def test_price_collar_without_a_book_or_a_last_price_refuses() -> None:
    order = OrderChecks(collar_bps=500, max_quantity=None, max_notional_usd=None)
    portfolio = FakePortfolio()
    portfolio.mark = None  # type: ignore[assignment]
    rig = Rig(cfg(order=order), books=FakeBooks(MSFT=FakeBook()), portfolio=portfolio)
    assert one(rig, price=BID) == "price_collar"
    assert rig.last_rule() == "price_collar"
