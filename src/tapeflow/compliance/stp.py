"""Self-trade (wash) prevention: a gate between the risk engine and the execution engine.

An order that would execute against one of the firm's own resting orders, in any strategy, creates a wash trade:
no change of beneficial ownership, but a print on the tape that others read as real interest. Exchanges offer
self-match prevention for orders sharing an identifier; this gate does the same before anything leaves the firm,
across venues and strategies, with the exchanges' modes:

- ``CANCEL_NEWEST``: refuse the incoming order, leave the resting ones alone;
- ``CANCEL_OLDEST``: cancel the resting orders it would hit, then send the incoming order;
- ``CANCEL_BOTH``: cancel the resting orders and refuse the incoming one;
- ``DECREMENT``: reduce the larger side by the smaller and cancel the smaller (both when equal), order by order
  in the price priority the incoming order would meet them.

The gate has the execution engine's ``execute`` and read methods, so the risk engine calls it unaware. Cancels
and reductions of resting orders are sent to the execution engine as commands stamped now; a refusal is a
``RiskRejected`` (stage ``compliance``) for the strategy; every decision is a ``SelfTradePrevented`` event with
both orders, their sizes before and after, and the reason, which the audit trail records.

Only orders that would execute on arrival are checked: an incoming stop order has not triggered, and resting
stop orders do not rest in the book. A resting order whose cancel the gate already sent is no longer a match.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import TYPE_CHECKING

import msgspec

from tapeflow.model.compliance_events import SelfTradePrevented
from tapeflow.model.enums import OrderType, Side
from tapeflow.model.orders import ModifyOrder, RiskRejected, SubmitOrder
from tapeflow.model.prices import NO_PRICE, price_to_str

if TYPE_CHECKING:
    from tapeflow.engine.kernel import Kernel
    from tapeflow.execution.engine import ExecutionEngine
    from tapeflow.execution.orders import Order
    from tapeflow.execution.venue import Command


class StpMode(enum.Enum):
    CANCEL_NEWEST = "cancel_newest"
    CANCEL_OLDEST = "cancel_oldest"
    CANCEL_BOTH = "cancel_both"
    DECREMENT = "decrement"


def would_match(incoming: SubmitOrder, resting: Order) -> bool:
    """Whether ``incoming`` would execute against ``resting`` on arrival (opposite side, prices crossing)."""
    if resting.side is incoming.side or resting.order_type is not OrderType.LIMIT or resting.price == NO_PRICE:
        return False
    if incoming.order_type is OrderType.MARKET:
        return True
    if incoming.order_type is not OrderType.LIMIT:
        return False
    if incoming.side is Side.BUY:
        return incoming.price >= resting.price
    return incoming.price <= resting.price


class StpGate:
    """``StpGate(execution, mode)``: add it to the kernel (it subscribes to nothing) and give it to the risk
    engine in place of the execution engine."""

    def __init__(self, execution: ExecutionEngine, mode: StpMode) -> None:
        self.execution = execution
        self.mode = mode
        self._kernel: Kernel | None = None
        self._leaves: dict[str, int] = {}
        """Resting orders the gate cancelled (0) or reduced, until the venue confirms."""
        self.prevented = 0

    def attach(self, kernel: Kernel) -> None:
        self._kernel = kernel

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    # -- the execution engine's interface -----------------------------------------------------------------------

    def execute(self, command: Command) -> None:
        if isinstance(command, SubmitOrder):
            matches = self._matches(command)
            if matches:
                self._prevent(command, matches)
                return
        self.execution.execute(command)

    def order(self, client_order_id: str) -> Order | None:
        return self.execution.order(client_order_id)

    def open_orders(self, symbol: str | None = None, strategy_id: str | None = None) -> Iterator[Order]:
        return self.execution.open_orders(symbol, strategy_id)

    def orders(self) -> Iterator[Order]:
        return self.execution.orders()

    # -- decisions ----------------------------------------------------------------------------------------------

    def _resting_leaves(self, order: Order) -> int:
        leaves = order.leaves_quantity
        pending = self._leaves.get(order.client_order_id)
        return leaves if pending is None else min(leaves, pending)

    def _matches(self, incoming: SubmitOrder) -> list[Order]:
        found = [
            o
            for o in self.execution.open_orders(incoming.symbol)
            if would_match(incoming, o) and self._resting_leaves(o) > 0
        ]
        sign = 1 if incoming.side is Side.BUY else -1
        found.sort(key=lambda o: sign * o.price)  # stable: equal prices keep time priority (oldest first)
        return found

    def _prevent(self, incoming: SubmitOrder, matches: list[Order]) -> None:
        mode = self.mode
        qty = incoming.quantity
        remaining = qty
        if mode is StpMode.CANCEL_NEWEST:
            leaves = self._resting_leaves(matches[0])
            self._record(incoming, matches[0], "cancel incoming", (qty, 0), (leaves, leaves))
            remaining = 0
        for resting in matches if mode is not StpMode.CANCEL_NEWEST else ():
            leaves = self._resting_leaves(resting)
            if mode is not StpMode.DECREMENT:
                self._cancel(resting)
                after = qty if mode is StpMode.CANCEL_OLDEST else 0
                self._record(incoming, resting, "cancel resting" if after else "cancel both", (qty, after), (leaves, 0))
                continue
            if remaining == 0:
                break
            before = remaining
            if leaves > remaining:
                self._reduce(resting, leaves - remaining)
                remaining = 0
                action = "decrement resting, cancel incoming"
            else:
                self._cancel(resting)
                remaining -= leaves
                action = "cancel resting, decrement incoming" if remaining else "cancel both (equal sizes)"
            self._record(incoming, resting, action, (before, remaining), (leaves, self._resting_leaves(resting)))
        if mode is StpMode.CANCEL_BOTH:
            remaining = 0
        if remaining == 0:
            self._refuse(incoming, matches[0])
            return
        if remaining != qty:
            incoming = msgspec.structs.replace(incoming, quantity=remaining)
        self.execution.execute(incoming)

    def _now(self) -> int:
        assert self._kernel is not None, "add the StpGate to the kernel before the run starts"
        return self._kernel.now

    def _cancel(self, resting: Order) -> None:
        now = self._now()
        self._leaves[resting.client_order_id] = 0
        self.execution.execute(resting.cancel_at(now))

    def _reduce(self, resting: Order, leaves: int) -> None:
        now = self._now()
        self._leaves[resting.client_order_id] = leaves
        self.execution.execute(
            ModifyOrder(
                ts_event=now,
                ts_init=now,
                strategy_id=resting.strategy_id,
                client_order_id=resting.client_order_id,
                symbol=resting.symbol,
                quantity=resting.filled_quantity + leaves,
                price=resting.price,
            )
        )

    def _record(
        self,
        incoming: SubmitOrder,
        resting: Order,
        action: str,
        incoming_qty: tuple[int, int],
        resting_qty: tuple[int, int],
    ) -> None:
        """``incoming_qty`` and ``resting_qty`` are (before, after) this decision."""
        self.prevented += 1
        now = self._now()
        where = "market" if incoming.price == NO_PRICE else price_to_str(incoming.price)
        reason = (
            f"{incoming.side.value} {incoming.client_order_id} ({incoming.strategy_id}) at {where} would trade with "
            f"our resting {resting.side.value} {resting.client_order_id} ({resting.strategy_id}) at "
            f"{price_to_str(resting.price)}"
        )
        assert self._kernel is not None
        self._kernel.emit(
            SelfTradePrevented(
                ts_event=now,
                ts_init=now,
                strategy_id=incoming.strategy_id,
                client_order_id=incoming.client_order_id,
                symbol=incoming.symbol,
                side=incoming.side,
                mode=self.mode.value,
                action=action,
                resting_strategy_id=resting.strategy_id,
                resting_order_id=resting.client_order_id,
                resting_price=resting.price,
                incoming_price=incoming.price,
                incoming_quantity_before=incoming_qty[0],
                incoming_quantity_after=incoming_qty[1],
                resting_quantity_before=resting_qty[0],
                resting_quantity_after=resting_qty[1],
                reason=reason,
            )
        )

    def _refuse(self, incoming: SubmitOrder, resting: Order) -> None:
        now = self._now()
        assert self._kernel is not None
        self._kernel.emit(
            RiskRejected(
                ts_event=now,
                ts_init=now,
                strategy_id=incoming.strategy_id,
                client_order_id=incoming.client_order_id,
                symbol=incoming.symbol,
                stage="compliance",
                rule="self_trade_prevention",
                reason=f"would trade with our own resting order {resting.client_order_id} ({self.mode.value})",
                limit=self.mode.value,
                value=resting.client_order_id,
            )
        )
