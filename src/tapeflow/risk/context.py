"""What the rules may read: books, the portfolio, our open orders, trading status and the clock.

The context is rebuilt around each command (``begin``) so that values several rules need, such as the reference
price of the order or what the account would hold if it filled, are computed once per command, lazily, by the
first rule that asks: the pipeline runs on the tick-to-trade path and each rule must stay a handful of
operations.

Open orders are kept in an incremental ledger (``risk/ledger.py``) updated when an order passes and when the venue
reports on it.
"""

from __future__ import annotations

import datetime
from collections import deque
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from tapeflow.model.enums import MarketStatus, OrderType, Side
from tapeflow.model.orders import ModifyOrder, SubmitOrder
from tapeflow.model.prices import NO_PRICE
from tapeflow.model.sessions import ExchangeCalendar, SessionCalendar
from tapeflow.risk.ledger import Impl, open_order_ledger

if TYPE_CHECKING:
    from collections.abc import Iterator
    from fractions import Fraction

    from tapeflow.book.keeper import BookKeeper
    from tapeflow.execution.orders import Order

NY = ZoneInfo("America/New_York")
NS = 1_000_000_000
_UNSET = -1
# enum members bound once: reading one through its class (``Side.BUY``) took about 0.1 us on CPython 3.11 here,
# a plain class attribute 0.03, and the rules compare against them on every order (issue 19)
_BUY = Side.BUY
_SELL = Side.SELL
_STOP = OrderType.STOP


class OrderRegistry(Protocol):
    def order(self, client_order_id: str) -> Order | None: ...

    def open_orders(self, symbol: str | None = None, strategy_id: str | None = None) -> Iterator[Order]: ...


class AccountView(Protocol):
    cash: int

    def quantity(self, symbol: str) -> int: ...

    def mark_price(self, symbol: str) -> Fraction | None: ...

    def mark_x2(self, symbol: str) -> int | None: ...

    def gross_exposure(self) -> int: ...

    def net_exposure(self) -> int: ...

    def exposures(self) -> tuple[int, int]:
        """``(gross_exposure(), net_exposure())`` in one pass."""
        ...


class NyCalendar:
    """New York day boundaries and the day's session windows, loaded once per day (integer compares after).

    The windows come from the exchange calendar (``SessionCalendar``): none on holidays and closures, the regular
    session ending at 13:00 on half days; pre-market from 04:00 to the open, post-market for four hours after the
    close.
    """

    def __init__(self, sessions: SessionCalendar | None = None) -> None:
        self.sessions = sessions if sessions is not None else ExchangeCalendar("XNYS")
        self.day_start = 0
        self.day_end = 0
        self._bounds: dict[str, tuple[int, int]] = {}

    def _load(self, ts: int) -> None:
        day = datetime.datetime.fromtimestamp(ts // NS, tz=NY).date()
        nxt = day + datetime.timedelta(days=1)
        self.day_start = _ns(day, 0, 0)
        self.day_end = _ns(nxt, 0, 0)
        session = self.sessions.session(day)
        self._bounds = (
            {}
            if session is None
            else {
                "pre": (session.pre_open, session.open),
                "regular": (session.open, session.close),
                "post": (session.close, session.post_close),
            }
        )

    def day_of(self, ts: int) -> int:
        """The start (ns) of the New York day holding ``ts``."""
        if not self.day_start <= ts < self.day_end:
            self._load(ts)
        return self.day_start

    def bounds(self, session: str) -> tuple[int, int]:
        """Start and end (ns) of ``session`` on the day last loaded (the day of the last ``session_of``)."""
        return self._bounds[session]

    def session_of(self, ts: int) -> str | None:
        """The session ``ts`` falls in ("pre", "regular", "post"), None at night and on non-trading days."""
        self.day_of(ts)
        for name, (start, end) in self._bounds.items():
            if start <= ts < end:
                return name
        return None


def _ns(day: datetime.date, hour: int, minute: int) -> int:
    return int(datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY).timestamp()) * NS


class RiskContext:
    """Read access for the rules, plus per-command memos. Built by the assembly, bound by the engine."""

    def __init__(
        self,
        *,
        books: BookKeeper | None = None,
        portfolio: AccountView | None = None,
        orders: OrderRegistry | None = None,
        sessions: SessionCalendar | None = None,
        impl: Impl = "auto",
    ) -> None:
        """``impl`` chooses the implementation of the ledger (``open_order_ledger``), of the throttles' token
        buckets (``throttle.throttle``) and of the duplicate table's fast check (``DuplicateOrder``); the trip
        windows take theirs from ``build_trips``."""
        self.impl: Impl = impl
        self.books = books
        self.portfolio = portfolio
        self.orders = orders
        self.ledger = open_order_ledger(impl)
        self.calendar = NyCalendar(sessions)
        self.status: dict[str, MarketStatus] = {}
        self.now = 0
        self.modifying = False
        """True while the command being checked is a ``ModifyOrder`` (presented as the order it would become)."""
        self._ref = _UNSET
        self._projected = _UNSET
        self._reducing: bool | None = None
        self.cached_gross = _UNSET
        self.cached_net: int | None = None
        """What ``gross()`` and ``net()`` return, kept until the next fill, quote or bar (-1 and None: not yet):
        public so that the fast path reads them without a call; only ``revalue`` and those methods write them.
        Valid only while ``moved`` is empty."""
        self.moved: deque[object] = deque(maxlen=1)
        """Non-empty when a fill, quote or bar came since the exposures were cached: the engine subscribes its
        ``append`` to those events. A C method holding at most the last event, not a Python ``revalue`` call: the
        tick backtest sends every quote here, and the call cost ~35 ns of a quote's ~680 (issue 19). The caches
        are forgotten when next read, so quotes between two orders cost an append each and nothing more."""
        self._loss_day = -1
        self._day_equity = 0

    def begin(self, now: int, modifying: bool) -> None:
        self.now = now
        self.modifying = modifying
        self._ref = _UNSET
        self._projected = _UNSET
        self._reducing = None

    def revalue(self, event: object = None) -> None:
        """Forget the cached exposures: a fill moved a position or a quote or bar moved a mark."""
        self.moved.clear()
        self.cached_gross = _UNSET
        self.cached_net = None

    def _exposures(self) -> None:
        """After a move, both exposures in one pass over the positions (a bar backtest moves a mark every bar, and
        the account rules read both on every order: issue 19); without a move each is computed alone, as before."""
        self.moved.clear()
        portfolio = self.portfolio
        self.cached_gross, self.cached_net = portfolio.exposures() if portfolio is not None else (0, 0)

    def gross(self) -> int:
        """The portfolio's gross exposure (positions only), kept until the next fill, quote or bar."""
        if self.moved:
            self._exposures()
        elif self.cached_gross == _UNSET:
            self.cached_gross = self.portfolio.gross_exposure() if self.portfolio is not None else 0
        return self.cached_gross

    def net(self) -> int:
        if self.moved:
            self._exposures()
        elif self.cached_net is None:
            self.cached_net = self.portfolio.net_exposure() if self.portfolio is not None else 0
        net = self.cached_net
        assert net is not None  # set just above
        return net

    def equity(self) -> int:
        """Net liquidation value: cash plus the marked value of the positions."""
        return (self.portfolio.cash if self.portfolio is not None else 0) + self.net()

    def daily_loss(self) -> int:
        """Loss since the New York day began (since the engine started on its first day); negative is a gain.

        The day's baseline is the equity at the first command (or start) of the day: equity includes realized
        and unrealized PnL net of fees, so the difference is exactly the day's PnL.
        """
        day = self.calendar.day_of(self.now)
        if day != self._loss_day:
            self._loss_day = day
            self._day_equity = self.equity()
        return self._day_equity - self.equity()

    def day_baseline(self, now: int) -> int | None:
        """The day's baseline equity when ``now`` falls in the day it was taken for, else None: the first command
        of a day takes it (``daily_loss``), and that is the rule-by-rule pipeline's job."""
        calendar = self.calendar
        start = calendar.day_start
        if self._loss_day != start or not start <= now < calendar.day_end:
            return None
        return self._day_equity

    def ref_price(self, order: SubmitOrder) -> int:
        """The price to value ``order`` at: its limit, its stop, else the far side of the book, the mid, the
        mark; ``NO_PRICE`` when nothing is known (rules that need a value then refuse the order)."""
        if self._ref != _UNSET:
            return self._ref
        price = order.price
        if price == NO_PRICE and order.order_type is _STOP:
            price = order.stop_price
        if price == NO_PRICE and self.books is not None:
            book = self.books.book(order.symbol)
            if book is not None:
                price = book.best_ask if order.side is _BUY else book.best_bid
        if price == NO_PRICE and self.portfolio is not None:
            # the mark rounded up, from the portfolio's exact doubled integer: ``mark_price`` builds a ``Fraction``
            # per call, ~15% of a bar backtest's order path (issue 19); ceil(x2 / 2) is the same number
            mark_x2 = self.portfolio.mark_x2(order.symbol)
            if mark_x2 is not None:
                price = -(-mark_x2 // 2)
        self._ref = price
        return price

    def position(self, symbol: str) -> int:
        return self.portfolio.quantity(symbol) if self.portfolio is not None else 0

    def projected_position(self, order: SubmitOrder) -> int:
        """Signed shares held if this order and every open order on its side filled (the worst case)."""
        if self._projected != _UNSET:
            return self._projected
        open_same = self.ledger.side(order.symbol, order.side).shares - self._own_leaves(order)
        qty = self.position(order.symbol)
        projected = qty + open_same + order.quantity if order.side is _BUY else qty - open_same - order.quantity
        self._projected = projected
        return projected

    def reducing(self, order: SubmitOrder) -> bool:
        """True when the order can only bring the position closer to flat, open orders on its side included."""
        if self._reducing is None:
            qty = self.position(order.symbol)
            projected = self.projected_position(order)
            if qty > 0:
                self._reducing = order.side is _SELL and projected >= 0
            else:
                self._reducing = qty < 0 and order.side is _BUY and projected <= 0
        return self._reducing

    def open_notional(self, order: SubmitOrder) -> tuple[int, int]:
        """Open buy and sell notional of the order's symbol, excluding the order a modify replaces."""
        ledger = self.ledger
        buy = ledger.side(order.symbol, _BUY).notional
        sell = ledger.side(order.symbol, _SELL).notional
        if self.modifying:
            entry = ledger.entry(order.client_order_id)
            if entry is not None:
                if entry[2] is _BUY:
                    buy -= entry[3] * entry[4]
                else:
                    sell -= entry[3] * entry[4]
        return buy, sell

    def _own_leaves(self, order: SubmitOrder) -> int:
        if not self.modifying:
            return 0
        entry = self.ledger.entry(order.client_order_id)
        return entry[3] if entry is not None and entry[2] is order.side else 0


def proposed_order(command: ModifyOrder, existing: Order | None) -> SubmitOrder | None:
    """The order a modify would leave working, for the rules to check like a new one; None when the order is
    unknown or closed (nothing to check: the venue answers with a reject)."""
    if existing is None or not existing.is_open:
        return None
    return SubmitOrder(
        ts_event=command.ts_event,
        ts_init=command.ts_init,
        strategy_id=command.strategy_id,
        client_order_id=command.client_order_id,
        symbol=existing.symbol,
        side=existing.side,
        order_type=existing.order_type,
        quantity=max(command.quantity - existing.filled_quantity, 1),
        price=command.price if command.price != NO_PRICE else existing.price,
        stop_price=command.stop_price if command.stop_price != NO_PRICE else existing.stop_price,
        time_in_force=existing.time_in_force,
        venue=existing.venue,
    )
