"""A test strategy for the live parity test: the EMA crossing of ``ema_quote_cross`` traded with limit orders, so a
run has resting (maker) and marketable (taker) limits, replaces and cancels besides market orders.

On each crossing it cancels what it has working, closes the position with a market order, and opens ``quantity``
the other way: with a limit at the near touch (it rests) on even crossings, at the far touch (it takes) on odd
ones. A resting order follows the near touch every ``reprice_every`` quotes (a modify: Alpaca's replace) and is
cancelled after ``max_reprices``. Named by file in a ``[strategy]`` section, like a user's own strategy.

It knows its working orders from its own commands and reports, not from ``open_orders``: the node lists an order
as open once it is sent, which in a backtest is the compute delay after the decision and live is at once (the
paper venue charges the compute delay when the order reaches it), so a strategy reading ``open_orders`` within
that window would decide differently in the two runs. Nor does it cancel an order while its modify is
unanswered (it cancels when the answer comes): Alpaca refuses to cancel an order in ``pending_replace`` (422),
where the backtest's exchange lets the cancel overtake the modify (test_live_parity says so); and it never asks
twice to cancel one order (Alpaca refuses the second at once, the backtest's exchange after the first landed).
Its decisions are at least ``min_gap_ns`` apart in exchange time: the live node's risk decides an order at once,
a backtest's after the compute delay, so a second decision inside that window sees a different state.
"""

from __future__ import annotations

from tapeflow.model.enums import Side
from tapeflow.model.market import Quote
from tapeflow.model.orders import (
    ModifyRejected,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderUpdated,
    RiskRejected,
)
from tapeflow.strategy.base import Strategy


class EmaLimitCross(Strategy):
    def __init__(
        self,
        strategy_id: str = "ema-limit-cross",
        *,
        fast: int = 5,
        slow: int = 15,
        quantity: int = 100,
        reprice_every: int = 10,
        max_reprices: int = 2,
        min_gap_ns: int = 1_000_000,
    ) -> None:
        super().__init__(strategy_id)
        self.quantity, self.reprice_every, self.max_reprices = quantity, reprice_every, max_reprices
        self._af, self._as, self._slow = 2.0 / (fast + 1), 2.0 / (slow + 1), slow
        self._ema: list[float] = []
        self._seen = 0
        self._sign = 0.0
        self.crossings = 0
        self.held = 0
        self.min_gap_ns = min_gap_ns
        self._last_decision = 0
        self.working: set[str] = set()
        self._cancelled: set[str] = set()
        self._modifying: set[str] = set()
        self._cancel_later: set[str] = set()
        self._resting: tuple[str, Side, int, int] | None = None
        """The resting order: client order id, side, quotes since it was placed or repriced, reprices."""

    def on_quote(self, q: Quote) -> None:
        if not q.bid_size or not q.ask_size:
            return
        mid = (q.bid_price + q.ask_price) * 0.5
        if not self._ema:
            self._ema = [mid, mid]
            return
        self._ema[0] += self._af * (mid - self._ema[0])
        self._ema[1] += self._as * (mid - self._ema[1])
        self._seen += 1
        self._follow(q)
        if self._seen < self._slow:
            return
        fast, slow = self._ema
        sign = 1.0 if fast > slow else -1.0 if fast < slow else 0.0
        if sign == 0.0 or sign == self._sign or q.ts_event - self._last_decision < self.min_gap_ns:
            return
        self._sign = sign
        self._last_decision = q.ts_event
        self.crossings += 1
        for cid in sorted(self.working):
            if cid in self._modifying:
                self._cancel_later.add(cid)
            else:
                self._cancel(cid, q.symbol)
        self._resting = None
        side = Side.BUY if sign > 0 else Side.SELL
        if self.held:
            self.working.add(self.submit(q.symbol, side, abs(self.held), reason="crossing: close"))
        near, far = (q.bid_price, q.ask_price) if side is Side.BUY else (q.ask_price, q.bid_price)
        if self.crossings % 2:
            self.working.add(self.submit(q.symbol, side, self.quantity, price=far, reason="crossing: take"))
        else:
            cid = self.submit(q.symbol, side, self.quantity, price=near, reason="crossing: rest")
            self.working.add(cid)
            self._resting = (cid, side, 0, 0)

    def _follow(self, q: Quote) -> None:
        if self._resting is None:
            return
        cid, side, quotes, reprices = self._resting
        if cid not in self.working:
            self._resting = None  # filled, or its cancel landed
            return
        quotes += 1
        if quotes < self.reprice_every:
            self._resting = (cid, side, quotes, reprices)
            return
        if reprices >= self.max_reprices:
            self._cancel(cid, q.symbol)
            self._resting = None
            return
        near = q.bid_price if side is Side.BUY else q.ask_price
        self.modify(cid, q.symbol, self.quantity, price=near)
        self._modifying.add(cid)
        self._resting = (cid, side, 0, reprices + 1)

    def on_fill(self, fill: OrderFilled) -> None:
        self.held += fill.side.sign * fill.quantity
        if not fill.leaves_quantity:
            self.working.discard(fill.client_order_id)

    def on_order_cancelled(self, event: OrderCancelled) -> None:
        self.working.discard(event.client_order_id)
        self._cancel_later.discard(event.client_order_id)

    def on_order_updated(self, event: OrderUpdated) -> None:
        self._answered(event.client_order_id, event.symbol)

    def on_modify_rejected(self, event: ModifyRejected) -> None:
        self._answered(event.client_order_id, event.symbol)

    def _answered(self, cid: str, symbol: str) -> None:
        """The modify is answered: a cancel held back for it goes now (if the order still works)."""
        self._modifying.discard(cid)
        if cid in self._cancel_later:
            self._cancel_later.discard(cid)
            if cid in self.working:
                self._cancel(cid, symbol)

    def _cancel(self, cid: str, symbol: str) -> None:
        if cid not in self._cancelled:
            self._cancelled.add(cid)
            self.cancel(cid, symbol)

    def on_order_expired(self, event: OrderExpired) -> None:
        self.working.discard(event.client_order_id)

    def on_order_rejected(self, event: OrderRejected) -> None:
        self.working.discard(event.client_order_id)

    def on_risk_rejected(self, event: RiskRejected) -> None:
        self.working.discard(event.client_order_id)


class ModifyThenCancel(Strategy):
    """Rests one buy ``below`` under the bid after ``after`` quotes; when it is accepted, moves it up by ``step``
    and cancels it in the same breath (the modify first)."""

    def __init__(
        self, strategy_id: str = "modify-then-cancel", *, after: int = 20, below: int = 1_000, step: int = 500
    ) -> None:
        super().__init__(strategy_id)
        self.after, self.below, self.step = after, below, step
        self.quotes = 0
        self.order: tuple[str, int] | None = None

    def on_quote(self, q: Quote) -> None:
        self.quotes += 1
        if self.quotes == self.after and q.bid_size:
            price = q.bid_price - self.below
            self.order = (self.submit(q.symbol, Side.BUY, 100, price=price, reason="rest"), price)

    def on_order_accepted(self, event: OrderAccepted) -> None:
        if self.order is not None and event.client_order_id == self.order[0]:
            cid, price = self.order
            self.modify(cid, event.symbol, 100, price=price + self.step)
            self.cancel(cid, event.symbol)
