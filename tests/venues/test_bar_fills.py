"""Fills against bars on their own: what waits, what fills at the open or the limit, what an IOC gets."""

from __future__ import annotations

from tapeflow.model.enums import LiquiditySide, OrderType, Side, TimeInForce
from tapeflow.model.market import Bar
from tapeflow.model.orders import SubmitOrder
from tapeflow.model.prices import NO_PRICE
from tapeflow.venues.sim.bar_fills import BarFills
from tapeflow.venues.sim.latency import OrderAction
from tapeflow.venues.sim.orders import SimOrder


def _order(cid: str, side: Side, price: int = NO_PRICE, tif: TimeInForce = TimeInForce.DAY) -> SimOrder:
    kind = OrderType.MARKET if price == NO_PRICE else OrderType.LIMIT
    command = SubmitOrder(
        ts_event=0,
        ts_init=0,
        strategy_id="s",
        client_order_id=cid,
        symbol="AAPL",
        side=side,
        order_type=kind,
        quantity=100,
        price=price,
        time_in_force=tif,
    )
    return SimOrder(command, f"v-{cid}")


def _bar(ts: int, o: int, h: int, lo: int, c: int) -> Bar:
    return Bar(ts_event=ts, ts_init=ts, symbol="AAPL", open=o, high=h, low=lo, close=c, volume=1_000)


class _Venue:
    def __init__(self) -> None:
        self.done: list[tuple[str, str, int, int]] = []

    def fill(self, order: SimOrder, price: int, qty: int, liquidity: LiquiditySide, at: int, _: OrderAction) -> None:
        assert liquidity is LiquiditySide.TAKER
        self.done.append(("fill", order.client_order_id, price, at))

    def cancel(self, order: SimOrder, at: int, _: OrderAction, reason: str) -> None:
        self.done.append(("cancel", order.client_order_id, order.remaining, at))


def test_orders_wait_only_for_symbols_seen_with_bars() -> None:
    venue = _Venue()
    bars = BarFills(venue.fill, venue.cancel)
    assert not bars.park(_order("a", Side.BUY))
    bars.on_bar(_bar(1, 100, 100, 100, 100))
    waiting = _order("b", Side.BUY)
    assert bars.park(waiting) and bars.parked() == {id(waiting)}
    bars.discard(waiting)
    assert bars.parked() == set()


def test_the_next_bar_fills_market_at_the_open_limits_at_the_open_or_the_limit_and_cancels_an_unreached_ioc() -> None:
    venue = _Venue()
    bars = BarFills(venue.fill, venue.cancel)
    bars.on_bar(_bar(1, 100, 100, 100, 100))
    market, at_open, at_limit = _order("m", Side.BUY), _order("o", Side.BUY, 105), _order("l", Side.SELL, 104)
    unreached, ioc = _order("w", Side.BUY, 90), _order("i", Side.BUY, 90, TimeInForce.IOC)
    for order in (market, at_open, at_limit, unreached, ioc):
        assert bars.park(order)
    bars.on_bar(_bar(2, 102, 104, 95, 103))
    assert venue.done == [
        ("fill", "m", 102, 2),
        ("fill", "o", 102, 2),  # the open is better than the 105 limit
        ("fill", "l", 104, 2),  # the high reached the sell limit
        ("cancel", "i", 100, 2),
    ]
    assert bars.parked() == {id(unreached)}  # it waits for the next bar


def test_close_x2_is_twice_the_last_close_of_each_symbol_and_none_before_its_first_bar() -> None:
    venue = _Venue()
    bars = BarFills(venue.fill, venue.cancel)
    assert bars.close_x2("AAPL") is None
    bars.on_bar(_bar(1, 100, 100, 100, 101))
    bars.on_bar(_bar(2, 100, 100, 100, 103))
    assert bars.close_x2("AAPL") == 206 and bars.close_x2("MSFT") is None
