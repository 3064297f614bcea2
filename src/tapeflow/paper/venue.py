"""The paper venue: one trading node over a recorded tape, advanced only when asked (stepped mode).

``PaperVenue`` builds the node with ``tapeflow.node.build_node`` (the simulated exchange, the configured latency,
fees, risk and portfolio: the same assembly a backtest runs) and one strategy, the ``AccountGateway``, through which
every client order enters. Time moves only in ``step(until_ns)`` and ``step_events(n)``, so a test decides exactly
which tape events happen between two requests, and the same requests on the same tape and seed give the same
answers, ids included.

A request is applied at the node's current event time. After a submit, everything due at that very time runs at
once (``Kernel.advance`` to now): with no compute delay risk decides before the answer is written, so an order risk
refuses is answered 403 as Alpaca answers an order it refuses at the door. Later decisions (the exchange's, after
the order-entry latency) arrive when time is stepped past them.

The REST handlers call the venue from the server's event loop while a stepping request may run in another thread:
one lock makes every call atomic with respect to the node (the node itself is single-threaded by design).
"""

from __future__ import annotations

import datetime
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from fractions import Fraction
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from tapeflow.model.errors import RequestError
from tapeflow.model.events import Event
from tapeflow.node import NodeConfig, build_node
from tapeflow.paper.alpaca_orders import FORBIDDEN, NOT_FOUND, AlpacaOrder, OrderRequest, asset_id, money, rfc3339
from tapeflow.paper.gateway import AccountGateway, Hub
from tapeflow.paper.market_history import TapeHistory

NEW_YORK = ZoneInfo("America/New_York")
_DAY = datetime.timedelta(days=1)
_CHUNK = 4096
"""Events handed to the kernel per call while stepping to a time (bounded memory on a long step)."""


def _decimal(value: Fraction) -> str:
    """An exact ratio as a decimal string, truncated to 10 places (beyond any price tick or percentage shown)."""
    scaled = abs(value.numerator) * 10**10 // value.denominator
    digits = f"{scaled:011d}"
    text = f"{digits[:-10]}.{digits[-10:]}".rstrip("0").rstrip(".")
    return "-" + text if value < 0 and text != "0" else text


def _dollars(units: Fraction | int) -> str:
    """Price units (possibly a Fraction: an average cost, a mid) as dollars."""
    return _decimal(Fraction(units) / 10_000)


class Recorder(Protocol):
    """Where state-changing calls are written before they are applied (``tapeflow.paper.journal.Journal``)."""

    def record(self, ts: int, op: str, args: dict[str, Any]) -> None: ...


class PaperVenue:
    """A node over ``tape`` (events in ``ts_init`` order, as a reader yields them), stepped on demand."""

    def __init__(
        self,
        tape: Iterable[Event],
        *,
        config: NodeConfig | None = None,
        seed: int = 0,
        trade_hub: Hub | None = None,
        data_hub: Hub | None = None,
        symbols: Iterable[str] = (),
    ) -> None:
        """``symbols``: what ``/v2/assets`` knows before the tape has shown it (any symbol with a book is known)."""
        self.gateway = AccountGateway(seed=seed, trade_hub=trade_hub, data_hub=data_hub)
        self.node = build_node(config if config is not None else NodeConfig(), [self.gateway])
        self.kernel = self.node.kernel
        self.seed = seed
        self.symbols = set(symbols)
        self.lock = threading.RLock()
        self.history = TapeHistory().attach(self.kernel)
        """Every trade, quote and bar the node dispatches, for market data REST: from the first event on, so a
        query never misses what happened before someone asked."""
        self.journal: Recorder | None = None
        """Set by ``Journal.open``: every state-changing call is recorded there, at the venue's time, first."""
        self._source: Iterator[Event] = iter(self.node.delayed(tape))
        self._next: Event | None = next(self._source, None)
        self.kernel.start(self._next.ts_init if self._next is not None else 0)

    def _record(self, op: str, **args: Any) -> None:
        if self.journal is not None:
            self.journal.record(self.now, op, args)

    # -- time -------------------------------------------------------------------------------------------------------

    @property
    def now(self) -> int:
        """The node's event time (what every order, fill and clock answer is stamped with)."""
        return self.kernel.now

    @property
    def done(self) -> bool:
        """Whether the tape has no event left."""
        return self._next is None

    def _take(self, count: int, until: int | None) -> list[Event]:
        batch: list[Event] = []
        nxt = self._next
        while nxt is not None and len(batch) < count and (until is None or nxt.ts_init <= until):
            batch.append(nxt)
            nxt = next(self._source, None)
        self._next = nxt
        return batch

    def step_events(self, n: int) -> int:
        """Dispatch the next ``n`` tape events (fewer at the end of the tape); returns how many."""
        if n < 0:
            raise RequestError(422, 40010001, f"events must be >= 0, got {n}")
        with self.lock:
            self._record("step_events", n=n)
            batch = self._take(n, None)
            self.kernel.run(batch)
            return len(batch)

    def step(self, until_ns: int) -> int:
        """Dispatch every tape event up to ``until_ns`` and everything scheduled up to it; returns how many."""
        with self.lock:
            self._record("step", until_ns=until_ns)
            if until_ns < self.now:
                raise RequestError(422, 40010001, f"until {until_ns} is before the venue's time {self.now}")
            total = 0
            while batch := self._take(_CHUNK, until_ns):
                self.kernel.run(batch)
                total += len(batch)
            self.kernel.advance(until_ns)
            return total

    # -- orders -----------------------------------------------------------------------------------------------------

    def submit(self, request: OrderRequest) -> AlpacaOrder:
        """A new order; 403 when risk refuses it at once (see the module docstring)."""
        with self.lock:
            self._record("submit", **asdict(request))
            return self._submit(request)

    def _submit(self, request: OrderRequest) -> AlpacaOrder:
        with self.lock:
            if not self.known(request.symbol):
                raise RequestError(422, 40010001, f'asset "{request.symbol}" not found')
            order = self.gateway.place(request)
            self.kernel.advance(self.now)
            refusal = self.gateway.refused.get(order.cid)
            if refusal is not None:
                raise RequestError(403, FORBIDDEN, f"{refusal.reason} ({refusal.rule})")
            return order

    def order(self, order_id: str) -> AlpacaOrder:
        try:
            uuid.UUID(order_id)
        except ValueError as exc:  # Alpaca's answer to an id that is no UUID at all
            raise RequestError(422, 40010001, "order_id is missing") from exc
        order = self.gateway.orders.get(order_id)
        if order is None:
            raise RequestError(404, NOT_FOUND, "order not found")
        return order

    def order_by_client_id(self, client_order_id: str) -> AlpacaOrder:
        order = self.gateway.by_client_id.get(client_order_id)
        if order is None:
            raise RequestError(404, NOT_FOUND, "order not found")
        return order

    def cancel(self, order_id: str) -> AlpacaOrder:
        with self.lock:
            self._record("cancel", order_id=order_id)
            order = self.order(order_id)
            self.gateway.request_cancel(order)
            self.kernel.advance(self.now)
            return order

    def cancel_all(self) -> list[AlpacaOrder]:
        """Every open order asked to cancel (those already pending are left as they are)."""
        with self.lock:
            self._record("cancel_all")
            asked = []
            for order in list(self.gateway.orders.values()):
                if order.is_open and order.status not in ("pending_cancel", "pending_replace"):
                    self.gateway.request_cancel(order)
                    asked.append(order)
            self.kernel.advance(self.now)
            return asked

    def replace(
        self, order_id: str, *, qty: int | None, limit_price: int | None, stop_price: int | None, client_id: str
    ) -> AlpacaOrder:
        with self.lock:
            self._record(
                "replace",
                order_id=order_id,
                qty=qty,
                limit_price=limit_price,
                stop_price=stop_price,
                client_id=client_id,
            )
            order = self.order(order_id)
            self.gateway.refused.pop(order.cid, None)
            new = self.gateway.request_replace(
                order, qty=qty, limit_price=limit_price, stop_price=stop_price, client_id=client_id
            )
            self.kernel.advance(self.now)
            refusal = self.gateway.refused.get(order.cid)
            if refusal is not None and new.status == "rejected":
                raise RequestError(403, FORBIDDEN, f"{refusal.reason} ({refusal.rule})")
            return new

    def orders(self) -> list[AlpacaOrder]:
        """Every order, oldest first."""
        return list(self.gateway.orders.values())

    def known(self, symbol: str) -> bool:
        return symbol in self.symbols or self.node.books.book(symbol) is not None

    # -- account ----------------------------------------------------------------------------------------------------

    def account(self) -> dict[str, Any]:
        """Alpaca's account object from the portfolio (a cash account: buying power is the cash)."""
        with self.lock:
            portfolio = self.node.portfolio
            views = portfolio.positions()
            long_value = sum(v.market_value for v in views if v.quantity > 0)
            short_value = sum(v.market_value for v in views if v.quantity < 0)
            cash, equity = portfolio.cash, portfolio.equity()
            power = money(max(cash, 0))
            return {
                "id": self.gateway.account_id,
                "account_number": "PA" + self.gateway.account_id[:8].upper(),
                "status": "ACTIVE",
                "crypto_status": "INACTIVE",
                "currency": "USD",
                "buying_power": power,
                "regt_buying_power": power,
                "daytrading_buying_power": "0",
                "non_marginable_buying_power": power,
                "options_buying_power": "0",
                "cash": money(cash),
                "accrued_fees": "0",
                "pending_transfer_in": "0",
                "pending_transfer_out": "0",
                "portfolio_value": money(equity),
                "equity": money(equity),
                "last_equity": money(portfolio.starting_cash),
                "long_market_value": money(long_value),
                "short_market_value": money(short_value),
                "initial_margin": "0",
                "maintenance_margin": "0",
                "last_maintenance_margin": "0",
                "sma": "0",
                "multiplier": "1",
                "pattern_day_trader": False,
                "trading_blocked": False,
                "transfers_blocked": False,
                "account_blocked": False,
                "trade_suspended_by_user": False,
                "shorting_enabled": True,
                "daytrade_count": 0,
                "created_at": rfc3339(self.kernel.now),
            }

    def positions(self) -> list[dict[str, Any]]:
        """Open positions in symbol order (flat ones are not positions to Alpaca)."""
        with self.lock:
            return [self._position(v.symbol) for v in self.node.portfolio.positions() if v.quantity]

    def position(self, symbol: str) -> dict[str, Any]:
        with self.lock:
            if not self.node.portfolio.quantity(symbol):
                raise RequestError(404, NOT_FOUND, "position does not exist")
            return self._position(symbol)

    def _position(self, symbol: str) -> dict[str, Any]:
        view = self.node.portfolio.position(symbol)
        mark = view.mark if view.mark is not None else view.avg_cost
        pl = view.unrealized
        plpc = _decimal(Fraction(pl, abs(view.cost_basis))) if view.cost_basis else "0"
        return {
            "asset_id": asset_id(symbol),
            "symbol": symbol,
            "exchange": "NASDAQ",
            "asset_class": "us_equity",
            "asset_marginable": True,
            "avg_entry_price": _dollars(view.avg_cost),
            "qty": str(view.quantity),
            "qty_available": str(view.quantity),
            "side": "long" if view.quantity > 0 else "short",
            "market_value": money(view.market_value),
            "cost_basis": money(view.cost_basis),
            "unrealized_pl": money(pl),
            "unrealized_plpc": plpc,
            "unrealized_intraday_pl": money(pl),
            "unrealized_intraday_plpc": plpc,
            "current_price": _dollars(mark),
            "lastday_price": _dollars(mark),
            "change_today": "0",
        }

    def close_position(self, symbol: str) -> AlpacaOrder:
        """A market order for the whole position, on the other side (Alpaca's ``DELETE /v2/positions/{symbol}``)."""
        with self.lock:
            self._record("close_position", symbol=symbol)
            held = self.node.portfolio.quantity(symbol)
            if not held:
                raise RequestError(404, NOT_FOUND, "position does not exist")
            side = "sell" if held > 0 else "buy"
            return self._submit(OrderRequest(symbol, abs(held), side, "market", "day"))

    # -- clock and assets ---------------------------------------------------------------------------------------------

    def clock(self) -> dict[str, Any]:
        """Alpaca's clock on the tape's time and the exchange's session calendar."""
        with self.lock:
            now = self.now
            sessions = self.node.sessions
            session = sessions.session_at(now)
            if session is None or now >= session.close:
                today = datetime.datetime.fromtimestamp(now // 1_000_000_000, NEW_YORK).date()
                session = sessions.next_session(today + _DAY)
            is_open = session.open <= now
            next_open = sessions.next_session(session.day + _DAY).open if is_open else session.open
            return {
                "timestamp": rfc3339(now),
                "is_open": is_open,
                "next_open": rfc3339(next_open),
                "next_close": rfc3339(session.close),
            }

    def asset(self, symbol: str) -> dict[str, Any]:
        with self.lock:
            if not self.known(symbol):
                raise RequestError(404, NOT_FOUND, f'asset "{symbol}" not found')
            return {
                "id": asset_id(symbol),
                "class": "us_equity",
                "exchange": "NASDAQ",
                "symbol": symbol,
                "name": symbol,
                "status": "active",
                "tradable": True,
                "marginable": True,
                "shortable": True,
                "easy_to_borrow": True,
                "fractionable": False,
                "attributes": [],
            }
