"""The execution engine: the one registry of our orders, and the router from risk to venues.

Only the risk engine calls ``execute``: a command that reaches this point has passed every pre-trade check. The
engine records the order, routes it to the venue client named by the command (or the default venue), and then
learns what happened from the venue's reports on the kernel queue, applying each through the order transition
table. Reports the table refuses are counted in ``refused_reports`` and kept in ``anomalies``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from tapeflow.execution.orders import Order
from tapeflow.execution.venue import Command, VenueClient
from tapeflow.model.errors import ConfigError
from tapeflow.model.orders import OrderReport, SubmitOrder

if TYPE_CHECKING:
    from tapeflow.engine.kernel import Kernel


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
            name = command.venue or self.default_venue
            venue = self._venues.get(name)
            if venue is None:
                raise ConfigError(f"order {command.client_order_id} names unknown venue {name!r}", field="venue")
            if command.client_order_id in self._orders:
                raise ConfigError(
                    f"client order id {command.client_order_id!r} was used before; ids must be unique per run",
                    field="client_order_id",
                )
            order = Order(command, name)
            self._orders[command.client_order_id] = order
            self._open[command.client_order_id] = order
            venue.send(command)
            return
        existing = self._orders.get(command.client_order_id)
        name = existing.venue if existing is not None else self.default_venue
        self._venues[name].send(command)  # the venue answers unknown or closed orders with a reject event

    # -- reports ------------------------------------------------------------------------------------------------

    def on_report(self, event: OrderReport) -> None:
        cid = event.client_order_id
        order = self._orders.get(cid)
        if order is None:
            return  # another system's order (not routed through this engine)
        if not order.apply(event):
            self.refused_reports += 1
            self.anomalies.append(f"{type(event).__name__} for {cid} refused in status {order.status.value}")
            return
        if not order.is_open:
            self._open.pop(cid, None)

    # -- read view ----------------------------------------------------------------------------------------------

    def order(self, client_order_id: str) -> Order | None:
        return self._orders.get(client_order_id)

    def open_orders(self, symbol: str | None = None, strategy_id: str | None = None) -> Iterator[Order]:
        for order in self._open.values():
            if (symbol is None or order.symbol == symbol) and (strategy_id is None or order.strategy_id == strategy_id):
                yield order

    def orders(self) -> Iterator[Order]:
        return iter(self._orders.values())
