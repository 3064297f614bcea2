"""The simulated exchange's order path (issue 19) decides as the code it replaced, event for event.

``_Reference`` is the exchange's order path as it was before (kept here as the reference): a dispatch step on
arrival, every check called for every order, ``max`` over the latency model's answers asked per report, the fill
event built with all sixteen fields and the close asking every place an order can be. A random script of orders
(market, limit, stop and stop-limit; DAY, GTC, IOC and FOK; cancels and modifies of the orders sent, closed or not)
over random bars across a close, under random fixed or jittered latency, with fees or without, must give the same
events byte for byte (the kernel's whole event log), the same results and the same exchange counters, through the
exchange's Python methods (``TAPEFLOW_PURE_PYTHON=1``) and through its compiled bar order path
(``CompiledExchange``, ``_exchange_core.pyx``) alike.
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tapeflow.node.assembly as assembly
from tapeflow.backtest.engine import Backtest
from tapeflow.config import PURE_PYTHON_ENV
from tapeflow.engine.recorder import EventLog
from tapeflow.model.codec import to_msgpack
from tapeflow.model.enums import LiquiditySide, OrderType, Side, TimeInForce
from tapeflow.model.events import Event
from tapeflow.model.market import Bar, Trade
from tapeflow.model.orders import (
    CancelOrder,
    CancelRejected,
    OrderAccepted,
    OrderFilled,
    OrderRejected,
    SubmitOrder,
)
from tapeflow.model.prices import NO_PRICE
from tapeflow.strategy.base import Strategy
from tapeflow.venues.sim.auction import AUCTION_TIFS, auction_refusal
from tapeflow.venues.sim.exchange import COMPILED_AVAILABLE, CompiledExchange, SimulatedExchange
from tapeflow.venues.sim.expiry import ny_date, price_refusal, session_refusal
from tapeflow.venues.sim.fees import FeeBreakdown, FeeSchedule
from tapeflow.venues.sim.latency import FixedLatency, JitterLatency, LatencyModel, OrderAction, uniform_latency
from tapeflow.venues.sim.orders import SimOrder

_ZERO_FEES = FeeBreakdown()
MINUTE = 60_000_000_000
NY = datetime.timezone(datetime.timedelta(hours=-5))  # January: EST
IMPLS = ["python", "compiled"] if COMPILED_AVAILABLE else ["python"]
"""How the exchange the node builds runs its order path, chosen by ``TAPEFLOW_PURE_PYTHON`` as a run chooses it."""


class _Reference(SimulatedExchange):
    """The order path before issue 19's rewrite (its code, verbatim but for names)."""

    def send(self, command: Any) -> None:
        action = (
            OrderAction.INSERT
            if isinstance(command, SubmitOrder)
            else OrderAction.CANCEL
            if isinstance(command, CancelOrder)
            else OrderAction.MODIFY
        )
        latency = self._latency
        arrival = max(command.ts_init + latency.entry_delay(action), self._last_arrival)
        self._last_arrival = arrival
        self.kernel.call_at(arrival + latency.feed_delay(), self._arrive, (command, arrival))

    def _arrive(self, item: tuple[Any, int]) -> None:
        command, at = item
        if isinstance(command, SubmitOrder):
            self._old_submit(command, at)
        elif isinstance(command, CancelOrder):
            self._on_cancel((command, at))
        else:
            self._on_modify((command, at))

    def _stamp(self, at: int, action: OrderAction) -> int:
        latency = self._latency
        delay = max(latency.response_delay(action), latency.feed_delay())
        ts_init = max(at + delay, self.kernel.now, self._last_report)
        self._last_report = ts_init
        return ts_init

    def _old_submit(self, cmd: SubmitOrder, at: int) -> None:
        st = self._matcher.state(cmd.symbol)
        cid = cmd.client_order_id
        tif = cmd.time_in_force
        reason = price_refusal(cmd.price, cmd.order_type, cmd.stop_price)
        if reason is None and (cid in self._orders or cid in self._closed):
            reason = f"duplicate client order id {cid}"
        if reason is None:
            reason = session_refusal(cmd, st.halted) or (
                auction_refusal(cmd, at, self._expiry.session_for) if tif in AUCTION_TIFS else None
            )
        if reason is not None:
            self.rejects += 1
            self._closed.add(cmd.client_order_id)
            ids = {"strategy_id": cmd.strategy_id, "client_order_id": cmd.client_order_id, "symbol": cmd.symbol}
            self._report(OrderRejected, at, OrderAction.INSERT, reason=reason, **ids)
            return
        kernel = self.kernel
        self._seq += 1
        order = SimOrder.of(cmd, f"{self.name}-{self._seq}")
        self._orders[cid] = order
        kernel.emit(
            OrderAccepted(
                ts_event=at,
                ts_init=self._stamp(at, OrderAction.INSERT),
                venue=self.name,
                strategy_id=cmd.strategy_id,
                client_order_id=cid,
                symbol=cmd.symbol,
                venue_order_id=order.venue_order_id,
            )
        )
        if tif is TimeInForce.DAY:
            close_ns = self._expiry.close_to_schedule(at)
            if close_ns is not None:
                kernel.call_at(close_ns + self._latency.feed_delay(), self._expire_day, close_ns)
        elif tif in AUCTION_TIFS:
            deadline = self._auctions.hold(order, self._expiry.session_for(at))
            kernel.call_at(deadline + self._latency.feed_delay(), self._auctions.expire, deadline)
            return
        if order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
            st.stops.append(order)
            return
        self._matcher.incoming(order, st, at, OrderAction.INSERT)

    def _close(self, order: SimOrder) -> None:
        if not self._matcher.remove(order) and not self._auctions.discard(order):
            self._bars.discard(order)
        self._orders.pop(order.client_order_id, None)
        self._closed.add(order.client_order_id)

    def _fill_bar(self, order: SimOrder, price: int, at: int) -> None:
        self._fill(order, price, order.remaining, LiquiditySide.TAKER, at, OrderAction.INSERT)

    def _fill(
        self, order: SimOrder, price: int, qty: int, liquidity: LiquiditySide, at: int, action: OrderAction
    ) -> None:
        fees = _ZERO_FEES
        if self._fees is not None:
            fees = self._fees.fill_fees(
                trade_date=ny_date(at),
                venue=self.name,
                side=order.side,
                price=price,
                quantity=qty,
                liquidity=liquidity,
                order_quantity_filled_before=order.filled,
                order_commission_so_far=order.commission_so_far,
            )
        order.filled += qty
        order.commission_so_far += fees.commission
        self._trade_seq += 1
        self.fills += 1
        if order.remaining == 0:
            self._close(order)
        self.kernel.emit(
            OrderFilled(
                ts_event=at,
                ts_init=self._stamp(at, action),
                venue=self.name,
                strategy_id=order.strategy_id,
                client_order_id=order.client_order_id,
                symbol=order.symbol,
                side=order.side,
                price=price,
                quantity=qty,
                leaves_quantity=order.remaining,
                liquidity_side=liquidity,
                fee=fees.total,
                fee_components={k: v for k, v in msgspec.structs.asdict(fees).items() if v}
                if fees is not _ZERO_FEES
                else {},
                trade_id=f"{self.name}-T{self._trade_seq}",
                venue_order_id=order.venue_order_id,
                queue_ahead_at_arrival=order.ahead_at_arrival if liquidity is LiquiditySide.MAKER else -1,
            )
        )


Action = tuple[Any, ...]


class _Script(Strategy):
    """Plays ``script[i]`` on the i-th bar: new orders of every type and time in force, cancels and modifies of
    the orders it sent (some already closed)."""

    def __init__(self, script: list[list[Action]]) -> None:
        super().__init__("script")
        self.script = script
        self.sent: list[str] = []
        self.bars = 0

    def on_bar(self, bar: Bar) -> None:
        actions = self.script[self.bars] if self.bars < len(self.script) else []
        self.bars += 1
        for action in actions:
            kind = action[0]
            if kind == "order":
                _, side, order_type, tif, offset, quantity = action
                price = stop = NO_PRICE
                if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
                    price = bar.close + offset * 50  # an odd offset is off the tick grid: the venue refuses it
                if order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
                    stop = bar.close - offset * 100
                self.sent.append(
                    self.submit(
                        bar.symbol,
                        side,
                        quantity,
                        price=price,
                        order_type=order_type,
                        stop_price=stop,
                        time_in_force=tif,
                    )
                )
            elif kind == "cancel" and self.sent:
                self.cancel(self.sent[action[1] % len(self.sent)], bar.symbol)
            elif kind == "modify" and self.sent:
                _, k, quantity, offset = action
                self.modify(self.sent[k % len(self.sent)], bar.symbol, quantity, price=bar.close + offset * 100)


def _bars(symbol: str, moves: list[tuple[int, int, int]]) -> list[Event]:
    """One-minute bars from 15:40 New York on 2024-01-02, through the close and on into the next morning, each
    followed half a minute later by a print at its high or low (prints trigger stops; bars fill what waits)."""
    start = datetime.datetime(2024, 1, 2, 15, 40, tzinfo=NY)
    next_day = datetime.datetime(2024, 1, 3, 9, 31, tzinfo=NY)
    price, out = 1_000_000, []
    for i, (move, down, up) in enumerate(moves):
        when = start + datetime.timedelta(minutes=i) if i < 20 else next_day + datetime.timedelta(minutes=i - 20)
        ts = int(when.timestamp()) * 1_000_000_000
        o, c = price, max(10_000, price + move * 100)
        hi, lo = max(o, c) + up * 100, min(o, c) - down * 100
        out.append(Bar(ts_event=ts, ts_init=ts, symbol=symbol, open=o, high=hi, low=lo, close=c, volume=1_000))
        at = ts + MINUTE // 2
        out.append(Trade(ts_event=at, ts_init=at, symbol=symbol, price=hi if i % 2 else lo, size=100))
        price = c
    return out


def _run(
    exchange: type[SimulatedExchange],
    script: list[list[Action]],
    bars: list[Event],
    latency: Callable[[], LatencyModel],
    fees: bool,
    monkeypatch: pytest.MonkeyPatch,
    impl: str = "python",
) -> tuple[Any, ...]:
    """One backtest of ``script`` on the exchange class the node builds, ``exchange``; ``SimulatedExchange`` runs
    its Python methods (``impl="python"``: ``TAPEFLOW_PURE_PYTHON=1``) or the compiled path ("compiled")."""
    monkeypatch.setattr(assembly, "SimulatedExchange", exchange)
    monkeypatch.setenv(PURE_PYTHON_ENV, "1" if impl == "python" else "0")
    log = EventLog()
    bt = Backtest([_Script(script)], latency=latency(), fees=FeeSchedule() if fees else None, extra=[log])
    assert type(bt.exchange) is (CompiledExchange if exchange is SimulatedExchange and impl == "compiled" else exchange)
    bt.run([bars])
    records = [msgspec.structs.asdict(r) for r in bt.results.orders.values()]
    fills = [to_msgpack(f) for f in bt.results.fills]
    p = bt.portfolio
    return log.records, records, fills, bt.exchange.fills, bt.exchange.rejects, p.cash, p.fees, p.exposures()


_order = st.tuples(
    st.just("order"),
    st.sampled_from(list(Side)),
    st.sampled_from(list(OrderType)),
    st.sampled_from([TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]),
    st.integers(-3, 3),
    st.integers(1, 300),
)
_action = st.one_of(
    _order,
    _order,
    st.tuples(st.just("cancel"), st.integers(0, 30)),
    st.tuples(st.just("modify"), st.integers(0, 30), st.integers(1, 400), st.integers(-3, 3)),
)
_latency = st.one_of(
    st.just(lambda: FixedLatency()),
    st.builds(
        lambda feed, entry, extra: (
            lambda: FixedLatency(
                feed_ns=feed,
                insert_entry_ns=entry,
                cancel_entry_ns=entry // 3,
                modify_entry_ns=2 * entry,
                insert_response_ns=feed + extra,
                cancel_response_ns=feed,
                modify_response_ns=feed + 2 * extra,
            )
        ),
        st.integers(0, 5 * MINUTE),
        st.integers(0, 3 * MINUTE),
        st.integers(0, 2 * MINUTE),
    ),
    st.builds(
        lambda seed, jitter: (
            lambda: JitterLatency(uniform_latency(feed_ns=1_000, entry_ns=MINUTE // 2), jitter_ns=jitter, seed=seed)
        ),
        st.integers(0, 1_000),
        st.integers(0, 2 * MINUTE),
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    script=st.lists(st.lists(_action, max_size=3), min_size=1, max_size=40),
    moves=st.lists(st.tuples(st.integers(-20, 20), st.integers(0, 10), st.integers(0, 10)), min_size=40, max_size=40),
    latency=_latency,
    fees=st.booleans(),
)
def test_the_order_path_gives_the_events_results_and_counters_of_the_code_it_replaced(
    script: list[list[Action]],
    moves: list[tuple[int, int, int]],
    latency: Callable[[], LatencyModel],
    fees: bool,
) -> None:
    bars = _bars("AAPL", moves)
    with pytest.MonkeyPatch.context() as monkeypatch:
        old = _run(_Reference, script, bars, latency, fees, monkeypatch)
        for impl in IMPLS:
            assert _run(SimulatedExchange, script, bars, latency, fees, monkeypatch, impl) == old, impl


def test_the_script_reaches_every_report_and_both_fill_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """The property above is not vacuous: a fixed script fills, rejects, cancels, expires and modifies."""
    order = [("order", Side.BUY, t, tif, 2, 100) for t in OrderType for tif in (TimeInForce.DAY, TimeInForce.IOC)]
    off_grid = ("order", Side.SELL, OrderType.LIMIT, TimeInForce.DAY, 1, 100)
    far = ("order", Side.BUY, OrderType.STOP, TimeInForce.DAY, -200, 100)  # $2 over: no print reaches it, it expires
    # the stop (4) and the stop limit (6) of the first bar wait for a print: cancelled and modified
    script: list[list[Action]] = [[*order, off_grid, far], [("cancel", 4), ("modify", 6, 150, 2)], []] * 3
    moves = [(i % 7 - 3, 3, 3) for i in range(40)]
    for fees, impl in [(fees, impl) for fees in (False, True) for impl in IMPLS]:
        records, _, fills, exchange_fills, rejects, *_ = _run(
            SimulatedExchange, script, _bars("AAPL", moves), lambda: FixedLatency(), fees, monkeypatch, impl
        )
        kinds = {msgspec.msgpack.decode(r)[0] for r in records}
        reports = {"OrderAccepted", "OrderFilled", "OrderRejected", "OrderCancelled", "OrderUpdated", "OrderExpired"}
        assert reports <= kinds
        assert exchange_fills == len(fills) > 0 and rejects > 0


def test_a_bar_fill_holds_back_a_later_faster_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reports of one session reach the strategy in the order the venue sent them, a bar's fill included: a
    cancel that arrives just after the bar filled its order is refused, and that refusal, answered faster than a
    fill, is still stamped no earlier than the fill (``_fill_bar`` keeps the last report's time)."""
    script: list[list[Action]] = [[("order", Side.BUY, OrderType.MARKET, TimeInForce.DAY, 0, 100), ("cancel", 0)]]
    latency = FixedLatency(insert_response_ns=MINUTE // 2, cancel_entry_ns=MINUTE + 1_000_000_000)
    moves = [(1, 1, 1)] * 4
    for exchange, impl in [*((SimulatedExchange, impl) for impl in IMPLS), (_Reference, "python")]:
        records, *_ = _run(exchange, script, _bars("AAPL", moves), lambda: latency, False, monkeypatch, impl)
        reports = [msgspec.msgpack.decode(r) for r in records]
        kinds = [r[0] for r in reports]
        filled = msgspec.msgpack.decode(records[kinds.index("OrderFilled")], type=OrderFilled)
        refused = msgspec.msgpack.decode(records[kinds.index("CancelRejected")], type=CancelRejected)
        assert refused.ts_event > filled.ts_event  # the cancel came after the bar filled the order
        assert refused.ts_init == filled.ts_init == filled.ts_event + MINUTE // 2


@pytest.mark.skipif(not COMPILED_AVAILABLE, reason="the compiled exchange order path was not built")
def test_the_compiled_path_takes_a_bar_order_without_the_python_methods(monkeypatch: pytest.MonkeyPatch) -> None:
    """Market and limit orders on bars (DAY and GTC, fixed latency, no fees) are sent, accepted, parked and filled by
    the compiled path: no frame of the Python ``send``, ``_on_submit`` or ``_fill_bar`` (its fallback) runs, where
    the Python exchange runs one of each an order. The events are the reference's (the property above)."""
    methods = (SimulatedExchange.send, SimulatedExchange._on_submit, SimulatedExchange._fill_bar)
    codes = {method.__code__: method.__name__ for method in methods}
    script: list[list[Action]] = [
        [("order", side, kind, tif, 0, 100) for kind in (OrderType.MARKET, OrderType.LIMIT)]
        for side, tif in ((Side.BUY, TimeInForce.DAY), (Side.SELL, TimeInForce.GTC), (Side.BUY, TimeInForce.GTC))
    ]
    counts: dict[str, dict[str, int]] = {}
    for impl in IMPLS:
        seen: dict[str, int] = dict.fromkeys(codes.values(), 0)

        def profile(frame: Any, event: str, arg: Any, seen: dict[str, int] = seen) -> None:
            name = codes.get(frame.f_code) if event == "call" else None
            if name is not None:
                seen[name] += 1

        sys.setprofile(profile)
        try:
            bars = _bars("AAPL", [(1, 2, 2)] * 8)
            _, _, fills, *_ = _run(SimulatedExchange, script, bars, lambda: FixedLatency(), False, monkeypatch, impl)
        finally:
            sys.setprofile(None)
        assert len(fills) == 6
        counts[impl] = seen
    assert counts["python"] == {"send": 6, "_on_submit": 6, "_fill_bar": 6}
    assert counts["compiled"] == {"send": 0, "_on_submit": 0, "_fill_bar": 0}
