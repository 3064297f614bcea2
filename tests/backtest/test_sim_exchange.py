"""The simulated exchange on hand-built L2 scenarios with known answers."""

from __future__ import annotations

from decimal import Decimal

from tapeflow.backtest.engine import Backtest
from tapeflow.model import (
    Aggressor,
    Bar,
    CancelRejected,
    LiquiditySide,
    MarketStatus,
    ModifyRejected,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderType,
    OrderUpdated,
    Side,
    SubmitOrder,
    TimeInForce,
    TradingStatus,
)
from tapeflow.venues.sim.fees import CommissionConfig, FeesConfig
from tapeflow.venues.sim.queue import QueueModel

from .scenario import MS, SYM, T0, Scripted, delta, px, run, snapshot, trade

BOOK = snapshot(T0, bids=[("100.00", 500), ("99.99", 800)], asks=[("100.01", 300), ("100.02", 400)])


def test_marketable_limit_walks_the_depth_and_liquidity_is_not_used_twice() -> None:
    tape = [
        snapshot(T0, bids=[("120.45", 100)], asks=[("120.50", 200), ("120.55", 500), ("120.60", 300), ("120.65", 9)]),
        delta(T0 + 10 * MS, Side.BUY, "120.45", 200),
    ]
    _, s = run(
        tape,
        {
            T0 + 1 * MS: lambda s: s.buy(SYM, 1_000, px("120.60")),
            T0 + 2 * MS: lambda s: s.buy(SYM, 100, px("120.60"), time_in_force=TimeInForce.IOC),
        },
    )
    first = [(f.price, f.quantity, f.liquidity_side) for f in s.fills if f.client_order_id == "s-1"]
    assert first == [
        (px("120.50"), 200, LiquiditySide.TAKER),
        (px("120.55"), 500, LiquiditySide.TAKER),
        (px("120.60"), 300, LiquiditySide.TAKER),
    ]
    vwap_x1000 = sum(p * q for p, q, _ in first) * 1000 // 1000
    assert vwap_x1000 == 1_205_550 * 1000  # 120.555 a share, as the depth-walk example says
    # the second order finds the liquidity the first one took still consumed: nothing fills, IOC cancels
    assert [type(r).__name__ for r in s.reports if r.client_order_id == "s-2"] == ["OrderAccepted", "OrderCancelled"]


def test_resting_order_fills_only_after_the_queue_ahead_trades() -> None:
    tape = [
        BOOK,
        trade(T0 + 5 * MS, "100.00", 300, Aggressor.SELL),
        delta(T0 + 5 * MS, Side.BUY, "100.00", 200),
        trade(T0 + 6 * MS, "100.00", 250, Aggressor.SELL),
        delta(T0 + 6 * MS, Side.BUY, "100.00", 0),
    ]
    _, s = run(tape, {T0 + 1 * MS: lambda s: s.buy(SYM, 100, px("100.00"))})
    assert [(f.ts_event, f.quantity, f.price, f.liquidity_side) for f in s.fills] == [
        (T0 + 6 * MS, 50, px("100.00"), LiquiditySide.MAKER)  # 500 ahead: 300 + 200 traded first, then 50 reached us
    ]


def test_resting_order_fills_when_the_market_trades_through_its_price() -> None:
    tape = [BOOK, trade(T0 + 5 * MS, "99.99", 700, Aggressor.SELL)]
    _, s = run(tape, {T0 + 1 * MS: lambda s: s.buy(SYM, 100, px("100.00"))})
    assert [(f.quantity, f.price) for f in s.fills] == [(100, px("100.00"))]


def test_no_fill_while_the_market_never_reaches_the_price() -> None:
    tape = [BOOK, trade(T0 + 5 * MS, "100.00", 400, Aggressor.SELL), delta(T0 + 5 * MS, Side.BUY, "100.00", 100)]
    bt, s = run(tape, {T0 + 1 * MS: lambda s: s.buy(SYM, 100, px("99.99"), time_in_force=TimeInForce.GTC)})
    assert s.fills == []
    # ... because it rests where the prints never reached: accepted, open, at 99.99 behind the 800 shown there
    assert s.kinds() == ["OrderAccepted"]
    assert [(o.client_order_id, o.price, o.remaining, o.ahead) for o in bt.exchange.resting(SYM)] == [
        ("s-1", px("99.99"), 100, 800)
    ]
    assert [o.client_order_id for o in bt.execution.open_orders()] == ["s-1"]


def _cancel_scenario(model: QueueModel) -> int:
    """500 ahead at arrival, 500 join behind, 300 cancel, then 500 trade: what reaches us depends on the model."""
    tape = [
        BOOK,
        delta(T0 + 2 * MS, Side.BUY, "100.00", 1_000),
        delta(T0 + 3 * MS, Side.BUY, "100.00", 700),
        trade(T0 + 4 * MS, "100.00", 500, Aggressor.SELL),
    ]
    from tapeflow.venues.sim.exchange import SimExchangeConfig

    _, s = run(
        tape,
        {T0 + 1 * MS: lambda s: s.buy(SYM, 300, px("100.00"))},
        exchange=SimExchangeConfig(queue_model=model),
    )
    return sum(f.quantity for f in s.fills)


def test_queue_models_place_cancellations_front_back_or_in_proportion() -> None:
    assert _cancel_scenario(QueueModel.FRONT) == 300  # ahead 500 -> 200; 500 traded: 200 market, 300 ours
    assert _cancel_scenario(QueueModel.PROPORTIONAL) == 300 - 150  # ahead 500 -> 350; 150 reach us
    assert _cancel_scenario(QueueModel.BACK) == 0  # the 300 left from behind us: still 500 ahead


def test_order_at_the_back_of_the_queue_fills_later_than_one_at_the_front() -> None:
    tape = [
        BOOK,
        delta(T0 + 2 * MS, Side.BUY, "100.00", 900),
        trade(T0 + 5 * MS, "100.00", 600, Aggressor.SELL),
        delta(T0 + 5 * MS, Side.BUY, "100.00", 300),
        trade(T0 + 9 * MS, "100.00", 600, Aggressor.SELL),
    ]
    _, s = run(
        tape,
        {
            T0 + 1 * MS: lambda s: s.buy(SYM, 100, px("100.00")),
            T0 + 3 * MS: lambda s: s.buy(SYM, 100, px("100.00")),
        },
    )
    when = {f.client_order_id: f.ts_event for f in s.fills}
    assert when == {"s-1": T0 + 5 * MS, "s-2": T0 + 9 * MS}


def test_rejects_say_why() -> None:
    tape = [
        BOOK,
        TradingStatus(ts_event=T0 + 5 * MS, ts_init=T0 + 5 * MS, symbol=SYM, status=MarketStatus.HALTED),
    ]
    _, s = run(
        tape,
        {
            T0 + 1 * MS: lambda s: s.buy(SYM, 100, px("100.005")),
            T0 + 2 * MS: lambda s: s.cancel("s-404", SYM),
            T0 + 3 * MS: lambda s: s.modify("s-405", SYM, 100, price=px("99.00")),
            T0 + 6 * MS: lambda s: s.buy(SYM, 100, px("99.00")),
            T0 + 7 * MS: lambda s: s.submit(SYM, Side.BUY, 100, order_type=OrderType.LIMIT),
        },
    )
    reasons = [(type(r).__name__, getattr(r, "reason", "")) for r in s.reports]
    assert reasons == [
        ("OrderRejected", "limit price 100.005 is not on the Rule 612 tick grid"),
        ("CancelRejected", "unknown order"),
        ("ModifyRejected", "unknown order"),
        ("OrderRejected", "AAPL is halted"),
        ("OrderRejected", "LIMIT order without a limit price"),
    ]
    assert isinstance(s.reports[1], CancelRejected) and isinstance(s.reports[2], ModifyRejected)


def test_day_orders_expire_at_the_close_gtc_orders_do_not() -> None:
    close = T0 + 6 * 3600 * 1_000_000_000  # 16:00 New York
    tape = [BOOK, delta(close + 1_000, Side.BUY, "99.99", 700)]
    _, s = run(
        tape,
        {
            T0 + 1 * MS: lambda s: s.buy(SYM, 100, px("99.00")),
            T0 + 2 * MS: lambda s: s.buy(SYM, 100, px("99.00"), time_in_force=TimeInForce.GTC),
        },
    )
    expired = [r for r in s.reports if isinstance(r, OrderExpired)]
    assert [(e.client_order_id, e.ts_event, e.expired_quantity) for e in expired] == [("s-1", close, 100)]


def test_modify_down_keeps_priority_price_change_loses_it() -> None:
    tape = [BOOK, trade(T0 + 5 * MS, "100.00", 550, Aggressor.SELL)]
    _, s = run(
        tape,
        {
            T0 + 1 * MS: lambda s: s.buy(SYM, 200, px("100.00")),
            T0 + 2 * MS: lambda s: s.modify("s-1", SYM, 100),
        },
    )
    updated = [r for r in s.reports if isinstance(r, OrderUpdated)]
    assert [(u.quantity, u.priority_lost) for u in updated] == [(100, False)]
    assert [f.quantity for f in s.fills] == [50]  # still 500 ahead: the 550 print leaves 50 for us

    _, s2 = run(
        tape,
        {
            T0 + 1 * MS: lambda s: s.buy(SYM, 200, px("99.99")),
            T0 + 2 * MS: lambda s: s.modify("s-1", SYM, 200, price=px("100.00")),
        },
    )
    assert [u.priority_lost for u in s2.reports if isinstance(u, OrderUpdated)] == [True]


def test_fok_all_or_nothing_and_market_order_remainder_cancelled() -> None:
    _, s = run(
        [BOOK],
        {
            T0 + 1 * MS: lambda s: s.buy(SYM, 800, px("100.02"), time_in_force=TimeInForce.FOK),
            T0 + 2 * MS: lambda s: s.buy(SYM, 1_000),
        },
    )
    fok = [r for r in s.reports if r.client_order_id == "s-1"]
    assert [type(r) for r in fok] == [OrderAccepted, OrderCancelled]
    assert "only 700 of 800" in fok[1].reason  # type: ignore[attr-defined]
    mkt = [r for r in s.reports if r.client_order_id == "s-2"]
    assert sum(f.quantity for f in s.fills) == 700
    assert isinstance(mkt[-1], OrderCancelled) and mkt[-1].cancelled_quantity == 300


def test_stop_order_triggers_on_a_print_through_its_stop() -> None:
    tape = [BOOK, trade(T0 + 5 * MS, "100.01", 100, Aggressor.BUY)]
    _, s = run(
        tape, {T0 + 1 * MS: lambda s: s.submit(SYM, Side.BUY, 100, order_type=OrderType.STOP, stop_price=px("100.01"))}
    )
    assert [(f.price, f.quantity, f.ts_event) for f in s.fills] == [(px("100.01"), 100, T0 + 5 * MS)]


def test_rejected_orders_are_not_counted_as_open() -> None:
    bt, s = run([BOOK], {T0 + 1 * MS: lambda s: s.buy(SYM, 100, px("1.0001"))})
    assert isinstance(s.reports[0], OrderRejected)
    assert list(bt.execution.open_orders()) == []


def test_l1_quote_liquidity_is_consumed_until_the_next_quote() -> None:
    from tapeflow.model import Quote

    def quote(ts: int) -> Quote:
        return Quote(
            ts_event=ts,
            ts_init=ts,
            symbol=SYM,
            bid_price=px("99.99"),
            bid_size=100,
            ask_price=px("100.01"),
            ask_size=300,
        )

    tape = [quote(T0), quote(T0 + 5 * MS)]
    _, s = run(
        tape,
        {
            T0 + 1 * MS: lambda s: s.buy(SYM, 200),
            T0 + 2 * MS: lambda s: s.buy(SYM, 200),  # only 100 left of the 300 shown
            T0 + 6 * MS: lambda s: s.buy(SYM, 200),  # a new quote: the level is fresh again
        },
        level="L1",
    )
    assert [(f.client_order_id, f.quantity) for f in s.fills] == [("s-1", 200), ("s-2", 100), ("s-3", 200)]


def test_contra_liquidity_fills_only_the_resting_orders_it_crosses() -> None:
    """An ask appears at 100.01: our bid at 100.02 would have traded with it (at its own price); our bid at 99.99
    is below it and keeps resting."""
    tape = [
        snapshot(T0, bids=[("99.98", 100)], asks=[("100.05", 100)]),
        delta(T0 + 5 * MS, Side.SELL, "100.01", 300),
    ]
    gtc = TimeInForce.GTC
    bt, s = run(
        tape,
        {
            T0 + 1 * MS: lambda s: s.buy(SYM, 100, px("100.02"), time_in_force=gtc),
            T0 + 2 * MS: lambda s: s.buy(SYM, 100, px("99.99"), time_in_force=gtc),
        },
    )
    assert [(f.client_order_id, f.ts_event, f.price, f.quantity, f.liquidity_side) for f in s.fills] == [
        ("s-1", T0 + 5 * MS, px("100.02"), 100, LiquiditySide.MAKER)
    ]
    assert [(o.client_order_id, o.price, o.remaining) for o in bt.exchange.resting(SYM)] == [("s-2", px("99.99"), 100)]


def _resting(bt: Backtest) -> list[tuple[str, int, int, int]]:
    return [(o.client_order_id, o.price, o.remaining, o.ahead) for o in bt.exchange.resting(SYM)]


def test_modify_up_in_size_loses_priority_and_joins_the_back() -> None:
    tape = [
        BOOK,
        delta(T0 + 2 * MS, Side.BUY, "100.00", 800),  # 300 join behind us
        trade(T0 + 5 * MS, "100.00", 700, Aggressor.SELL),
        delta(T0 + 5 * MS, Side.BUY, "100.00", 100),
    ]
    bt, s = run(
        tape,
        {
            T0 + 1 * MS: lambda s: s.buy(SYM, 100, px("100.00"), time_in_force=TimeInForce.GTC),
            T0 + 3 * MS: lambda s: s.modify("s-1", SYM, 200),
        },
    )
    assert [(u.quantity, u.priority_lost) for u in s.reports if isinstance(u, OrderUpdated)] == [(200, True)]
    assert s.fills == []  # behind all 800 now: the 700 traded did not reach it (with its old place, 200 would fill)
    assert _resting(bt) == [("s-1", px("100.00"), 200, 100)]


def test_modify_to_no_more_than_the_filled_quantity_is_rejected() -> None:
    tape = [BOOK, trade(T0 + 5 * MS, "100.00", 550, Aggressor.SELL)]
    bt, s = run(
        tape,
        {
            T0 + 1 * MS: lambda s: s.buy(SYM, 200, px("100.00"), time_in_force=TimeInForce.GTC),
            T0 + 6 * MS: lambda s: s.modify("s-1", SYM, 50),
        },
    )
    assert [f.quantity for f in s.fills] == [50]
    assert [(type(r).__name__, getattr(r, "reason", "")) for r in s.reports[2:]] == [
        ("ModifyRejected", "new quantity 50 is not above the 50 shares already filled")
    ]
    assert _resting(bt) == [("s-1", px("100.00"), 150, 0)]


def test_fok_fills_when_the_visible_depth_is_exactly_enough() -> None:
    _, s = run([BOOK], {T0 + 1 * MS: lambda s: s.buy(SYM, 700, px("100.02"), time_in_force=TimeInForce.FOK)})
    assert [(f.price, f.quantity, f.liquidity_side) for f in s.fills] == [
        (px("100.01"), 300, LiquiditySide.TAKER),
        (px("100.02"), 400, LiquiditySide.TAKER),
    ]
    assert s.kinds() == ["OrderAccepted", "OrderFilled", "OrderFilled"]


def test_modify_to_a_marketable_price_trades_at_once() -> None:
    _, s = run(
        [BOOK],
        {
            T0 + 1 * MS: lambda s: s.buy(SYM, 100, px("99.99"), time_in_force=TimeInForce.GTC),
            T0 + 2 * MS: lambda s: s.modify("s-1", SYM, 100, price=px("100.01")),
        },
    )
    assert [(f.ts_event, f.price, f.quantity, f.liquidity_side) for f in s.fills] == [
        (T0 + 2 * MS, px("100.01"), 100, LiquiditySide.TAKER)
    ]


def test_a_print_through_several_of_our_prices_fills_the_best_first() -> None:
    tape = [
        snapshot(T0, bids=[("100.00", 500)], asks=[("100.04", 100)]),
        trade(T0 + 5 * MS, "100.05", 150, Aggressor.BUY),
    ]
    gtc = TimeInForce.GTC
    bt, s = run(
        tape,
        {
            T0 + 1 * MS: lambda s: s.sell(SYM, 100, px("100.03"), time_in_force=gtc),
            T0 + 2 * MS: lambda s: s.sell(SYM, 100, px("100.02"), time_in_force=gtc),
        },
    )
    assert [(f.client_order_id, f.price, f.quantity) for f in s.fills] == [
        ("s-2", px("100.02"), 100),  # the buyer paid 100.05: our cheaper offer would have sold first
        ("s-1", px("100.03"), 50),
    ]
    assert _resting(bt) == [("s-1", px("100.03"), 50, 0)]


def test_contra_liquidity_our_resting_order_took_is_not_there_for_the_next_order() -> None:
    tape = [
        snapshot(T0, bids=[("99.98", 100)], asks=[("100.05", 100)]),
        delta(T0 + 5 * MS, Side.SELL, "100.01", 300),
    ]
    _, s = run(
        tape,
        {
            T0 + 1 * MS: lambda s: s.buy(SYM, 100, px("100.02"), time_in_force=TimeInForce.GTC),
            T0 + 6 * MS: lambda s: s.buy(SYM, 300, px("100.01"), time_in_force=TimeInForce.IOC),
        },
    )
    assert [(f.client_order_id, f.price, f.quantity, f.liquidity_side) for f in s.fills] == [
        ("s-1", px("100.02"), 100, LiquiditySide.MAKER),
        ("s-2", px("100.01"), 200, LiquiditySide.TAKER),  # 100 of the 300 shown went to our resting bid
    ]
    cancelled = [r for r in s.reports if isinstance(r, OrderCancelled)]
    assert [(c.client_order_id, c.cancelled_quantity) for c in cancelled] == [("s-2", 100)]


def _bar(ts: int, o: str, h: str, lo: str, c: str) -> Bar:
    return Bar(ts_event=ts, ts_init=ts, symbol=SYM, open=px(o), high=px(h), low=px(lo), close=px(c), volume=1_000)


def test_bar_data_fills_at_the_open_if_better_else_at_the_limit_if_the_range_reached_it() -> None:
    minute = 60_000 * MS
    tape = [_bar(T0, "100.00", "100.10", "99.90", "100.00"), _bar(T0 + minute, "99.50", "100.50", "99.40", "100.20")]
    gtc, ioc = TimeInForce.GTC, TimeInForce.IOC
    _, s = run(
        tape,
        {
            T0 + 1 * MS: lambda s: s.buy(SYM, 100, px("100.00")),  # the open, 99.50, is better
            T0 + 2 * MS: lambda s: s.sell(SYM, 100, px("100.40")),  # the high, 100.50, reaches it
            T0 + 3 * MS: lambda s: s.buy(SYM, 100, px("99.00"), time_in_force=ioc),  # the low is 99.40: cancelled
            T0 + 4 * MS: lambda s: s.buy(SYM, 100, px("99.00"), time_in_force=gtc),  # waits for a later bar
        },
    )
    assert [(f.client_order_id, f.ts_event, f.price) for f in s.fills] == [
        ("s-1", T0 + minute, px("99.50")),
        ("s-2", T0 + minute, px("100.40")),
    ]
    cancelled = [r for r in s.reports if isinstance(r, OrderCancelled)]
    assert [(c.client_order_id, c.reason) for c in cancelled] == [("s-3", "IOC: the bar did not reach the limit")]
    assert [r.client_order_id for r in s.reports if isinstance(r, OrderAccepted)] == ["s-1", "s-2", "s-3", "s-4"]
    assert len(s.reports) == 4 + 2 + 1  # s-4: accepted, nothing else


def test_bar_data_day_order_waiting_for_the_next_bar_does_not_expire_at_the_close() -> None:
    day = 24 * 3600 * 1_000_000_000
    tape = [_bar(T0, "100.00", "100.10", "99.90", "100.00"), _bar(T0 + day, "99.80", "99.90", "99.60", "99.70")]
    _, s = run(tape, {T0 + 1 * MS: lambda s: s.buy(SYM, 100, px("100.00"))})
    assert [(f.ts_event, f.price) for f in s.fills] == [(T0 + day, px("99.80"))]
    assert not [r for r in s.reports if isinstance(r, OrderExpired)]


def test_stop_orders_without_a_valid_stop_price_are_rejected() -> None:
    _, s = run(
        [BOOK],
        {
            T0 + 1 * MS: lambda s: s.submit(SYM, Side.BUY, 100, order_type=OrderType.STOP),
            T0 + 2 * MS: lambda s: s.submit(
                SYM, Side.BUY, 100, price=px("100.05"), order_type=OrderType.STOP_LIMIT, stop_price=px("100.005")
            ),
        },
    )
    assert [(type(r).__name__, getattr(r, "reason", "")) for r in s.reports] == [
        ("OrderRejected", "STOP order without a stop price"),
        ("OrderRejected", "stop price 100.005 is not on the Rule 612 tick grid"),
    ]


def test_commission_minimum_is_charged_once_per_order_across_partial_fills() -> None:
    """1 cent a share, $1 minimum: 150 then 50 shares pay $1.50 then $0.50 (the order's $2.00), not a second
    minimum and not nothing."""
    commission = CommissionConfig(per_share=Decimal("0.01"), minimum=Decimal("1.00"), max_pct_of_value=None)
    tape = [
        BOOK,
        trade(T0 + 5 * MS, "100.00", 650, Aggressor.SELL),
        trade(T0 + 6 * MS, "100.00", 50, Aggressor.SELL),
    ]
    _, s = run(
        tape,
        {T0 + 1 * MS: lambda s: s.buy(SYM, 200, px("100.00"))},
        fees=FeesConfig(commission=commission).build(),
    )
    assert [(f.quantity, f.fee_components.get("commission")) for f in s.fills] == [(150, 15_000), (50, 5_000)]


def test_the_venue_itself_rejects_a_client_order_id_it_has_already_closed() -> None:
    """The execution engine refuses a reused id first; the venue still checks (a live venue would), so a
    command sent straight to it with a filled order's id is rejected, not traded a second time."""
    rejected: list[OrderRejected] = []

    def resend(s: Scripted) -> None:
        bt.exchange.send(
            SubmitOrder(
                ts_event=s.now,
                ts_init=s.now,
                strategy_id="s",
                client_order_id="s-1",
                symbol=SYM,
                side=Side.BUY,
                order_type=OrderType.LIMIT,
                quantity=100,
                price=px("100.01"),
            )
        )

    strategy = Scripted({T0 + 1 * MS: lambda s: s.buy(SYM, 100, px("100.01")), T0 + 2 * MS: resend})
    bt = Backtest([strategy])
    bt.kernel.subscribe(OrderRejected, rejected.append)
    bt.run([[BOOK]], until=T0 + 3 * MS)
    assert [f.quantity for f in strategy.fills] == [100]
    assert [(r.client_order_id, r.reason) for r in rejected] == [("s-1", "duplicate client order id s-1")]
    assert bt.exchange.fills == 1


def test_a_snapshot_bounds_the_queue_ahead_by_the_level_it_shows() -> None:
    """A resync shows 200 shares at our price where we counted 500 ahead: at most 200 can be ahead now."""
    tape = [
        BOOK,
        snapshot(T0 + 5 * MS, bids=[("100.00", 200), ("99.99", 800)], asks=[("100.01", 300)]),
        trade(T0 + 6 * MS, "100.00", 250, Aggressor.SELL),
    ]
    bt, s = run(tape, {T0 + 1 * MS: lambda s: s.buy(SYM, 100, px("100.00"), time_in_force=TimeInForce.GTC)})
    assert [(f.ts_event, f.quantity) for f in s.fills] == [(T0 + 6 * MS, 50)]
    assert _resting(bt) == [("s-1", px("100.00"), 50, 0)]


def test_a_snapshot_showing_more_at_our_price_does_not_push_us_back() -> None:
    """Shares that arrived during a gap arrived after our order: a resync showing 900 where 500 were ahead leaves
    500 ahead, so a 600-share print reaches us."""
    tape = [
        BOOK,
        snapshot(T0 + 5 * MS, bids=[("100.00", 900), ("99.99", 800)], asks=[("100.01", 300)]),
        trade(T0 + 6 * MS, "100.00", 600, Aggressor.SELL),
    ]
    _, s = run(tape, {T0 + 1 * MS: lambda s: s.buy(SYM, 100, px("100.00"), time_in_force=TimeInForce.GTC)})
    assert [(f.ts_event, f.quantity) for f in s.fills] == [(T0 + 6 * MS, 100)]
