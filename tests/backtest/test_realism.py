"""Realism: latency costs, queue priority, determinism, and no fill at a price the market never showed."""

from __future__ import annotations

from hypothesis import event, given, settings
from hypothesis import strategies as st

from tapeflow.backtest.engine import Backtest
from tapeflow.config import SyntheticConfig
from tapeflow.data.synthetic import SyntheticMarket
from tapeflow.engine.recorder import EventLog
from tapeflow.model import (
    Aggressor,
    BookAction,
    BookDelta,
    LiquiditySide,
    OrderAdded,
    OrderExecuted,
    Quote,
    Side,
    Trade,
)
from tapeflow.model.market import BookLevel, BookSnapshot
from tapeflow.strategy.base import Strategy
from tapeflow.venues.sim.latency import uniform_latency

from .scenario import MS, SYM, T0, Scripted, delta, px, run, snapshot

US = 1_000


def _rising_market() -> list:  # type: ignore[type-arg]
    """The offer is lifted and moves up one cent every 100 us: arriving later always costs more."""
    tape = [snapshot(T0, bids=[("99.99", 1_000)], asks=[("100.01", 100), ("100.02", 100)])]
    for k in range(1, 60):
        t = T0 + k * 100 * US
        lo = f"{100 + k / 100:.2f}"
        hi2 = f"{100.02 + k / 100:.2f}"
        tape.append(delta(t, Side.SELL, lo, 0))
        tape.append(
            BookDelta(ts_event=t, ts_init=t, symbol=SYM, action=BookAction.ADD, side=Side.SELL, price=px(hi2), size=100)
        )
    return tape


def _market_buy_price(latency_us: int) -> int:
    tape = _rising_market()
    s = Scripted({T0 + 1_100 * US: lambda s: s.buy(SYM, 150)})
    bt = Backtest([s], latency=uniform_latency(feed_ns=latency_us * US // 2, entry_ns=latency_us * US))
    bt.run([tape], until=T0 + 10 * MS)
    fills = s.fills
    assert sum(f.quantity for f in fills) == 150
    return sum(f.price * f.quantity for f in fills)


def test_more_latency_never_gives_better_fills_on_an_adverse_market() -> None:
    costs = [_market_buy_price(lat) for lat in (0, 50, 150, 400, 900, 2_000)]
    assert costs == sorted(costs)
    assert costs[-1] > costs[0]


def test_reports_arrive_after_the_round_trip() -> None:
    tape = [snapshot(T0, bids=[("99.99", 100)], asks=[("100.01", 100)])]
    s = Scripted({T0 + 1 * MS: lambda s: s.buy(SYM, 100, px("100.01"))})
    lat = uniform_latency(feed_ns=40 * US, entry_ns=70 * US, response_ns=90 * US, compute_ns=5 * US)
    Backtest([s], latency=lat).run([tape], until=T0 + 5 * MS)
    fill = s.fills[0]
    assert fill.ts_event == T0 + 1 * MS + 5 * US + 70 * US  # decision + compute + entry: at the exchange
    assert fill.ts_init == fill.ts_event + 90 * US  # the strategy hears of it one response later


def _l3_tape() -> list:  # type: ignore[type-arg]
    snap = BookSnapshot(ts_event=T0, ts_init=T0, symbol=SYM, bids=(BookLevel(px("50.00"), 0),), asks=())
    t = T0
    ev = [snap]

    def add(oid: int, side: Side, price: str, size: int, dt: int) -> None:
        ev.append(
            OrderAdded(ts_event=t + dt, ts_init=t + dt, symbol=SYM, order_id=oid, side=side, price=px(price), size=size)
        )

    def ex(oid: int, size: int, dt: int) -> None:
        ev.append(OrderExecuted(ts_event=t + dt, ts_init=t + dt, symbol=SYM, order_id=oid, size=size))

    add(1, Side.BUY, "50.00", 300, 1 * MS)
    add(2, Side.SELL, "50.05", 500, 1 * MS)
    # our order arrives at +2 ms; order 3 joins behind it at +3 ms
    add(3, Side.BUY, "50.00", 400, 3 * MS)
    ex(1, 200, 4 * MS)  # ahead of us: 300 -> 100 ahead
    ex(1, 100, 5 * MS)  # ahead of us: 0 ahead
    ex(3, 150, 6 * MS)  # behind us: the seller went through our place first -> we fill 150
    return ev


def test_l3_queue_position_is_exact() -> None:
    tape = _l3_tape()
    s = Scripted({T0 + 2 * MS: lambda s: s.buy(SYM, 200, px("50.00"))})
    bt = Backtest([s], level="L3")
    bt.run([tape], until=T0 + 10 * MS)
    assert [(f.ts_event, f.quantity, f.liquidity_side) for f in s.fills] == [(T0 + 6 * MS, 150, LiquiditySide.MAKER)]
    # the 50 left rested, first in the queue, until the DAY order expired at the close
    expired = [r for r in s.reports if type(r).__name__ == "OrderExpired"]
    assert [e.expired_quantity for e in expired] == [50]  # type: ignore[attr-defined]


class _Quoter(Strategy):
    """Joins the touch on every quote change, both sides, cancelling what it had: exercises every path."""

    def on_quote(self, q: Quote) -> None:
        if q.bid_size == 0 or q.ask_size == 0:
            return
        self.cancel_all(q.symbol)
        self.buy(q.symbol, 100, q.bid_price)
        self.sell(q.symbol, 100, q.ask_price)


def _synthetic_run(seed: int) -> tuple[str, int]:
    market = SyntheticMarket(SyntheticConfig(symbols=("AAPL", "MSFT"), seed=seed, events_per_symbol=4_000))
    log = EventLog(keep=False)
    bt = Backtest([_Quoter("q")], latency=uniform_latency(feed_ns=20 * US, entry_ns=30 * US), extra=[log])
    bt.run(market.sources())
    return log.digest(), bt.exchange.fills


def test_two_runs_of_the_same_config_give_identical_results() -> None:
    a, b = _synthetic_run(5), _synthetic_run(5)
    assert a == b
    assert a[1] > 50  # the quoter really traded


_side = st.sampled_from([Side.BUY, Side.SELL])
_market = st.lists(st.tuples(_side, st.integers(1, 6), st.integers(0, 900), st.booleans()), min_size=1, max_size=40)
_orders = st.lists(st.tuples(_side, st.integers(0, 8), st.integers(1, 5)), min_size=1, max_size=8)


def _fills_at_shown_prices(market: list[tuple[Side, int, int, bool]], orders: list[tuple[Side, int, int]]) -> int:
    """Taker fills happen at a level the book showed; a maker fill at our limit is stamped with a print at or
    through it, or with contra liquidity shown at or through it. Returns the maker fills checked.

    A marketable buy for 100 at the snapshot's 100.01 goes first, so every case checks at least one fill."""
    mid = px("100.00")
    tape: list = [snapshot(T0, bids=[("99.99", 300)], asks=[("100.01", 300)])]  # type: ignore[type-arg]
    shown: dict[Side, set[int]] = {Side.BUY: {px("99.99")}, Side.SELL: {px("100.01")}}
    reached: dict[int, list[tuple[Side, int]]] = {}
    """Per time: (side whose orders a maker fill needs, price) for each print or contra level shown."""
    for i, (side, ticks, size, is_trade) in enumerate(market):
        t = T0 + (i + 1) * MS
        price = mid - ticks * 100 if side is Side.BUY else mid + ticks * 100
        if is_trade and size:
            aggressor = Aggressor.SELL if side is Side.BUY else Aggressor.BUY
            tape.append(Trade(ts_event=t, ts_init=t, symbol=SYM, price=price, size=size, aggressor=aggressor))
            reached.setdefault(t, []).append((side, price))  # a sell print reaches our buys at or above it
        else:
            tape.append(delta(t, side, f"{price / 10_000:.2f}", size))
            if size:
                shown[side].add(price)
                reached.setdefault(t, []).append((side.opposite, price))  # a shown ask reaches our buys
    actions = {T0 + MS // 4: lambda s: s.buy(SYM, 100, px("100.01"))}
    limits = {"s-1": px("100.01")}
    for j, (side, ticks, lots) in enumerate(orders):
        price = mid - 400 + ticks * 100
        limits[f"s-{j + 2}"] = price
        actions[T0 + j * MS + MS // 2] = (lambda sd, p, q: lambda s: s.submit(SYM, sd, q, price=p))(
            side, price, lots * 100
        )
    _, s = run(tape, actions)
    assert s.fills[0].client_order_id == "s-1"
    assert (s.fills[0].price, s.fills[0].quantity) == (px("100.01"), 100)
    makers = 0
    for fill in s.fills:
        if fill.liquidity_side is LiquiditySide.TAKER:
            assert fill.price in shown[fill.side.opposite]
        else:
            makers += 1
            assert fill.price == limits[fill.client_order_id]
            at = [p for sd, p in reached.get(fill.ts_event, []) if sd is fill.side]
            assert any(p <= fill.price if fill.side is Side.BUY else p >= fill.price for p in at), (fill, at)
    return makers


def test_no_fill_at_a_price_the_market_never_showed() -> None:
    """The property must see maker fills in many cases, or its second half checks nothing."""
    maker_cases = []

    @settings(max_examples=60, deadline=None)
    @given(_market, _orders)
    def check(market: list[tuple[Side, int, int, bool]], orders: list[tuple[Side, int, int]]) -> None:
        makers = _fills_at_shown_prices(market, orders)
        event(f"maker fills: {min(makers, 3)}")
        maker_cases.append(makers > 0)

    check()
    assert sum(maker_cases) >= 6, f"only {sum(maker_cases)} of {len(maker_cases)} cases had a maker fill"
