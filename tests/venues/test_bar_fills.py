"""Fills against bars on their own: what waits, what fills at the open or the limit, what an IOC gets."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

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
    return SimOrder.of(command, f"v-{cid}")


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


class _Reference:
    """The bar fills as they were before a symbol with nothing waiting lost its entry: every symbol seen with a bar
    keeps a (possibly empty) list. The property below requires the same fills, cancels and waiting orders."""

    def __init__(self, venue: _Venue) -> None:
        self.venue = venue
        self.waiting: dict[str, list[SimOrder]] = {}

    def park(self, order: SimOrder) -> bool:
        waiting = self.waiting.get(order.symbol)
        if waiting is None:
            return False
        waiting.append(order)
        return True

    def discard(self, order: SimOrder) -> None:
        waiting = self.waiting.get(order.symbol)
        if waiting and order in waiting:
            waiting.remove(order)

    def on_bar(self, bar: Bar) -> None:
        waiting = self.waiting.get(bar.symbol, [])
        self.waiting[bar.symbol] = still = []
        for order in waiting:
            if order.order_type is OrderType.MARKET or order.crosses(bar.open):
                self.venue.fill(order, bar.open, order.remaining, LiquiditySide.TAKER, bar.ts_event, OrderAction.INSERT)
            elif order.crosses(bar.low if order.side is Side.BUY else bar.high):
                self.venue.fill(
                    order, order.price, order.remaining, LiquiditySide.TAKER, bar.ts_event, OrderAction.INSERT
                )
            elif order.time_in_force is TimeInForce.IOC:
                self.venue.cancel(order, bar.ts_event, OrderAction.INSERT, "IOC")
            else:
                still.append(order)


_op = st.one_of(
    st.tuples(st.just("bar"), st.sampled_from("AB"), st.integers(90, 110), st.integers(0, 10), st.integers(0, 10)),
    st.tuples(st.just("park"), st.sampled_from("AB"), st.sampled_from(list(Side)), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("discard"), st.integers(0, 50)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_op, max_size=60))
def test_bar_fills_decide_as_the_reference_over_random_bars_parks_and_discards(ops: list[tuple[Any, ...]]) -> None:
    mine, ref = _Venue(), _Venue()
    bars, reference = BarFills(mine.fill, mine.cancel), _Reference(ref)
    orders: list[tuple[SimOrder, SimOrder]] = []
    for ts, op in enumerate(ops):
        if op[0] == "bar":
            _, sym, open_, down, up = op
            o, lo, hi = int(open_), int(open_) - int(down), int(open_) + int(up)
            bar = Bar(ts_event=ts, ts_init=ts, symbol=str(sym), open=o, high=hi, low=lo, close=o, volume=1)
            bars.on_bar(bar)
            reference.on_bar(bar)
        elif op[0] == "park":
            _, sym, side, offset, ioc = op
            price = NO_PRICE if offset == 0 else 100 + (int(offset) - 2) * 5
            pair = []
            for _ in range(2):
                o = _order(f"o{ts}", side, price, TimeInForce.IOC if ioc else TimeInForce.DAY)
                o.symbol = str(sym)
                pair.append(o)
            assert bars.park(pair[0]) == reference.park(pair[1])
            orders.append((pair[0], pair[1]))
        elif orders:
            a, b = orders[int(op[1]) % len(orders)]
            bars.discard(a)
            reference.discard(b)
        assert mine.done == ref.done
        assert sorted(o.client_order_id for o in _waiting(bars)) == sorted(
            o.client_order_id for w in reference.waiting.values() for o in w
        )
    assert bars.symbols == set(reference.waiting)


def _waiting(bars: BarFills) -> list[SimOrder]:
    return [o for w in bars._waiting.values() for o in w]
