"""Position and pending quantity: a strategy that asks "am I flat?" must see its own orders that have not filled."""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.backtest.engine import Backtest
from tapeflow.data.bars import read_bars
from tapeflow.engine import Kernel
from tapeflow.execution.order_ids import ClientOrderIds
from tapeflow.model import Bar, Event, LiquiditySide, Side
from tapeflow.model.codec import event_types
from tapeflow.model.enums import OrderType, TimeInForce
from tapeflow.model.events import ModelUpdated, Prediction
from tapeflow.model.orders import OrderReport, SubmitOrder
from tapeflow.model.prices import NO_PRICE
from tapeflow.model.venue_events import FeedStale, VenueDisconnected, VenueStatus
from tapeflow.portfolio import PortfolioConfig
from tapeflow.risk.rules import Rule, Violation
from tapeflow.strategy.base import Strategy
from tapeflow.strategy.context import Pending, TradingContext
from tests.frames import python_frames

CASH = 1_000_000 * 10_000


def _nvda_bars(data_dir: Path, n: int) -> list[Bar]:
    path = data_dir / "backtrader-yahoo-daily" / "nvda-1999-2014.txt.gz"
    bars = list(islice((e for e in read_bars(path) if isinstance(e, Bar)), n))
    assert len(bars) == n
    return bars


class BuyWhenFlat(Strategy):
    """Buys 100 shares whenever it believes it holds none; ``careful`` decides what "holds" means."""

    def __init__(self, careful: bool) -> None:
        super().__init__("flat-buyer")
        self.careful = careful
        self.seen: list[tuple[int, Pending]] = []

    def on_bar(self, bar: Bar) -> None:
        self.seen.append((self.position_quantity(bar.symbol), self.pending(bar.symbol)))
        held = self.position_after_pending(bar.symbol) if self.careful else self.position_quantity(bar.symbol)
        if held == 0:
            self.buy(bar.symbol, 100)


def _run(strategy: Strategy, bars: list[Bar]) -> Backtest:
    run = Backtest([strategy], portfolio=PortfolioConfig(starting_cash=CASH, sample_interval_ns=None))
    return run.run([bars])


def test_buy_when_flat_checking_pending_buys_once_on_daily_bars(data_dir: Path) -> None:
    bars = _nvda_bars(data_dir, 10)
    strategy = BuyWhenFlat(careful=True)
    run = _run(strategy, bars)
    assert [f.quantity for f in run.results.fills] == [100]
    assert run.portfolio.quantity(bars[0].symbol) == 100
    # on the second bar the first order had not filled yet: pending saw it, the position did not
    assert strategy.seen[1] == (0, Pending(buy=100, sell=0))
    assert strategy.seen[2] == (100, Pending())


def test_buy_when_flat_checking_only_position_double_buys_on_daily_bars(data_dir: Path) -> None:
    bars = _nvda_bars(data_dir, 10)
    strategy = BuyWhenFlat(careful=False)
    run = _run(strategy, bars)
    assert len(run.results.fills) == 2  # bar 1 and bar 2 both saw a flat position: the order was still waiting
    assert run.portfolio.quantity(bars[0].symbol) == 200


class TwoInOneHandler(Strategy):
    def __init__(self) -> None:
        super().__init__("twice")
        self.after: list[Pending] = []

    def on_bar(self, bar: Bar) -> None:
        if self.after:
            self.after.append(self.pending(bar.symbol))
            return
        self.buy(bar.symbol, 30)
        self.after.append(self.pending(bar.symbol))  # still on the queue: not even risk has seen it
        self.sell(bar.symbol, 5, price=10_000 * 10_000)  # a limit at $10,000: never fills on these bars
        self.after.append(self.pending(bar.symbol))


def test_pending_counts_orders_sent_but_not_yet_seen_by_risk_then_drops_filled_ones(data_dir: Path) -> None:
    bars = _nvda_bars(data_dir, 3)
    strategy = TwoInOneHandler()
    _run(strategy, bars)
    assert strategy.after[0] == Pending(buy=30, sell=0)
    assert strategy.after[1] == Pending(buy=30, sell=5)
    assert strategy.after[2] == Pending(buy=30, sell=5)  # filled at the second bar's open, reported after it
    assert strategy.after[3] == Pending(buy=0, sell=5)  # the fill is in; the far limit still rests
    assert strategy.after[3].net == -5


class AtMost500(Rule):
    name = "at_most_500"

    def check(self, command: SubmitOrder) -> Violation | None:
        return Violation(reason="too many", limit=500, value=command.quantity) if command.quantity > 500 else None


class BuyTooMuch(Strategy):
    def __init__(self) -> None:
        super().__init__("greedy")
        self.after: list[Pending] = []

    def on_bar(self, bar: Bar) -> None:
        if not self.after:
            self.buy(bar.symbol, 1_000)
        self.after.append(self.pending(bar.symbol))


def test_pending_forgets_an_order_the_risk_engine_refused(data_dir: Path) -> None:
    bars = _nvda_bars(data_dir, 3)
    strategy = BuyTooMuch()
    run = Backtest([strategy], portfolio=PortfolioConfig(starting_cash=CASH), risk_rules=[AtMost500()])
    run.run([bars])
    assert run.risk.rejections_by_rule == {"at_most_500": 1}
    assert strategy.after[0] == Pending(buy=1_000, sell=0)
    assert strategy.after[1:] == [Pending(), Pending()]
    assert strategy._in_flight == {}


def test_in_flight_table_stays_small_over_many_orders(data_dir: Path) -> None:
    bars = _nvda_bars(data_dir, 200)

    class Churn(Strategy):
        def on_bar(self, bar: Bar) -> None:
            self.buy(bar.symbol, 1, price=1)  # rests forever: known to the execution engine after risk

    strategy = Churn("churn")
    run = _run(strategy, bars)
    assert sum(1 for _ in run.execution.open_orders()) == 200
    assert len(strategy._in_flight) <= 64


def test_position_helpers_without_portfolio_or_orders_read_flat() -> None:
    from tapeflow.engine.kernel import Kernel
    from tapeflow.strategy.context import TradingContext

    strategy = Strategy("bare")
    strategy.bind(TradingContext(Kernel()))
    assert strategy.position("X") is None
    assert strategy.position_quantity("X") == 0
    assert strategy.pending("X") == Pending()
    assert strategy.position_after_pending("X") == 0


@pytest.mark.parametrize(("buy", "sell", "net"), [(0, 0, 0), (7, 0, 7), (0, 7, -7), (10, 3, 7)])
def test_pending_net_is_buys_minus_sells(buy: int, sell: int, net: int) -> None:
    assert Pending(buy=buy, sell=sell).net == net


class _HearsEverything(Strategy):
    def __init__(self) -> None:
        super().__init__("s")
        self.heard: list[str] = []

    def on_order_event(self, event: Event) -> None:
        self.heard.append(type(event).__name__)


def _report(cls: type[OrderReport]) -> OrderReport:
    """An instance of ``cls`` for strategy "s", its required fields filled with any valid value."""
    values: dict[str, Any] = {"reason": "r", "side": Side.BUY, "price": 1, "quantity": 1}
    values |= {"leaves_quantity": 0, "liquidity_side": LiquiditySide.MAKER}
    ids = {"ts_event": 1, "ts_init": 1, "strategy_id": "s", "client_order_id": "s-1", "symbol": "AAPL"}
    required = [f.name for f in msgspec.structs.fields(cls) if f.required and f.name not in ids]
    return cls(**ids, **{name: values[name] for name in required})


def test_a_strategy_hears_every_kind_of_venue_report_about_its_orders() -> None:
    # a new OrderReport type must get a handler in strategy/base.py, or strategies would never hear of it
    kinds = sorted((t for t in event_types() if issubclass(t, OrderReport)), key=lambda t: t.__name__)
    strategy = _HearsEverything()
    kernel = Kernel()
    kernel.add(strategy)
    kernel.run([_report(t) for t in kinds])
    assert strategy.heard == [t.__name__ for t in kinds]
    assert len(kinds) == 8


class _Hears(Strategy):
    def __init__(self) -> None:
        super().__init__("hears")
        self.heard: list[VenueStatus] = []

    def on_venue_status(self, event: VenueStatus) -> None:
        self.heard.append(event)


def test_venue_status_reaches_a_strategy_that_overrides_the_hook_and_costs_others_nothing() -> None:
    kernel = Kernel()
    hears, deaf = _Hears(), Strategy("deaf")
    kernel.add(hears)
    kernel.add(deaf)
    kernel.start(at=0)
    down = VenueDisconnected(ts_event=1, ts_init=1, venue="NET", reason="socket closed")
    kernel.run([down, FeedStale(ts_event=2, ts_init=2, venue="NET")])
    assert hears.heard == [down, FeedStale(ts_event=2, ts_init=2, venue="NET")]
    assert [h for t, h in kernel._subscriptions if t is VenueStatus] == [hears.on_venue_status]


def test_client_order_ids_come_from_the_context_generator_when_it_has_one() -> None:
    kernel = Kernel()
    shared = ClientOrderIds("R9")
    a, b, own = Strategy("a"), Strategy("b"), Strategy("own")
    a.bind(TradingContext(kernel, order_ids=shared))
    b.bind(TradingContext(kernel, order_ids=shared))
    own.bind(TradingContext(kernel))
    for s in (a, b, own):
        kernel.add(s)
    kernel.start(at=0)
    ids = [s.buy("AAPL", 100, 1_000_000) for s in (a, b, a, own, own)]
    assert ids == ["a-R9-1", "b-R9-1", "a-R9-2", "own-1", "own-2"]


def test_an_order_takes_the_context_generator_id_without_the_strategy_own_generator_frame() -> None:
    """Round 11 (issue 19): ``submit`` asks the context's generator itself (a node always gives one), one Python
    frame less an order; ``_new_id`` stays the fallback of a strategy without one (previous test) and of the
    bracket, OCO and trailing-stop legs."""
    kernel = Kernel()
    strategy = Strategy("a")
    strategy.bind(TradingContext(kernel, order_ids=ClientOrderIds()))
    kernel.add(strategy)
    kernel.start(at=0)
    ids: list[str] = []
    names = python_frames(lambda: ids.append(strategy.submit("AAPL", Side.BUY, 100, price=1_000_000)))
    assert ids == ["a-1"] and "next" in names
    assert "_new_id" not in names


_OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "order_type": st.sampled_from([None, *OrderType]),
        "stop_price": st.integers(0, 10**9),
        "time_in_force": st.sampled_from(list(TimeInForce)),
        "reason": st.text(max_size=5),
        "venue": st.sampled_from(["", "XNAS"]),
    },
)


@given(
    side=st.sampled_from([Side.BUY, Side.SELL]),
    quantity=st.integers(1, 10**6),
    price=st.one_of(st.just(NO_PRICE), st.integers(1, 10**9)),
    options=_OPTIONS,
    positional_price=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_buy_and_sell_emit_the_order_submit_emits_for_any_fields(
    side: Side, quantity: int, price: int, options: dict[str, Any], positional_price: bool
) -> None:
    """``buy``/``sell`` name every field (no ``**kwargs`` pass-through): the same event as ``submit``."""
    sent: list[list[Event]] = []
    for via_helper in (False, True):
        kernel = Kernel()
        seen: list[Event] = []
        kernel.subscribe(SubmitOrder, seen.append)
        strategy = Strategy("s")
        kernel.add(strategy)
        kernel.start(at=5)
        if not via_helper:
            strategy.submit("AAPL", side, quantity, price=price, **options)
        else:
            helper = strategy.buy if side is Side.BUY else strategy.sell
            if positional_price:
                helper("AAPL", quantity, price, **options)
            else:
                helper("AAPL", quantity, price=price, **options)
        kernel.run([])
        sent.append(seen)
    assert len(sent[0]) == 1
    assert msgspec.msgpack.encode(sent[0]) == msgspec.msgpack.encode(sent[1])


class _Tags(Strategy):
    """Overrides ``submit`` to tag every order, as a user might."""

    def submit(self, symbol: str, side: Side, quantity: int, **fields: Any) -> str:
        return super().submit(symbol, side, quantity, **{**fields, "reason": "tagged"})


def test_buy_and_sell_go_through_a_submit_the_strategy_overrides() -> None:
    kernel = Kernel()
    seen: list[SubmitOrder] = []
    kernel.subscribe(SubmitOrder, seen.append)
    strategy = _Tags("s")
    kernel.add(strategy)
    kernel.start(at=5)
    strategy.buy("AAPL", 100)
    strategy.sell("AAPL", 100, 1_000_000, reason="untagged")
    kernel.run([])
    assert [(o.side, o.reason) for o in seen] == [(Side.BUY, "tagged"), (Side.SELL, "tagged")]


class _Learns(Strategy):
    def __init__(self, symbols: tuple[str, ...] | None = None) -> None:
        super().__init__("learns", symbols=symbols)
        self.heard: list[Event] = []

    def on_prediction(self, p: Prediction) -> None:
        self.heard.append(p)

    def on_model_updated(self, e: ModelUpdated) -> None:
        self.heard.append(e)


def _prediction(ts: int, symbol: str) -> Prediction:
    return Prediction(ts_event=ts, ts_init=ts, model_id="m", version=1, model_hash="ab", symbol=symbol, value=1e-4)


def test_predictions_for_its_symbols_and_model_updates_reach_a_strategy_that_overrides_the_hooks() -> None:
    kernel = Kernel()
    learns, deaf = _Learns(symbols=("AAPL",)), Strategy("deaf")
    kernel.add(learns)
    kernel.add(deaf)
    kernel.start(at=0)
    update = ModelUpdated(ts_event=1, ts_init=1, model_id="m", version=1, train_start=0, train_end=1)
    kernel.run([update, _prediction(2, "AAPL"), _prediction(3, "MSFT")])
    assert learns.heard == [update, _prediction(2, "AAPL")]
    subscribed = [t for t, _ in kernel._subscriptions]
    assert subscribed.count(Prediction) == 1 and subscribed.count(ModelUpdated) == 1  # the deaf one costs nothing
