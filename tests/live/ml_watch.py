"""A strategy for the live ML tests (named to the node as ``ml_watch.py:ModelWatcher``): it trades a little on
quotes, and remembers every model announcement with the model its own handler sees in force at that moment.

It subscribes to ``ModelUpdated`` and ``ModelTrainingFailed`` in ``attach``, in kernel order: the ML parts were added
before the strategy, so when its handler runs the retrainer has already swapped the model (``seen_in_force``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tapeflow.engine.kernel import Kernel
from tapeflow.model.events import ModelTrainingFailed, ModelUpdated
from tapeflow.model.market import Quote
from tapeflow.model.orders import OrderFilled
from tapeflow.strategy.base import Strategy


class ModelWatcher(Strategy):
    """Every ``every`` quotes, when no order of its own is open: a market buy of ``quantity`` when flat, a market
    sell of what it holds when long (a market order may fill in part: the next round sells the rest)."""

    def __init__(self, strategy_id: str = "watcher", *, every: int = 50, quantity: int = 100) -> None:
        super().__init__(strategy_id)
        self.every, self.quantity = every, quantity
        self.in_force: Callable[[str], object] | None = None
        """The retrainer's ``model`` (the test sets it): what a strategy would predict with."""
        self.updates: list[ModelUpdated] = []
        self.seen_in_force: list[str | None] = []
        """The version (hash) of the model in force when each ``ModelUpdated`` reached this strategy."""
        self.failures: list[ModelTrainingFailed] = []
        self.failed_in_force: list[str | None] = []
        self.quote_walls: list[float] = []
        """``time.monotonic()`` of every quote handled: events flowing while a training runs."""
        self.fills: list[OrderFilled] = []

    def attach(self, kernel: Kernel) -> None:
        super().attach(kernel)
        kernel.subscribe(ModelUpdated, self._on_model)
        kernel.subscribe(ModelTrainingFailed, self._on_failed)

    def _version_in_force(self, model_id: str) -> str | None:
        model = None if self.in_force is None else self.in_force(model_id)
        version = getattr(model, "version", None)
        return version if isinstance(version, str) else None

    def _on_model(self, event: ModelUpdated) -> None:
        self.updates.append(event)
        self.seen_in_force.append(self._version_in_force(event.model_id))

    def _on_failed(self, event: ModelTrainingFailed) -> None:
        self.failures.append(event)
        self.failed_in_force.append(self._version_in_force(event.model_id))

    def on_quote(self, quote: Quote) -> None:
        self.quote_walls.append(time.monotonic())
        if not quote.bid_price or not quote.ask_price or len(self.quote_walls) % self.every:
            return
        held = self.position_quantity(quote.symbol)
        if self.open_orders(quote.symbol) or self.position_after_pending(quote.symbol) != held:
            return  # one order at a time
        if held > 0:
            self.sell(quote.symbol, held)
        else:
            self.buy(quote.symbol, self.quantity)

    def on_fill(self, fill: OrderFilled) -> None:
        self.fills.append(fill)
