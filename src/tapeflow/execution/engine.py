"""The execution engine: the one registry of our orders, and the router from risk to venues.

Only the risk engine calls ``execute``: a command that reaches this point has passed every pre-trade check. The
engine records the order, routes it to the venue client named by the command (or the default venue), and then
learns what happened from the venue's reports on the kernel queue, applying each through the order transition
table. Reports the table refuses are counted in ``refused_reports`` and kept in ``anomalies``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

from tapeflow.execution.orders import OPEN_IDS, TRANSITIONS_BY_ID, Order
from tapeflow.execution.venue import Command, VenueClient
from tapeflow.model.enums import OrderStatus
from tapeflow.model.errors import ConfigError, EngineError
from tapeflow.model.order_record import submitted_terms
from tapeflow.model.orders import OrderAccepted, OrderFilled, OrderReport, SubmitOrder
from tapeflow.model.venue_state import VenueState

if TYPE_CHECKING:
    from tapeflow.engine.kernel import Kernel

_FILLED = OrderStatus.FILLED


class OrderRoute(Protocol):
    """What the risk engine hands approved commands to: the execution engine, or a gate in front of it (the
    self-trade prevention gate) that answers the same three methods."""

    def execute(self, command: Command) -> None: ...

    def order(self, client_order_id: str) -> Order | None: ...

    def open_orders(self, symbol: str | None = None, strategy_id: str | None = None) -> Iterator[Order]: ...


class ExecutionEngine:
    def __init__(self, venues: list[VenueClient], *, default_venue: str | None = None) -> None:
        if not venues:
            raise ConfigError("an execution engine needs at least one venue", field="venues")
        self._venues = {v.name: v for v in venues}
        self.default_venue = default_venue or venues[0].name
        if self.default_venue not in self._venues:
            raise ConfigError(f"default venue {self.default_venue!r} is not configured", field="default_venue")
        self._orders: dict[str, Order] = {}
        self.order: Callable[[str], Order | None] = self._orders.get
        """``order(client_order_id)``: our order of that id, or None. The registry's own ``get``, not a method
        calling it: risk reads it on every fill and cancel of a run (issue 19: a Python frame less each time)."""
        self._open: dict[str, Order] = {}
        self.refused_reports = 0
        self.anomalies: list[str] = []

    # -- component ----------------------------------------------------------------------------------------------

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(OrderReport, self.on_report)  # every venue report: the transition table judges each

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    # -- commands (from the risk engine only) -------------------------------------------------------------------

    def execute(self, command: Command) -> None:
        if isinstance(command, SubmitOrder):
            cid = command.client_order_id
            name = command.venue or self.default_venue
            venue = self._venues.get(name)
            if venue is None:
                raise ConfigError(f"order {cid} names unknown venue {name!r}", field="venue")
            orders = self._orders
            if cid in orders:
                raise ConfigError(
                    f"client order id {cid!r} was used before; ids must be unique per run", field="client_order_id"
                )
            ts = command.ts_init  # ``Order.of(command, name)`` without its frame, on every order
            order = Order(*submitted_terms(command), "", name, ts_submitted=ts, ts_last=ts)
            orders[cid] = order
            self._open[cid] = order
            venue.send(command)
            return
        existing = self._orders.get(command.client_order_id)
        name = existing.venue if existing is not None else self.default_venue
        self._venues[name].send(command)  # the venue answers unknown or closed orders with a reject event

    def restore(self, state: VenueState) -> None:
        """Know again the orders ``state``'s venue still works for us (a restarted node, before its run).

        Each becomes an open order routed to that venue, with what already filled, so that a cancel for it goes
        there and its later fills apply through the transition table. Its client order id counts as used. Fails
        closed: an unknown venue, an id already known, or a fill larger than the order raises before anything
        changes.
        """
        if state.venue not in self._venues:
            raise ConfigError(f"restored state names unknown venue {state.venue!r}", field="venue")
        for vo in state.open_orders:
            if vo.client_order_id in self._orders:
                raise EngineError(f"restored order {vo.client_order_id!r} is already known to this node")
            if not 0 <= vo.filled_quantity < vo.quantity:
                raise EngineError(
                    f"restored order {vo.client_order_id!r} has filled {vo.filled_quantity} of {vo.quantity}: "
                    "an open order has shares left"
                )
        if len({vo.client_order_id for vo in state.open_orders}) != len(state.open_orders):
            raise EngineError(f"restored state of {state.venue} lists a client order id twice")
        for vo in state.open_orders:
            command = SubmitOrder(
                ts_event=vo.ts_submitted,
                ts_init=vo.ts_submitted,
                strategy_id=vo.strategy_id,
                client_order_id=vo.client_order_id,
                symbol=vo.symbol,
                side=vo.side,
                order_type=vo.order_type,
                quantity=vo.quantity,
                price=vo.price,
                stop_price=vo.stop_price,
                time_in_force=vo.time_in_force,
                venue=state.venue,
            )
            order = Order.of(command, state.venue)
            order.venue_order_id = vo.venue_order_id
            order.filled_quantity = vo.filled_quantity
            order.filled_notional = vo.filled_notional
            if vo.filled_quantity:
                order.status = OrderStatus.PARTIALLY_FILLED
            else:  # an order the venue has not accepted yet may still be rejected: it stays SUBMITTED until then
                order.status = OrderStatus.ACCEPTED if vo.accepted else OrderStatus.SUBMITTED
            order.ts_last = state.ts
            self._orders[vo.client_order_id] = order
            self._open[vo.client_order_id] = order

    # -- reports ------------------------------------------------------------------------------------------------

    def on_report(self, event: OrderReport) -> None:
        cid = event.client_order_id
        order = self._orders.get(cid)
        if order is None:
            return  # another system's order (not routed through this engine)
        # the accept and the fill, every order's two reports: ``order.apply(event)``'s steps without its frame (the
        # same table, the same overfill refusal; ``apply`` stays the reference, which tests hold these to); any
        # other report, or one these would refuse, goes through ``apply`` itself
        if type(event) is OrderFilled:
            nxt = TRANSITIONS_BY_ID.get((id(order.status), OrderFilled))
            qty = event.quantity
            filled = order.filled_quantity + qty
            if nxt is not None and filled <= order.quantity:
                order.filled_quantity = filled
                order.filled_notional += event.price * qty
                if filled == order.quantity:
                    nxt = _FILLED
                order.status = nxt
                order.ts_last = event.ts_init
                if id(nxt) not in OPEN_IDS:
                    self._open.pop(cid, None)
                return
        elif type(event) is OrderAccepted:
            nxt = TRANSITIONS_BY_ID.get((id(order.status), OrderAccepted))
            if nxt is not None:
                order.venue_order_id = event.venue_order_id
                order.status = nxt
                order.ts_last = event.ts_init
                if id(nxt) not in OPEN_IDS:
                    self._open.pop(cid, None)
                return
        if not order.apply(event):
            self.refused_reports += 1
            self.anomalies.append(f"{type(event).__name__} for {cid} refused in status {order.status.value}")
            return
        if id(order.status) not in OPEN_IDS:  # ``order.is_open`` without its property's frame, twice an order
            self._open.pop(cid, None)

    # -- read view ----------------------------------------------------------------------------------------------

    def open_orders(self, symbol: str | None = None, strategy_id: str | None = None) -> Iterator[Order]:
        for order in self._open.values():
            if (symbol is None or order.symbol == symbol) and (strategy_id is None or order.strategy_id == strategy_id):
                yield order

    def orders(self) -> Iterator[Order]:
        return iter(self._orders.values())
