"""Signals on hand-built scenarios with known answers."""

from __future__ import annotations

from typing import TypeVar

import pytest

from tapeflow.book import BookSignals, L2Book, L3Book, SignalConfig, TopOfBook, imbalance, microprice, ofi
from tapeflow.model import (
    Aggressor,
    BookAction,
    BookDelta,
    Event,
    OrderAdded,
    OrderDeleted,
    OrderExecuted,
    OrderReduced,
    OrderReplaced,
    Quote,
    Side,
    Trade,
)
from tapeflow.model.book_events import BookImbalance, LargeOrderPulled, Microprice, OrderFlowImbalance

BUY, SELL = Side.BUY, Side.SELL
SECOND = 1_000_000_000
E = TypeVar("E", bound=Event)


def add(ts: int, oid: int, side: Side, price: int, size: int) -> OrderAdded:
    return OrderAdded(ts_event=ts, ts_init=ts, symbol="X", order_id=oid, side=side, price=price, size=size)


def only(events: list[Event], cls: type[E]) -> list[E]:
    """The events of one type, typed as such (no ``isinstance`` needed, and none that could not fail)."""
    return [e for e in events if isinstance(e, cls)]


def _signals(**cfg: object) -> tuple[BookSignals, list[Event]]:
    out: list[Event] = []
    return BookSignals(L3Book("X"), out.append, SignalConfig(**cfg)), out  # type: ignore[arg-type]


def test_execution_of_resting_sell_is_a_buyer_initiated_trade_and_quotes_follow() -> None:
    sig, out = _signals()
    sig.on_event(add(0, 1, BUY, 100, 100))
    sig.on_event(add(1, 2, SELL, 102, 200))
    out.clear()
    sig.on_event(OrderExecuted(ts_event=5, ts_init=5, symbol="X", order_id=2, size=50))
    (trade,) = only(out, Trade)
    assert (trade.price, trade.size, trade.aggressor, trade.ts_event) == (102, 50, Aggressor.BUY, 5)
    (quote,) = only(out, Quote)
    assert (quote.bid_price, quote.bid_size, quote.ask_price, quote.ask_size) == (100, 100, 102, 150)
    (flow,) = only(out, OrderFlowImbalance)
    assert flow.ofi == 50
    sig.on_event(OrderExecuted(ts_event=6, ts_init=6, symbol="X", order_id=1, size=100))
    trades = only(out, Trade)
    assert len(trades) == 2
    assert (trades[1].price, trades[1].size, trades[1].aggressor, trades[1].ts_event) == (100, 100, Aggressor.SELL, 6)


def test_no_quote_when_a_change_is_behind_the_touch() -> None:
    sig, out = _signals()
    sig.on_event(add(0, 1, BUY, 100, 100))
    out.clear()
    sig.on_event(add(1, 2, BUY, 99, 100))
    assert not only(out, Quote)
    assert [(b.bid_size, b.ask_size) for b in only(out, BookImbalance)] == [(200, 0)], "the top-5 shares changed"


def test_microprice_and_imbalance_known_values() -> None:
    sig, out = _signals()
    sig.on_event(add(0, 1, BUY, 100, 100))
    sig.on_event(add(1, 2, SELL, 102, 200))
    mp = only(out, Microprice)[-1]
    assert mp.microprice == pytest.approx((100 * 200 + 102 * 100) / 300)
    imb = only(out, BookImbalance)[-1]
    assert imb.imbalance == pytest.approx(-1 / 3)
    assert imbalance(sig.book, 5) == pytest.approx(-1 / 3)
    assert microprice(sig.book.top()) == pytest.approx(100.6666666)


def test_ofi_follows_cont_kukanov_stoikov() -> None:
    prev = TopOfBook(bid_price=100, bid_size=100, ask_price=102, ask_size=200)
    assert ofi(prev, TopOfBook(bid_price=101, bid_size=50, ask_price=102, ask_size=200)) == 50
    assert ofi(prev, TopOfBook(bid_price=99, bid_size=70, ask_price=102, ask_size=200)) == -100
    assert ofi(prev, TopOfBook(bid_price=100, bid_size=100, ask_price=101, ask_size=30)) == -30
    assert ofi(prev, TopOfBook(bid_price=100, bid_size=100, ask_price=103, ask_size=30)) == 200
    assert ofi(prev, TopOfBook(bid_price=0, bid_size=0, ask_price=103, ask_size=30)) == 0


def test_large_order_pulled_soon_after_arrival_names_the_order() -> None:
    sig, out = _signals(large_order_size=1000, large_order_window_ns=SECOND)
    sig.on_event(add(0, 1, BUY, 100, 100))
    sig.on_event(add(0, 2, SELL, 102, 100))
    sig.on_event(add(1_000, 3, BUY, 99, 5000))
    sig.on_event(OrderDeleted(ts_event=500_000_000, ts_init=500_000_000, symbol="X", order_id=3))
    (pulled,) = only(out, LargeOrderPulled)
    assert (pulled.order_id, pulled.side, pulled.price, pulled.size, pulled.pulled_size) == (3, BUY, 99, 5000, 5000)
    assert (pulled.distance, pulled.lifetime_ns) == (1, 499_999_000)


def test_large_order_that_traded_or_lived_too_long_is_not_reported() -> None:
    sig, out = _signals(large_order_size=1000, large_order_window_ns=SECOND)
    sig.on_event(add(0, 4, SELL, 102, 2000))
    sig.on_event(OrderExecuted(ts_event=1, ts_init=1, symbol="X", order_id=4, size=10))
    sig.on_event(OrderDeleted(ts_event=2, ts_init=2, symbol="X", order_id=4))
    sig.on_event(add(0, 5, BUY, 98, 3000))
    sig.on_event(OrderDeleted(ts_event=2 * SECOND, ts_init=2 * SECOND, symbol="X", order_id=5))
    sig.on_event(add(0, 6, BUY, 98, 999))
    sig.on_event(OrderDeleted(ts_event=3, ts_init=3, symbol="X", order_id=6))
    assert not only(out, LargeOrderPulled)
    # the same detector does report a large order pulled soon after arrival: the silence above is not a dead one
    sig.on_event(add(4, 7, BUY, 98, 1000))
    sig.on_event(OrderDeleted(ts_event=5, ts_init=5, symbol="X", order_id=7))
    assert [(p.order_id, p.size) for p in only(out, LargeOrderPulled)] == [(7, 1000)]


def test_large_against_level_average_and_partial_cancel_or_replace() -> None:
    sig, out = _signals(large_order_level_multiple=5.0, large_order_window_ns=SECOND)
    sig.on_event(add(0, 1, SELL, 101, 100))
    sig.on_event(add(0, 2, SELL, 101, 100))
    sig.on_event(add(10, 3, SELL, 101, 1000))
    sig.on_event(add(10, 4, SELL, 101, 400))  # 400 < 5 x 400 (the average now): not large
    sig.on_event(OrderReduced(ts_event=20, ts_init=20, symbol="X", order_id=3, size=600))
    sig.on_event(OrderReduced(ts_event=20, ts_init=20, symbol="X", order_id=4, size=400))
    sig.on_event(OrderReplaced(ts_event=30, ts_init=30, symbol="X", order_id=3, new_order_id=9, price=103, size=1))
    pulled = only(out, LargeOrderPulled)
    assert [(p.order_id, p.size, p.pulled_size, p.level_average) for p in pulled] == [
        (3, 1000, 600, 100.0),
        (3, 1000, 400, 100.0),
    ]


def test_l2_books_get_quotes_and_imbalance_but_no_trades() -> None:
    out: list[Event] = []
    sig = BookSignals(L2Book("X"), out.append)
    for side, price in ((BUY, 100), (SELL, 101)):
        sig.on_event(
            BookDelta(ts_event=1, ts_init=1, symbol="X", action=BookAction.ADD, side=side, price=price, size=10)
        )
    quotes = [(q.bid_price, q.bid_size, q.ask_price, q.ask_size) for q in only(out, Quote)]
    assert quotes == [(100, 10, 0, 0), (100, 10, 101, 10)]
    assert not only(out, Trade)
    assert [(b.bid_size, b.ask_size, b.imbalance) for b in only(out, BookImbalance)] == [(10, 0, 1.0), (10, 10, 0.0)]


def test_execution_at_another_price_prints_at_that_price() -> None:
    """ITCH C: an execution can carry its own price (a cross); the trade is at it, not at the order's."""
    sig, out = _signals()
    sig.on_event(add(0, 1, SELL, 102, 200))
    sig.on_event(OrderExecuted(ts_event=5, ts_init=5, symbol="X", order_id=1, size=50, price=101))
    assert [(t.price, t.size, t.aggressor) for t in only(out, Trade)] == [(101, 50, Aggressor.BUY)]


def test_ofi_accumulates_over_quote_changes() -> None:
    sig, out = _signals()
    sig.on_event(add(0, 1, BUY, 100, 100))
    sig.on_event(add(1, 2, SELL, 102, 200))
    sig.on_event(add(2, 3, BUY, 100, 40))  # bid size 100 -> 140: +40
    sig.on_event(add(3, 4, SELL, 102, 10))  # ask size 200 -> 210: -10
    flows = [(f.ofi, f.cumulative) for f in only(out, OrderFlowImbalance)]
    assert flows[-2:] == [(40, 40), (-10, 30)]


def test_large_order_pulled_exactly_at_the_window_edge_is_reported() -> None:
    sig, out = _signals(large_order_size=1000, large_order_window_ns=SECOND)
    sig.on_event(add(0, 1, BUY, 100, 100))
    sig.on_event(add(0, 2, SELL, 102, 100))
    sig.on_event(add(SECOND, 3, BUY, 99, 5000))
    sig.on_event(OrderDeleted(ts_event=2 * SECOND, ts_init=2 * SECOND, symbol="X", order_id=3))
    assert [(p.order_id, p.lifetime_ns) for p in only(out, LargeOrderPulled)] == [(3, SECOND)]


def test_large_sell_pulled_names_its_distance_from_the_best_offer_and_caps_an_overcancel() -> None:
    sig, out = _signals(large_order_size=1000, large_order_window_ns=SECOND)
    sig.on_event(add(0, 1, BUY, 100, 100))
    sig.on_event(add(0, 2, SELL, 102, 100))
    sig.on_event(add(1, 3, SELL, 105, 3000))
    sig.on_event(OrderReduced(ts_event=2, ts_init=2, symbol="X", order_id=3, size=3500))  # more than it has
    assert [(p.order_id, p.side, p.distance, p.pulled_size) for p in only(out, LargeOrderPulled)] == [
        (3, SELL, 3, 3000)
    ]


def test_large_order_replaced_is_still_watched_under_its_new_id() -> None:
    sig, out = _signals(large_order_size=1000, large_order_window_ns=SECOND)
    sig.on_event(add(0, 1, BUY, 100, 100))
    sig.on_event(add(0, 2, SELL, 102, 100))
    sig.on_event(add(1, 3, BUY, 99, 4000))
    sig.on_event(OrderReplaced(ts_event=2, ts_init=2, symbol="X", order_id=3, new_order_id=8, price=98, size=4000))
    sig.on_event(OrderDeleted(ts_event=3, ts_init=3, symbol="X", order_id=8))
    pulled = [(p.order_id, p.price, p.pulled_size, p.lifetime_ns) for p in only(out, LargeOrderPulled)]
    assert pulled == [(3, 99, 4000, 1), (8, 98, 4000, 1)]


def test_large_order_at_a_new_level_is_compared_with_the_sides_average_order() -> None:
    sig, out = _signals(large_order_level_multiple=5.0, large_order_window_ns=SECOND)
    sig.on_event(add(0, 1, BUY, 100, 100))
    sig.on_event(add(0, 2, BUY, 100, 300))  # the bid side's average order: 200 shares
    sig.on_event(add(0, 3, SELL, 102, 100))
    sig.on_event(add(1, 4, BUY, 98, 1000))  # a new level, 5 x 200: large
    sig.on_event(add(1, 5, BUY, 97, 2000))  # the average is now (400 + 1000) / 3: 2000 is under 5 x that
    sig.on_event(OrderDeleted(ts_event=2, ts_init=2, symbol="X", order_id=4))
    sig.on_event(OrderDeleted(ts_event=2, ts_init=2, symbol="X", order_id=5))
    assert [(p.order_id, p.level_average) for p in only(out, LargeOrderPulled)] == [(4, 200.0)]
