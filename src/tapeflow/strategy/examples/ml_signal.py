"""Trade on the model's prediction: when the predicted forward return is strong enough, lean the position its way.

The model lives in ``tapeflow.ml`` (``[ml]`` in a run configuration): a recorder samples features, a retrainer
refits the model on the last window every few minutes, and a predictor emits a ``Prediction`` after each sample.
This strategy only reacts to those events. On a prediction for one of its symbols whose size exceeds
``threshold_bps``, it moves the position ``quantity`` shares toward the predicted side, never beyond
``max_position`` either way (counting its own orders not filled yet), with a marketable limit at the far touch
(or a market order). Before each order it emits a ``Signal`` naming the model id, version and predicted bps, so
the audit trail ties the order to the model that decided it. Orders go through the context, so risk checks them.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from tapeflow.model.enums import Side
from tapeflow.model.events import Prediction
from tapeflow.model.prices import NO_PRICE
from tapeflow.strategy.base import Strategy

BPS = 10_000.0


class MlSignalParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    threshold_bps: Annotated[float, msgspec.Meta(ge=0)] = 0.5
    """Act only on predictions whose absolute forward return exceeds this many basis points."""
    quantity: Annotated[int, msgspec.Meta(gt=0)] = 100
    max_position: Annotated[int, msgspec.Meta(gt=0)] = 500
    order: Literal["marketable_limit", "market"] = "marketable_limit"
    """``marketable_limit``: a limit at the far touch (buy at the ask, sell at the bid): it crosses now, but never
    walks the book past the price seen; ``market``: no price limit."""
    model_id: str | None = None
    """Only this model's predictions; None: any model's."""
    symbols: tuple[str, ...] | None = None


class MlSignal(Strategy):
    Params = MlSignalParams

    def __init__(
        self,
        strategy_id: str = "ml-signal",
        *,
        threshold_bps: float = 0.5,
        quantity: int = 100,
        max_position: int = 500,
        order: Literal["marketable_limit", "market"] = "marketable_limit",
        model_id: str | None = None,
        symbols: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(strategy_id, symbols=symbols)
        if threshold_bps < 0 or quantity <= 0 or max_position <= 0:
            raise ValueError("threshold_bps must not be negative; quantity and max_position must be positive")
        if order not in ("marketable_limit", "market"):
            raise ValueError(f"order must be 'marketable_limit' or 'market', got {order!r}")
        self.threshold_bps, self.quantity, self.max_position = threshold_bps, quantity, max_position
        self.order, self.model_id = order, model_id
        self.orders = 0

    def on_prediction(self, p: Prediction) -> None:
        if self.model_id is not None and p.model_id != self.model_id:
            return
        bps = p.value * BPS
        if abs(bps) <= self.threshold_bps:
            return
        side = Side.BUY if bps > 0 else Side.SELL
        held = self.position_after_pending(p.symbol)
        room = self.max_position - held if side is Side.BUY else self.max_position + held
        quantity = min(self.quantity, room)
        if quantity <= 0:
            return
        price = NO_PRICE
        if self.order == "marketable_limit":
            book = self.book(p.symbol)
            price = (book.best_ask if side is Side.BUY else book.best_bid) if book is not None else NO_PRICE
            if price == NO_PRICE:
                return  # no far touch to cross at: a market order into an empty side is what this mode avoids
        learned = f" + {p.online_updates} learned online" if p.online_updates else ""
        why = f"model {p.model_id} version {p.version} ({p.model_hash}){learned} predicts {bps:+.2f} bps"
        self.signal(p.symbol, "ml_prediction", bps, why, p.features)
        self.submit(p.symbol, side, quantity, price=price, reason=why)
        self.orders += 1
