"""A network venue stand-in for node tests: it records what it is sent and answers as a real adapter must."""

from __future__ import annotations

from tapeflow.engine.kernel import Kernel
from tapeflow.execution.venue import Command, refusal
from tapeflow.model.enums import LiquiditySide, Side
from tapeflow.model.orders import CancelOrder, OrderAccepted, OrderCancelled, OrderFilled, SubmitOrder
from tapeflow.model.venue_events import VenueConnected, VenueDisconnected, VenueReconnected


class FakeVenue:
    """Down until ``connect``; while down every command is answered with the reject naming the disconnection."""

    def __init__(self, name: str = "NET") -> None:
        self.name = name
        self.sent: list[Command] = []
        self.refused: list[Command] = []
        self.connected = False
        self.why = "not connected"
        self._kernel: Kernel | None = None

    @property
    def kernel(self) -> Kernel:
        assert self._kernel is not None
        return self._kernel

    def attach(self, kernel: Kernel) -> None:
        self._kernel = kernel

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    def connect(self, *, again: bool = False) -> None:
        now = self.kernel.now
        self.connected = True
        event = VenueReconnected if again else VenueConnected
        self.kernel.emit(event(ts_event=now, ts_init=now, venue=self.name))

    def disconnect(self, reason: str) -> None:
        now = self.kernel.now
        self.connected, self.why = False, reason
        self.kernel.emit(VenueDisconnected(ts_event=now, ts_init=now, venue=self.name, reason=reason))

    def send(self, command: Command) -> None:
        now = self.kernel.now
        if not self.connected:
            self.refused.append(command)
            self.kernel.emit(refusal(command, self.name, f"venue {self.name} disconnected: {self.why}", now))
            return
        self.sent.append(command)
        common = {
            "ts_event": now,
            "ts_init": now,
            "strategy_id": command.strategy_id,
            "client_order_id": command.client_order_id,
            "symbol": command.symbol,
            "venue": self.name,
        }
        if isinstance(command, SubmitOrder):
            self.kernel.emit(OrderAccepted(**common))
        elif isinstance(command, CancelOrder):
            self.kernel.emit(OrderCancelled(**common))

    def fill(self, cid: str, strategy_id: str, symbol: str, side: Side, price: int, quantity: int, leaves: int) -> None:
        now = self.kernel.now
        self.kernel.emit(
            OrderFilled(
                ts_event=now,
                ts_init=now,
                strategy_id=strategy_id,
                client_order_id=cid,
                symbol=symbol,
                side=side,
                price=price,
                quantity=quantity,
                leaves_quantity=leaves,
                liquidity_side=LiquiditySide.MAKER,
                venue=self.name,
            )
        )
