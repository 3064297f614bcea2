"""What a strategy may read and do, handed to it by the node that runs it.

Kept apart from ``Strategy`` because it is the node's side of the contract: the assembly builds one context and binds
every strategy to it, and a strategy cannot tell from it which driver (backtest or live) runs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from tapeflow.execution.order_ids import ClientOrderIds

if TYPE_CHECKING:
    from tapeflow.book.keeper import BookKeeper
    from tapeflow.engine.kernel import Kernel
    from tapeflow.execution.orders import Order


class OrderSource(Protocol):
    def open_orders(self, symbol: str | None = None, strategy_id: str | None = None) -> Iterator[Order]: ...

    def order(self, client_order_id: str) -> Order | None: ...


class PositionSource(Protocol):
    def position(self, symbol: str) -> Any: ...


class Pending(msgspec.Struct, frozen=True, kw_only=True):
    """Shares of one symbol that this strategy's open orders may still buy and sell (both >= 0)."""

    buy: int = 0
    sell: int = 0

    @property
    def net(self) -> int:
        """Signed change to the position if every pending order filled (buys positive)."""
        return self.buy - self.sell


class TradingContext:
    """What a strategy may read and do; built once by the backtest or live assembly."""

    def __init__(
        self,
        kernel: Kernel,
        *,
        books: BookKeeper | None = None,
        orders: OrderSource | None = None,
        portfolio: PositionSource | None = None,
        compute_delay_ns: int = 0,
        order_ids: ClientOrderIds | None = None,
    ) -> None:
        self.kernel = kernel
        self.books = books
        self.orders = orders
        self.portfolio = portfolio
        self.compute_delay_ns = compute_delay_ns
        self.order_ids = order_ids
        """Where client order ids come from (the node's, shared by its strategies); None: a counter per strategy."""
