"""The ml_signal example: a strong prediction leans the position its way in steps of ``quantity`` up to
``max_position``, with a signal naming the model before each order; weak predictions and other models are ignored."""

from __future__ import annotations

from typing import Any

from tapeflow.backtest.engine import Backtest
from tapeflow.engine.kernel import Kernel
from tapeflow.model.enums import OrderType, Side
from tapeflow.model.events import Event, Prediction, Signal
from tapeflow.model.orders import SubmitOrder
from tapeflow.strategy.examples.ml_signal import MlSignal
from tests.backtest.scenario import MS, SYM, T0, px, snapshot


class Seen:
    def __init__(self) -> None:
        self.events: list[Signal | SubmitOrder] = []

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(Signal, self.events.append)
        kernel.subscribe(SubmitOrder, self.events.append)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None


def prediction(ms: int, bps: float, model_id: str = "m", symbol: str = SYM) -> Prediction:
    ts = T0 + ms * MS
    return Prediction(
        ts_event=ts,
        ts_init=ts,
        model_id=model_id,
        version=3,
        model_hash="a1b2c3d4e5f6a7b8",
        symbol=symbol,
        value=bps / 10_000,
        features={"imbalance": 0.5},
    )


def run(predictions: list[Prediction], **params: Any) -> tuple[MlSignal, list[Signal | SubmitOrder]]:
    strategy = MlSignal(threshold_bps=1.0, quantity=100, max_position=250, **params)
    seen = Seen()
    tape: list[Event] = [snapshot(T0, [("100.00", 500)], [("100.02", 500)]), *predictions]
    Backtest([strategy], extra=[seen]).run([tape])
    return strategy, seen.events


def orders(events: list[Signal | SubmitOrder]) -> list[SubmitOrder]:
    return [e for e in events if isinstance(e, SubmitOrder)]


def test_strong_predictions_buy_at_the_ask_in_steps_up_to_the_cap_each_after_a_signal_naming_the_model() -> None:
    _, events = run([prediction(ms, 2.5) for ms in (1, 2, 3, 4)])
    assert [type(e) for e in events] == [Signal, SubmitOrder] * 3  # the fourth would pass max_position
    sent = orders(events)
    assert [o.quantity for o in sent] == [100, 100, 50]
    assert all(o.side is Side.BUY and o.price == px("100.02") and o.order_type is OrderType.LIMIT for o in sent)
    signal = events[0]
    assert isinstance(signal, Signal)
    assert signal.reason == "model m version 3 (a1b2c3d4e5f6a7b8) predicts +2.50 bps"
    assert signal.value == 2.5 and signal.features == {"imbalance": 0.5}
    assert sent[0].reason == signal.reason


def test_a_strong_negative_prediction_sells_at_the_bid_and_weak_ones_do_nothing() -> None:
    _, events = run([prediction(1, 0.9), prediction(2, -1.0), prediction(3, -3.0)])
    sent = orders(events)
    assert [(o.side, o.quantity, o.price) for o in sent] == [(Side.SELL, 100, px("100.00"))]


def test_market_mode_sends_market_orders_and_another_models_predictions_are_ignored() -> None:
    _, events = run([prediction(1, 5.0, model_id="other"), prediction(2, 5.0)], order="market", model_id="m")
    sent = orders(events)
    assert [(o.order_type, o.price, o.ts_event) for o in sent] == [(OrderType.MARKET, 0, T0 + 2 * MS)]


def test_a_symbol_without_a_book_gets_no_marketable_limit() -> None:
    strategy, events = run([prediction(1, 5.0, symbol="MSFT")])
    assert not events and strategy.orders == 0
