"""Bracket, OCO and trailing-stop orders on hand-built L2 tapes, through risk and the simulated exchange."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.backtest.engine import Backtest
from tapeflow.config import SyntheticConfig
from tapeflow.data.synthetic import SyntheticMarket
from tapeflow.engine.kernel import COMPILED_AVAILABLE, Kernel
from tapeflow.engine.recorder import EventLog
from tapeflow.execution.contingent import Leg, LegState, LegStatus, OrderEmulator
from tapeflow.model import (
    Aggressor,
    Bar,
    Event,
    OrderCancelled,
    OrderType,
    Quote,
    RiskRejected,
    Side,
    SubmitOrder,
    TimeInForce,
)
from tapeflow.model.errors import ConfigError
from tapeflow.model.orders import ContingentUpdate, OrderExpired, OrderFilled, OrderRejected
from tapeflow.risk.config import RiskConfig
from tapeflow.risk.rules import Violation
from tapeflow.strategy.base import Strategy
from tapeflow.venues.sim.latency import uniform_latency

from ..backtest.scenario import MS, SYM, T0, Scripted, delta, px, run, snapshot, trade

BOOK = snapshot(T0, bids=[("100.00", 500), ("99.99", 800)], asks=[("100.01", 300), ("100.02", 400)])


class Recorder:
    """Every command and report of the run, in dispatch order (commands show what reached risk)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def attach(self, kernel: Any) -> None:
        kernel.subscribe(Event, self.events.append)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    def submits(self) -> list[SubmitOrder]:
        return [e for e in self.events if isinstance(e, SubmitOrder)]


def go(
    tape: list[Event], actions: dict[int, Callable[[Scripted], Any]], **kwargs: Any
) -> tuple[Backtest, Scripted, Recorder]:
    rec = Recorder()
    bt, s = run(tape, actions, extra=[rec], **kwargs)
    return bt, s, rec


def updates(s: Scripted, cid: str) -> list[str]:
    return [r.status for r in s.reports if isinstance(r, ContingentUpdate) and r.client_order_id == cid]


def kinds(s: Scripted, cid: str) -> list[str]:
    return [type(r).__name__ for r in s.reports if r.client_order_id == cid]  # type: ignore[attr-defined]


def position(bt: Backtest) -> int:
    return int(bt.portfolio.position(SYM).quantity)


def buy_bracket(s: Scripted, quantity: int = 100, price: str = "100.01", **kw: Any) -> None:
    s.ids = s.bracket(  # type: ignore[attr-defined]
        SYM, Side.BUY, quantity, price=px(price), take_profit=px("100.50"), stop_loss=px("99.50"), **kw
    )


# -- bracket ------------------------------------------------------------------------------------------------------


def test_bracket_entry_fill_activates_take_profit_at_the_venue_and_arms_the_stop() -> None:
    bt, s, rec = go([BOOK], {T0 + MS: buy_bracket})
    entry, tp, sl = s.ids  # type: ignore[attr-defined]
    assert kinds(s, entry) == ["OrderAccepted", "OrderFilled"]
    assert [(o.client_order_id, o.side, o.order_type, o.quantity, o.price) for o in rec.submits()] == [
        (entry, Side.BUY, OrderType.LIMIT, 100, px("100.01")),
        (tp, Side.SELL, OrderType.LIMIT, 100, px("100.50")),  # the stop is not at the venue: risk sees one sell
    ]
    assert [o.client_order_id for o in bt.exchange.resting(SYM)] == [tp]
    leg = s.contingent(sl)
    assert leg is not None and leg.status is LegStatus.ARMED and leg.quantity == 100 and leg.stop == px("99.50")
    assert updates(s, sl) == ["ARMED"]


def test_bracket_take_profit_fill_cancels_the_stop_which_then_never_fires() -> None:
    tape = [BOOK, trade(T0 + 5 * MS, "100.55", 200, Aggressor.BUY), delta(T0 + 6 * MS, Side.BUY, "100.00", 0)]
    tape.append(delta(T0 + 7 * MS, Side.BUY, "99.99", 0))  # the bid is gone below the stop: nothing may sell
    bt, s, rec = go(tape, {T0 + MS: buy_bracket})
    _, tp, sl = s.ids  # type: ignore[attr-defined]
    assert [(f.price, f.quantity) for f in s.fills if f.client_order_id == tp] == [(px("100.50"), 100)]
    assert updates(s, sl) == ["ARMED", "CANCELLED"]
    assert [o.client_order_id for o in rec.submits() if o.client_order_id == sl] == []
    assert position(bt) == 0


def test_bracket_stop_gapped_through_cancels_take_profit_then_sells_at_the_market_not_the_stop() -> None:
    tape = [BOOK, delta(T0 + 5 * MS, Side.BUY, "100.00", 0), delta(T0 + 5 * MS, Side.BUY, "99.99", 0)]
    tape.append(delta(T0 + 5 * MS, Side.BUY, "99.20", 900))  # the bid gaps from 100.00 to 99.20, through 99.50
    bt, s, _ = go(tape, {T0 + MS: buy_bracket}, latency=_latency())
    _, tp, sl = s.ids  # type: ignore[attr-defined]
    assert updates(s, sl) == ["ARMED", "TRIGGERED"]
    assert kinds(s, tp) == ["OrderAccepted", "OrderCancelled"]
    assert [(f.price, f.quantity) for f in s.fills if f.client_order_id == sl] == [(px("99.20"), 100)]
    # the market order left only after the venue confirmed the take-profit's cancel: no sale of shares twice
    cancelled = next(r for r in s.reports if isinstance(r, OrderCancelled) and r.client_order_id == tp)
    sl_fill = next(f for f in s.fills if f.client_order_id == sl)
    assert sl_fill.ts_event > cancelled.ts_event
    assert position(bt) == 0


def test_bracket_entry_cancelled_unfilled_never_activates_its_children() -> None:
    def cancel_entry(s: Scripted) -> None:
        s.cancel(s.ids.entry, SYM)  # type: ignore[attr-defined]

    bt, s, rec = go([BOOK], {T0 + MS: lambda s: buy_bracket(s, price="99.00"), T0 + 2 * MS: cancel_entry})
    entry, tp, sl = s.ids  # type: ignore[attr-defined]
    assert kinds(s, entry) == ["OrderAccepted", "OrderCancelled"]
    assert [o.client_order_id for o in rec.submits()] == [entry]
    assert updates(s, sl) == ["CANCELLED"] and updates(s, tp) == ["CANCELLED"]
    assert bt.exchange.resting(SYM) == []
    group = s.emulator.group(entry)
    assert group is not None and not group.is_open


def test_cancel_all_ends_held_children_too_and_a_later_entry_end_does_not_revive_them() -> None:
    counts: list[int] = []
    actions = {
        T0 + MS: lambda s: buy_bracket(s, 500),  # 300 fill, 200 work; children wait
        T0 + 2 * MS: lambda s: counts.append(s.cancel_all(SYM)),
    }
    bt, s, rec = go([BOOK], actions)
    entry, tp, sl = s.ids  # type: ignore[attr-defined]
    assert counts == [3]  # the entry at the venue and both waiting children
    assert kinds(s, entry)[-1] == "OrderCancelled"
    assert updates(s, tp) == ["CANCELLED"] and updates(s, sl) == ["CANCELLED"]
    assert [o.client_order_id for o in rec.submits()] == [entry]
    assert position(bt) == 300


def test_bracket_partially_filled_entry_sizes_both_children_to_the_filled_quantity() -> None:
    """Rule: children activate when the entry is done (here an IOC that filled 300 of 500), sized to its fills."""
    _, s, rec = go([BOOK], {T0 + MS: lambda s: buy_bracket(s, 500, time_in_force=TimeInForce.IOC)})
    entry, tp, sl = s.ids  # type: ignore[attr-defined]
    assert kinds(s, entry) == ["OrderAccepted", "OrderFilled", "OrderCancelled"]
    assert [o.quantity for o in rec.submits() if o.client_order_id == tp] == [300]
    leg = s.contingent(sl)
    assert leg is not None and leg.quantity == 300 and leg.status is LegStatus.ARMED


def test_bracket_children_wait_while_a_partially_filled_entry_still_works() -> None:
    def check(s: Scripted) -> None:
        leg = s.contingent(s.ids.stop_loss)  # type: ignore[attr-defined]
        assert leg is not None
        s.seen = (leg.status, leg.quantity)  # type: ignore[attr-defined]
        s.cancel(s.ids.entry, SYM)  # type: ignore[attr-defined]

    _, s, rec = go([BOOK], {T0 + MS: lambda s: buy_bracket(s, 500), T0 + 2 * MS: check})
    assert s.seen == (LegStatus.WAITING, 500)  # type: ignore[attr-defined]
    assert [o.quantity for o in rec.submits() if o.client_order_id == s.ids.take_profit] == [300]  # type: ignore[attr-defined]


def test_bracket_take_profit_partial_fill_shrinks_the_stop_to_what_is_left() -> None:
    tape = [BOOK, trade(T0 + 5 * MS, "100.50", 40, Aggressor.BUY), delta(T0 + 6 * MS, Side.BUY, "100.00", 0)]
    tape.append(delta(T0 + 6 * MS, Side.BUY, "99.99", 0))
    tape.append(delta(T0 + 6 * MS, Side.BUY, "99.40", 900))
    bt, s, _ = go(tape, {T0 + MS: buy_bracket})
    _, tp, sl = s.ids  # type: ignore[attr-defined]
    assert [f.quantity for f in s.fills if f.client_order_id == tp] == [40]
    assert [(f.price, f.quantity) for f in s.fills if f.client_order_id == sl] == [(px("99.40"), 60)]
    assert position(bt) == 0


def test_modifying_a_held_stop_moves_it_without_reaching_the_venue() -> None:
    def to_break_even(s: Scripted) -> None:
        s.modify(s.ids.stop_loss, SYM, 100, stop_price=px("100.01"))  # type: ignore[attr-defined]

    tape = [BOOK, delta(T0 + 5 * MS, Side.BUY, "100.00", 0)]  # best bid 99.99: through the new stop, not the old
    bt, s, rec = go(tape, {T0 + MS: buy_bracket, T0 + 2 * MS: to_break_even})
    _, tp, sl = s.ids  # type: ignore[attr-defined]
    assert updates(s, sl) == ["ARMED", "UPDATED", "TRIGGERED"]
    assert kinds(s, tp) == ["OrderAccepted", "OrderCancelled"]
    assert not any(type(e).__name__ == "ModifyOrder" for e in rec.events)
    assert [(f.price, f.quantity) for f in s.fills if f.client_order_id == sl] == [(px("99.99"), 100)]
    assert position(bt) == 0


# -- OCO ----------------------------------------------------------------------------------------------------------


def test_oco_a_partial_fill_of_one_limit_leg_cancels_the_other_at_the_venue_once() -> None:
    tape = [BOOK, trade(T0 + 5 * MS, "100.40", 30, Aggressor.BUY), trade(T0 + 5 * MS, "100.40", 30, Aggressor.BUY)]

    def place(s: Scripted) -> None:
        s.ids = s.oco(  # type: ignore[attr-defined]
            SYM,
            Leg(side=Side.SELL, quantity=100, price=px("100.40")),
            Leg(side=Side.BUY, quantity=100, price=px("99.60")),
        )

    _, s, _ = go(tape, {T0 + MS: place})
    sell, buy = s.ids  # type: ignore[attr-defined]
    assert kinds(s, sell) == ["OrderAccepted", "OrderFilled", "OrderFilled"]  # 60 of 100: working for the rest
    assert kinds(s, buy) == ["OrderAccepted", "OrderCancelled"]  # one cancel: no CancelRejected for a second


def test_oco_limit_fill_cancels_the_emulated_stop_leg() -> None:
    tape = [BOOK, trade(T0 + 5 * MS, "100.45", 10, Aggressor.BUY), delta(T0 + 6 * MS, Side.BUY, "100.00", 0)]
    tape.append(delta(T0 + 6 * MS, Side.BUY, "99.99", 0))

    def place(s: Scripted) -> None:
        s.ids = s.oco(  # type: ignore[attr-defined]
            SYM,
            Leg(side=Side.SELL, quantity=100, price=px("100.40")),
            Leg(side=Side.SELL, quantity=100, stop_price=px("99.90")),
        )

    _, s, rec = go(tape, {T0 + MS: place})
    limit, stop = s.ids  # type: ignore[attr-defined]
    assert updates(s, stop) == ["ARMED", "CANCELLED"]
    assert [o.client_order_id for o in rec.submits()] == [limit]


def test_oco_stop_leg_triggering_first_cancels_the_limit_leg_then_goes_out() -> None:
    tape = [BOOK, delta(T0 + 5 * MS, Side.BUY, "100.00", 0)]

    def place(s: Scripted) -> None:
        s.ids = s.oco(  # type: ignore[attr-defined]
            SYM,
            Leg(side=Side.SELL, quantity=100, price=px("100.40")),
            Leg(side=Side.SELL, quantity=100, stop_price=px("99.99")),
        )

    _, s, _ = go(tape, {T0 + MS: place})
    limit, stop = s.ids  # type: ignore[attr-defined]
    assert kinds(s, limit) == ["OrderAccepted", "OrderCancelled"]
    assert [(f.price, f.quantity) for f in s.fills if f.client_order_id == stop] == [(px("99.99"), 100)]


# -- trailing stop ------------------------------------------------------------------------------------------------


def test_trailing_sell_stop_follows_the_bid_up_never_back_and_gaps_fill_at_the_market() -> None:
    tape = [
        BOOK,
        delta(T0 + 2 * MS, Side.BUY, "100.20", 500),  # best bid up: the stop moves to 100.10
        delta(T0 + 3 * MS, Side.BUY, "100.15", 300),
        delta(T0 + 4 * MS, Side.BUY, "100.20", 0),  # best bid back to 100.15: the stop stays at 100.10
        delta(T0 + 6 * MS, Side.BUY, "100.15", 0),  # best bid 100.00, through the stop: sells at 100.00
    ]
    stops: list[int] = []

    def look(s: Scripted) -> None:
        leg = s.contingent(s.cid)  # type: ignore[attr-defined]
        assert leg is not None
        stops.append(leg.stop)

    def place(s: Scripted) -> None:
        s.cid = s.trailing_stop(SYM, Side.SELL, 100, offset=px("0.10"))  # type: ignore[attr-defined]

    actions = {T0 + MS: place, T0 + MS + 1: look, T0 + 2 * MS + 1: look, T0 + 5 * MS: look}
    _, s, _ = go(tape, actions)
    assert stops == [px("99.90"), px("100.10"), px("100.10")]
    assert updates(s, s.cid) == ["ARMED", "TRIGGERED"]  # type: ignore[attr-defined]
    assert [(f.price, f.quantity) for f in s.fills if f.client_order_id == s.cid] == [(px("100.00"), 100)]  # type: ignore[attr-defined]


def test_trailing_buy_stop_by_percent_follows_the_ask_down_and_triggers_on_a_print() -> None:
    tape = [
        BOOK,
        delta(T0 + 2 * MS, Side.SELL, "99.50", 100),  # best ask 99.50: stop 100.01 x 1.01 -> 99.50 x 1.01 = 100.495
        trade(T0 + 3 * MS, "100.50", 10, Aggressor.BUY),  # a print at or above the stop triggers it
    ]

    def place(s: Scripted) -> None:
        s.cid = s.trailing_stop(SYM, Side.BUY, 50, bps=100)  # type: ignore[attr-defined]

    _, s, rec = go(tape, {T0 + MS: place})
    ups = [r for r in s.reports if isinstance(r, ContingentUpdate)]
    assert [(u.status, u.stop_price) for u in ups] == [("ARMED", 1_010_101), ("TRIGGERED", 1_004_950)]
    assert [(o.order_type, o.quantity) for o in rec.submits()] == [(OrderType.MARKET, 50)]
    assert [f.price for f in s.fills] == [px("99.50")]


def test_trailing_stop_on_bars_checks_the_low_before_the_high_moves_the_stop() -> None:
    def bar(ts: int, o: str, h: str, lo: str, c: str) -> Bar:
        return Bar(ts_event=ts, ts_init=ts, symbol=SYM, open=px(o), high=px(h), low=px(lo), close=px(c), volume=1_000)

    tape: list[Event] = [
        bar(T0, "100.00", "100.00", "100.00", "100.00"),
        bar(T0 + 60_000 * MS, "100.00", "102.00", "99.05", "101.00"),  # low 99.05 > stop 99.00; high moves it to 101
        bar(T0 + 120_000 * MS, "101.00", "101.50", "100.90", "101.20"),  # low 100.90 <= 101.00: triggers
        bar(T0 + 180_000 * MS, "100.70", "100.80", "100.60", "100.70"),  # the market order fills at this open
    ]

    def place(s: Scripted) -> None:
        s.cid = s.trailing_stop(SYM, Side.SELL, 10, offset=px("1.00"), stop_price=px("99.00"))  # type: ignore[attr-defined]

    _, s, _ = go(tape, {T0 + 1: place}, level="L1")
    assert [(f.price, f.ts_event) for f in s.fills] == [(px("100.70"), T0 + 180_000 * MS)]


@settings(max_examples=60, deadline=None)
@given(
    bids=st.lists(st.integers(min_value=9_000, max_value=11_000), min_size=1, max_size=40),
    offset=st.integers(min_value=1, max_value=500),
)
def test_trailing_sell_stop_is_the_best_bid_so_far_less_the_offset_until_the_first_bid_at_or_below_it(
    bids: list[int], offset: int
) -> None:
    leg = LegState("x", Leg(side=Side.SELL, quantity=1, trail_offset=offset), group=None)  # type: ignore[arg-type]
    best = 0
    for i, bid in enumerate(bids):
        if i and leg.reached(bid):
            assert bid <= best - offset  # the first bid at or below the stop, never earlier
            return
        assert i == 0 or bid > best - offset
        leg.follow(bid)
        best = max(best, bid)
        assert leg.stop == best - offset


# -- risk ---------------------------------------------------------------------------------------------------------


class RefuseSells:
    """A hand-made rule refusing sells of one order type: to see a child's refusal reach the strategy."""

    name = "no_sells"
    stage = "order"

    def __init__(self, order_type: OrderType) -> None:
        self.order_type = order_type

    def check(self, command: SubmitOrder) -> Violation | None:
        if command.side is Side.SELL and command.order_type is self.order_type:
            return Violation(reason="sells refused for the test", limit=0, value=command.quantity)
        return None


GAP = [
    BOOK,
    delta(T0 + 5 * MS, Side.BUY, "100.00", 0),
    delta(T0 + 5 * MS, Side.BUY, "99.99", 0),
    delta(T0 + 5 * MS, Side.BUY, "99.40", 900),
]
"""The bid falls from 100.00 to 99.40, through a 99.50 stop."""


def test_a_take_profit_refused_by_risk_reaches_the_strategy_and_the_stop_still_protects() -> None:
    bt, s, _ = go(GAP, {T0 + MS: buy_bracket}, risk_rules=[RefuseSells(OrderType.LIMIT)])
    _, tp, sl = s.ids  # type: ignore[attr-defined]
    refused = [r for r in s.reports if isinstance(r, RiskRejected)]
    assert [(r.client_order_id, r.rule) for r in refused] == [(tp, "no_sells")]
    assert [(f.price, f.quantity) for f in s.fills if f.client_order_id == sl] == [(px("99.40"), 100)]
    assert position(bt) == 0


def test_a_triggered_stop_refused_by_risk_is_reported_and_leaves_the_group_closed_and_the_position_held() -> None:
    bt, s, _ = go(GAP, {T0 + MS: buy_bracket}, risk_rules=[RefuseSells(OrderType.MARKET)])
    entry, tp, sl = s.ids  # type: ignore[attr-defined]
    assert kinds(s, sl)[-1] == "RiskRejected"
    assert kinds(s, tp) == ["OrderAccepted", "OrderCancelled"]
    leg = s.contingent(sl)
    assert leg is not None and leg.status is LegStatus.DONE
    group = s.emulator.group(entry)
    assert group is not None and not group.is_open
    assert position(bt) == 100
    assert list(bt.execution.open_orders(SYM)) == []


def test_a_bracket_entry_refused_by_risk_never_activates_its_children() -> None:
    def place(s: Scripted) -> None:
        s.ids = s.bracket(SYM, Side.SELL, 100, price=px("100.00"), stop_loss=px("100.50"))  # type: ignore[attr-defined]

    _, s, rec = go(GAP, {T0 + MS: place}, risk_rules=[RefuseSells(OrderType.LIMIT)])
    entry, tp, sl = s.ids  # type: ignore[attr-defined]
    assert tp == "" and kinds(s, entry) == ["RiskRejected"]
    assert updates(s, sl) == ["CANCELLED"]
    assert [o.client_order_id for o in rec.submits()] == [entry]


def test_a_bracket_passes_the_default_risk_configuration_because_the_stop_is_held_until_it_triggers() -> None:
    bt, s, _ = go(GAP, {T0 + MS: buy_bracket}, risk=RiskConfig(), level="L2")
    assert [r for r in s.reports if isinstance(r, RiskRejected)] == []
    assert [(f.client_order_id, f.price) for f in s.fills][-1] == (s.ids.stop_loss, px("99.40"))  # type: ignore[attr-defined]
    assert position(bt) == 0


# -- errors and determinism ---------------------------------------------------------------------------------------


def test_a_bracket_with_take_profit_below_the_stop_for_a_buy_is_refused_naming_the_field() -> None:
    def bad(s: Scripted) -> None:
        s.bracket(SYM, Side.BUY, 100, take_profit=px("99.00"), stop_loss=px("100.00"))

    with pytest.raises(ConfigError, match="take_profit 990000 is not on the profit side of stop_loss 1000000"):
        run([BOOK], {T0 + MS: bad})


def test_a_leg_with_both_trail_kinds_is_refused() -> None:
    with pytest.raises(ConfigError, match="give one of trail_offset"):
        Leg(side=Side.SELL, quantity=1, trail_offset=5, trail_bps=5).check("oco first leg")


def _digest() -> tuple[str, int]:
    tape = [BOOK, trade(T0 + 5 * MS, "100.50", 40, Aggressor.BUY), delta(T0 + 6 * MS, Side.BUY, "100.00", 0)]
    tape.append(delta(T0 + 7 * MS, Side.BUY, "100.00", 300))
    log = EventLog(keep=False)

    def trail(s: Scripted) -> None:
        s.trailing_stop(SYM, Side.SELL, 20, bps=5)

    run(tape, {T0 + MS: buy_bracket, T0 + 2 * MS: trail}, extra=[log], latency=_latency())
    return log.digest(), log.count


def test_the_same_contingent_run_twice_gives_one_event_log_digest() -> None:
    first, second = _digest(), _digest()
    assert first == second
    assert first[1] > 10


class _BracketTrader(Strategy):
    """Flat and nothing open: buy 100 at the market with a take-profit 3 cents up and a trailing stop 5 cents."""

    def __init__(self, strategy_id: str) -> None:
        super().__init__(strategy_id)
        self.group = ""
        self.contingent_updates: list[str] = []

    def on_quote(self, q: Quote) -> None:
        if q.symbol != "AAPL" or q.bid_price == 0 or q.ask_price == 0:
            return
        if self.group:
            group = self.emulator.group(self.group)
            if (group is not None and group.is_open) or self.open_orders(q.symbol):
                return
        ids = self.bracket(q.symbol, Side.BUY, 100, take_profit=q.ask_price + 300, trail_offset=500)
        self.group = ids.entry

    def on_contingent(self, event: ContingentUpdate) -> None:
        self.contingent_updates.append(event.status)


def _synthetic_digest() -> tuple[str, int, list[str]]:
    market = SyntheticMarket(SyntheticConfig(symbols=("AAPL",), seed=11, events_per_symbol=6_000))
    log = EventLog(keep=False)
    trader = _BracketTrader("b")
    bt = Backtest([trader], latency=uniform_latency(feed_ns=20_000, entry_ns=30_000), extra=[log])
    bt.run(market.sources())
    return log.digest(), bt.exchange.fills, trader.contingent_updates


def test_brackets_with_trailing_stops_on_a_synthetic_market_give_one_digest_run_after_run() -> None:
    first, second = _synthetic_digest(), _synthetic_digest()
    assert first == second
    _, fills, statuses = first
    assert fills > 10 and statuses.count("TRIGGERED") > 2 and statuses.count("CANCELLED") > 2  # both exits seen


def _latency() -> Any:
    from tapeflow.venues.sim.latency import FixedLatency

    return FixedLatency(
        insert_entry_ns=50_000, cancel_entry_ns=50_000, insert_response_ns=80_000, cancel_response_ns=80_000
    )


def _ungated_attach(self: OrderEmulator, kernel: Kernel) -> None:
    """The emulator's subscription before it was gated on its groups: every report, always (the reference)."""
    self._kernel = kernel
    for report in (OrderFilled, OrderCancelled, OrderExpired, OrderRejected, RiskRejected):
        kernel.subscribe(report, self.on_report)


def test_the_emulator_heard_only_once_it_holds_a_group_gives_the_event_log_of_hearing_every_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gated = _synthetic_digest()
    monkeypatch.setattr(OrderEmulator, "attach", _ungated_attach)
    assert _synthetic_digest() == gated


class _Counting(OrderEmulator):
    def __init__(self) -> None:
        super().__init__("s", lambda symbol: None)
        self.heard = 0

    def on_report(self, event: Event) -> None:
        self.heard += 1
        super().on_report(event)


@pytest.mark.parametrize("impl", ["python", "compiled"])
def test_an_emulator_without_a_bracket_or_oco_is_not_called_on_reports_and_is_once_it_holds_one(impl: str) -> None:
    if impl == "compiled" and not COMPILED_AVAILABLE:
        pytest.skip("compiled kernel not built")
    kernel = Kernel(impl=impl)  # type: ignore[arg-type]
    emulator = _Counting()
    emulator.attach(kernel)
    cancelled = OrderCancelled(
        ts_event=T0, ts_init=T0, strategy_id="s", client_order_id="s-1", symbol=SYM, cancelled_quantity=1, reason=""
    )
    kernel.emit(cancelled)
    kernel.finish()
    assert emulator.heard == 0
    emulator.oco(SYM, [("s-2", Leg(side=Side.SELL, quantity=1, price=px("100.05")))])
    kernel.emit(msgspec.structs.replace(cancelled, client_order_id="s-9"))
    kernel.finish()
    assert emulator.heard == 1
