"""The account strategy: how a client's orders enter the node, and what Alpaca shows of them.

A client's order is an order of one strategy like any other: ``AccountGateway`` sends ``SubmitOrder``,
``CancelOrder`` and ``ModifyOrder`` at the node's current event time, and they pass risk, execution and the
simulated exchange on the same path as a backtest's orders (there is no second matching engine). The gateway
listens to the reports of its own orders and keeps the Alpaca view of them: one ``AlpacaOrder`` per Alpaca id,
statuses, fills, and a trade update (``trade_updates`` stream shape) for every change, published to a hub.

Alpaca's replace makes a new order with a new id; the node modifies the one order in place. So one node order
(``cid``) may carry several Alpaca records in turn: the current one is ``_by_cid[cid]``, a replacement waits in
``_replacing`` until the exchange confirms (``OrderUpdated``) or refuses it. The replacement starts with the fills
of the order it replaces, because the node's quantity is the order's new total, filled shares included.

Ids are UUIDs drawn from the seed and a counter, so the same requests on the same tape give the same ids.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, Protocol

from tapeflow.model.errors import RequestError
from tapeflow.model.market import Bar, Quote, Trade
from tapeflow.model.orders import (
    CancelRejected,
    ModifyRejected,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderUpdated,
    RiskRejected,
)
from tapeflow.paper.alpaca_orders import (
    NOT_CANCELABLE,
    SIDES,
    TIFS,
    TYPES,
    AlpacaOrder,
    OrderRequest,
    invalid,
    money,
    order_json,
    rfc3339,
)
from tapeflow.strategy.base import Strategy

STRATEGY_ID = "paper"


class Hub(Protocol):
    """Where updates go (the ``trade_updates`` stream's hub, the market data stream's hub)."""

    def publish(self, update: Any) -> None: ...


class NoHub:
    """A hub nobody listens to (the default: REST alone needs none)."""

    def publish(self, update: Any) -> None:
        """Nothing to do: no stream is attached."""


class AccountGateway(Strategy):
    """The one strategy of a paper venue's node: every client order is its order."""

    def __init__(self, *, seed: int = 0, trade_hub: Hub | None = None, data_hub: Hub | None = None) -> None:
        super().__init__(STRATEGY_ID)
        self.seed = seed
        self.trade_hub: Hub = trade_hub if trade_hub is not None else NoHub()
        self.data_hub: Hub = data_hub if data_hub is not None else NoHub()
        self.orders: dict[str, AlpacaOrder] = {}
        """Every Alpaca order by id, in creation order."""
        self.by_client_id: dict[str, AlpacaOrder] = {}
        self.refused: dict[str, RiskRejected] = {}
        """Orders risk refused, by node client order id (the venue answers the submit with 403)."""
        self._by_cid: dict[str, AlpacaOrder] = {}
        self._replacing: dict[str, AlpacaOrder] = {}
        self._cancelling: set[str] = set()
        """Node orders whose cancel was asked and not answered yet: a cancel that arrives after the order filled is
        refused by the exchange, and Alpaca says so (``order_cancel_rejected``, too late to cancel)."""
        self._held_cancels: set[str] = set()
        """Node orders whose cancel was asked before the exchange acknowledged them: the cancel is sent with the
        ack, as Alpaca holds a ``pending_new`` order's cancel until the order reaches the market, so an order that
        risk or the exchange refuses is never sent a cancel. (Sent at once it would no longer overtake its insert:
        the simulated exchange takes one session's commands in the order they were sent.)"""
        self._ids = 0
        self.account_id = self._uuid()

    def _uuid(self) -> str:
        self._ids += 1
        digest = hashlib.sha256(f"tapeflow-paper:{self.seed}:{self._ids}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    # -- requests (called by the venue, between steps) --------------------------------------------------------------

    def place(self, request: OrderRequest) -> AlpacaOrder:
        """Send a new order into the node; its record starts ``pending_new``."""
        if request.client_order_id and request.client_order_id in self.by_client_id:
            raise invalid("client_order_id must be unique")
        cid = self.submit(
            request.symbol,
            SIDES[request.side],
            request.qty,
            price=request.limit_price,
            order_type=TYPES[request.type],
            stop_price=request.stop_price,
            time_in_force=TIFS[request.time_in_force],
            reason="paper client order",
        )
        order_id = self._uuid()
        order = AlpacaOrder(
            id=order_id,
            client_order_id=request.client_order_id or self._uuid(),
            cid=cid,
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            time_in_force=request.time_in_force,
            qty=request.qty,
            limit_price=request.limit_price,
            stop_price=request.stop_price,
            created_at=self.now,
        )
        self._remember(order)
        return order

    def request_cancel(self, order: AlpacaOrder) -> None:
        """Ask the exchange to cancel; the record is ``pending_cancel`` until it answers."""
        if not order.is_open or order.status in ("pending_cancel", "pending_replace"):
            raise RequestError(422, NOT_CANCELABLE, f'order is already in "{order.status}" state')
        held = order.status
        order.held_status, order.status, order.updated_at = held, "pending_cancel", self.now
        self._cancelling.add(order.cid)
        if held == "pending_new":
            self._held_cancels.add(order.cid)  # sent with the exchange's ack (see ``_held_cancels``)
        else:
            self.cancel(order.cid, order.symbol)

    def request_replace(
        self, order: AlpacaOrder, *, qty: int | None, limit_price: int | None, stop_price: int | None, client_id: str
    ) -> AlpacaOrder:
        """Ask the exchange to change the order; returns the new record (``pending_new`` until confirmed)."""
        if not order.is_open or order.status in ("pending_cancel", "pending_replace", "pending_new"):
            raise RequestError(422, NOT_CANCELABLE, f'order is in "{order.status}" state and cannot be replaced')
        if client_id and client_id in self.by_client_id:
            raise invalid("client_order_id must be unique")
        if limit_price is not None and order.type not in ("limit", "stop_limit"):
            raise invalid(f"limit_price cannot be set on a {order.type} order")
        if stop_price is not None and order.type not in ("stop", "stop_limit"):
            raise invalid(f"stop_price cannot be set on a {order.type} order")
        new = AlpacaOrder(
            id=self._uuid(),
            client_order_id=client_id or self._uuid(),
            cid=order.cid,
            symbol=order.symbol,
            side=order.side,
            type=order.type,
            time_in_force=order.time_in_force,
            qty=qty if qty is not None else order.qty,
            limit_price=limit_price if limit_price is not None else order.limit_price,
            stop_price=stop_price if stop_price is not None else order.stop_price,
            created_at=self.now,
            replaces=order.id,
        )
        if new.qty <= order.filled_qty:
            raise invalid(f"qty must be more than the {order.filled_qty} shares already filled")
        order.held_status, order.status, order.updated_at = order.status, "pending_replace", self.now
        self.orders[new.id] = new
        self.by_client_id[new.client_order_id] = new
        self._replacing[order.cid] = new
        self.modify(order.cid, order.symbol, new.qty, price=new.limit_price, stop_price=new.stop_price)
        return new

    def _remember(self, order: AlpacaOrder) -> None:
        self.orders[order.id] = order
        self.by_client_id[order.client_order_id] = order
        self._by_cid[order.cid] = order

    # -- what the node reports ----------------------------------------------------------------------------------------

    def _publish(self, kind: str, order: AlpacaOrder, ts: int, **extra: Any) -> None:
        update: dict[str, Any] = {"event": kind, "timestamp": rfc3339(ts), "order": order_json(order)}
        update.update(extra)
        self.trade_hub.publish(update)

    def on_order_accepted(self, event: OrderAccepted) -> None:
        order = self._by_cid.get(event.client_order_id)
        if order is None:
            return
        if order.status == "pending_new":
            order.status, order.updated_at = "new", event.ts_event
        elif order.status == "pending_cancel" and order.held_status == "pending_new":  # cancelled before its ack
            order.held_status = "new"
        else:
            return
        self._publish("new", order, event.ts_event)
        if event.client_order_id in self._held_cancels:
            self._held_cancels.discard(event.client_order_id)
            self.cancel(order.cid, order.symbol)

    def on_order_rejected(self, event: OrderRejected) -> None:
        self._fail(event.client_order_id, event.ts_event)

    def on_risk_rejected(self, event: RiskRejected) -> None:
        self.refused[event.client_order_id] = event
        if event.client_order_id in self._replacing:  # risk refused the modify: the order works on unchanged
            self._replace_failed(event.client_order_id, event.ts_event)
        else:
            self._fail(event.client_order_id, event.ts_event)

    def _fail(self, cid: str, ts: int) -> None:
        self._held_cancels.discard(cid)  # never accepted: nothing left to cancel
        order = self._by_cid.get(cid)
        if order is not None:
            order.status, order.failed_at, order.updated_at = "rejected", ts, ts
            self._publish("rejected", order, ts)

    def on_fill(self, fill: OrderFilled) -> None:
        order = self._by_cid.get(fill.client_order_id)
        if order is None:
            return
        ts = fill.ts_event
        order.filled_qty += fill.quantity
        order.filled_notional += fill.price * fill.quantity
        order.updated_at = ts
        done = fill.leaves_quantity == 0
        status = "filled" if done else "partially_filled"
        if done:
            order.status, order.filled_at = status, ts
        elif order.status in ("pending_cancel", "pending_replace"):
            order.held_status = status
        else:
            order.status = status
        position = self.position_quantity(fill.symbol)
        self._publish(
            "fill" if done else "partial_fill",
            order,
            ts,
            price=money(fill.price),
            qty=str(fill.quantity),
            position_qty=str(position),
            execution_id=self._uuid(),
        )

    def on_order_cancelled(self, event: OrderCancelled) -> None:
        self._end(event.client_order_id, event.ts_event, "canceled")

    def on_order_expired(self, event: OrderExpired) -> None:
        self._end(event.client_order_id, event.ts_event, "expired")

    def _end(self, cid: str, ts: int, status: str) -> None:
        order = self._by_cid.get(cid)
        if order is None:
            return
        order.status, order.updated_at = status, ts
        self._cancelling.discard(cid)
        self._held_cancels.discard(cid)
        if status == "canceled":
            order.canceled_at = ts
        else:
            order.expired_at = ts
        waiting = self._replacing.pop(cid, None)
        if waiting is not None:  # the order ended before the replace was applied: the replacement never lives
            waiting.status, waiting.canceled_at, waiting.updated_at = "canceled", ts, ts
        self._publish(status, order, ts)

    def on_order_updated(self, event: OrderUpdated) -> None:
        new = self._replacing.pop(event.client_order_id, None)
        old = self._by_cid.get(event.client_order_id)
        if new is None or old is None:
            return
        ts = event.ts_event
        old.status, old.replaced_at, old.replaced_by, old.updated_at = "replaced", ts, new.id, ts
        new.filled_qty, new.filled_notional = old.filled_qty, old.filled_notional
        new.status = "partially_filled" if new.filled_qty else "new"
        new.updated_at = ts
        self._by_cid[event.client_order_id] = new
        self._publish("replaced", new, ts)

    def on_modify_rejected(self, event: ModifyRejected) -> None:
        self._replace_failed(event.client_order_id, event.ts_event)

    def _replace_failed(self, cid: str, ts: int) -> None:
        new = self._replacing.pop(cid, None)
        old = self._by_cid.get(cid)
        if new is not None:
            new.status, new.failed_at, new.updated_at = "rejected", ts, ts
        if old is not None and old.status == "pending_replace":
            old.status, old.updated_at = old.held_status, ts
            self._publish("order_replace_rejected", old, ts)

    def on_cancel_rejected(self, event: CancelRejected) -> None:
        order = self._by_cid.get(event.client_order_id)
        if order is None or event.client_order_id not in self._cancelling:
            return
        self._cancelling.discard(event.client_order_id)
        if order.status == "pending_cancel":
            order.status, order.updated_at = order.held_status, event.ts_event
        # also when the order filled while the cancel was on its way (too late to cancel): see ``_cancelling``
        self._publish("order_cancel_rejected", order, event.ts_event)

    # -- market data for the data stream ------------------------------------------------------------------------------

    def on_trade(self, trade: Trade) -> None:
        self.data_hub.publish(trade)

    def on_quote(self, quote: Quote) -> None:
        self.data_hub.publish(quote)

    def on_bar(self, bar: Bar) -> None:
        self.data_hub.publish(bar)
