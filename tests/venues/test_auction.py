"""OPG and CLS orders on hand-built tapes and on a real TAQ day: held off the book, filled at the tape's cross."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tapeflow.backtest.engine import Backtest
from tapeflow.data.taq import TaqReader
from tapeflow.model import Aggressor, Event, OrderType, Side, TimeInForce, Trade
from tapeflow.model.enums import LiquiditySide
from tapeflow.model.orders import OrderAccepted, OrderCancelled, OrderFilled, OrderRejected
from tapeflow.venues.sim.exchange import SimExchangeConfig

from ..backtest.scenario import SYM, T0, Scripted, px, run, snapshot

MIN = 60_000_000_000
OPEN = T0 - 30 * MIN  # 09:30 New York
CLOSE = T0 + 6 * 60 * MIN  # 16:00 New York
FIXED = SimExchangeConfig(calendar="fixed")


def print_(ts: int, price: str, size: int, *conditions: str) -> Trade:
    return Trade(
        ts_event=ts, ts_init=ts, symbol=SYM, price=px(price), size=size, aggressor=Aggressor.BUY, conditions=conditions
    )


def auction(tif: TimeInForce, side: Side, quantity: int, price: str | None = None) -> Any:
    def act(s: Scripted) -> None:
        if price is None:
            s.submit(SYM, side, quantity, order_type=OrderType.MARKET, time_in_force=tif)
        else:
            s.submit(SYM, side, quantity, price=px(price), time_in_force=tif)

    return act


def reports(s: Scripted, kind: type[Event]) -> list[Any]:
    return [r for r in s.reports if isinstance(r, kind)]


BOOK = snapshot(OPEN - 40 * MIN, bids=[("100.00", 500)], asks=[("100.10", 500)])


def test_opening_print_fills_held_market_orders_oldest_first_at_its_price_up_to_its_size() -> None:
    tape: list[Event] = [
        BOOK,
        print_(OPEN - 5 * MIN, "100.10", 900),  # pre-market print: not the cross, fills nothing
        print_(OPEN + 1_000, "100.05", 500, "OPENING_PRINT"),
        print_(OPEN + 2 * MIN, "100.20", 900),
    ]
    actions = {
        OPEN - 30 * MIN: auction(TimeInForce.OPG, Side.BUY, 300),
        OPEN - 20 * MIN: auction(TimeInForce.OPG, Side.BUY, 400),
    }
    bt, s = run(tape, actions, exchange=FIXED)
    assert len(reports(s, OrderAccepted)) == 2
    fills = reports(s, OrderFilled)
    assert [(f.client_order_id, f.price, f.quantity, f.ts_event) for f in fills] == [
        ("s-1", px("100.05"), 300, OPEN + 1_000),
        ("s-2", px("100.05"), 200, OPEN + 1_000),
    ]
    assert all(f.liquidity_side is LiquiditySide.TAKER for f in fills)
    [cancelled] = reports(s, OrderCancelled)
    assert (cancelled.client_order_id, cancelled.cancelled_quantity) == ("s-2", 200)
    assert cancelled.reason == "the OPG cross printed too few shares"
    assert bt.exchange.resting(SYM) == []


def test_a_limit_the_cross_price_does_not_allow_is_cancelled_at_the_cross_and_one_it_allows_fills() -> None:
    tape: list[Event] = [BOOK, print_(OPEN + 1_000, "100.05", 1_000, "OPENING_PRINT")]
    actions = {
        OPEN - 30 * MIN: auction(TimeInForce.OPG, Side.BUY, 100, "100.00"),  # buy limit below the cross: no
        OPEN - 20 * MIN: auction(TimeInForce.OPG, Side.SELL, 100, "100.00"),  # sell limit below the cross: yes
    }
    _, s = run(tape, actions, exchange=FIXED)
    [cancelled] = reports(s, OrderCancelled)
    assert (cancelled.client_order_id, cancelled.ts_event) == ("s-1", OPEN + 1_000)
    assert cancelled.reason == "limit does not allow the OPG cross price"
    assert [(f.client_order_id, f.price, f.quantity) for f in reports(s, OrderFilled)] == [("s-2", px("100.05"), 100)]


def test_an_opg_order_arriving_after_the_open_is_rejected_as_too_late() -> None:
    tape: list[Event] = [BOOK, print_(OPEN + 1_000, "100.05", 1_000, "OPENING_PRINT"), print_(T0, "100.05", 10)]
    _, s = run(tape, {OPEN + 2 * MIN: auction(TimeInForce.OPG, Side.BUY, 100)}, exchange=FIXED)
    [rejected] = reports(s, OrderRejected)
    assert rejected.reason == "OPG order arrived after the open: too late for the opening auction"
    assert reports(s, OrderFilled) == []


def test_an_opg_order_without_an_opening_print_is_cancelled_fifteen_minutes_after_the_open() -> None:
    tape: list[Event] = [BOOK, print_(OPEN + 1_000, "100.05", 1_000), print_(T0, "100.05", 10)]
    _, s = run(tape, {OPEN - 10 * MIN: auction(TimeInForce.OPG, Side.BUY, 100)}, exchange=FIXED)
    [cancelled] = reports(s, OrderCancelled)
    assert (cancelled.reason, cancelled.ts_event) == ("no opening cross on the tape", OPEN + 15 * MIN)
    assert reports(s, OrderFilled) == []


def test_a_cls_order_fills_at_the_closing_print_and_ignores_the_opening_print() -> None:
    tape: list[Event] = [
        BOOK,
        print_(OPEN + 1_000, "100.05", 1_000, "OPENING_PRINT"),
        print_(CLOSE + 200_000_000, "101.00", 5_000, "CLOSING_PRINT", "CROSS"),
    ]
    _, s = run(tape, {OPEN - 10 * MIN: auction(TimeInForce.CLS, Side.SELL, 100)}, exchange=FIXED)
    [fill] = reports(s, OrderFilled)
    assert (fill.price, fill.quantity, fill.ts_event) == (px("101.00"), 100, CLOSE + 200_000_000)
    assert reports(s, OrderCancelled) == []


def test_a_cls_order_is_cancelled_when_the_tape_has_no_closing_print() -> None:
    tape: list[Event] = [BOOK, print_(CLOSE - MIN, "100.05", 100), print_(CLOSE + 10 * MIN, "100.05", 100)]
    _, s = run(tape, {T0: auction(TimeInForce.CLS, Side.BUY, 100)}, exchange=FIXED)
    [cancelled] = reports(s, OrderCancelled)
    assert (cancelled.reason, cancelled.ts_event) == ("no closing cross on the tape", CLOSE + 5 * MIN)


def test_a_cls_order_arriving_after_the_close_or_a_stop_auction_order_is_rejected() -> None:
    tape: list[Event] = [BOOK, print_(CLOSE + MIN, "100.05", 100)]

    def stop(s: Scripted) -> None:
        s.submit(SYM, Side.BUY, 100, stop_price=px("101.00"), order_type=OrderType.STOP, time_in_force=TimeInForce.CLS)

    _, s = run(tape, {T0: stop, CLOSE + 1: auction(TimeInForce.CLS, Side.BUY, 100)}, exchange=FIXED)
    assert [r.reason for r in reports(s, OrderRejected)] == [
        "CLS orders must be market or limit, not STOP",
        "CLS order arrived after the close: too late for the closing auction",
    ]


def test_a_held_order_cancelled_by_request_does_not_join_the_cross() -> None:
    tape: list[Event] = [BOOK, print_(OPEN + 1_000, "100.05", 1_000, "OPENING_PRINT")]
    actions = {
        OPEN - 20 * MIN: auction(TimeInForce.OPG, Side.BUY, 100),
        OPEN - 10 * MIN: lambda s: s.cancel("s-1", SYM),
    }
    _, s = run(tape, actions, exchange=FIXED)
    [cancelled] = reports(s, OrderCancelled)
    assert cancelled.reason == "cancel request"
    assert reports(s, OrderFilled) == []


def test_real_taq_day_opg_and_cls_fill_at_the_tapes_opening_and_closing_prints(data_dir: Path) -> None:
    path = data_dir / "lean-algoseek-us-equity" / "tick" / "bac" / "20131007_trade.zip"
    if not path.exists():
        pytest.skip(f"no TAQ data at {path}")
    events = list(TaqReader(path))
    crosses = {
        kind: next(e for e in events if isinstance(e, Trade) and kind in e.conditions)
        for kind in ("OPENING_PRINT", "CLOSING_PRINT")
    }
    start = events[0].ts_init

    def orders(s: Scripted) -> None:
        s.submit("BAC", Side.BUY, 200, order_type=OrderType.MARKET, time_in_force=TimeInForce.OPG)
        s.submit("BAC", Side.SELL, 200, price=px("13.50"), time_in_force=TimeInForce.CLS)

    strategy = Scripted({start: orders})
    bt = Backtest([strategy], level="L1")
    bt.run([events], until=events[-1].ts_init + 1)
    fills = [(f.price, f.quantity, f.ts_event) for f in reports(strategy, OrderFilled)]
    assert fills == [(c.price, 200, c.ts_event) for c in crosses.values()]
    assert crosses["OPENING_PRINT"].price == px("13.90") and crosses["CLOSING_PRINT"].price == px("13.80")
