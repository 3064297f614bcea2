"""Small fakes for risk tests: a book, a portfolio, a recording venue, and a kernel with a risk engine on it."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

from tapeflow.engine.kernel import Kernel
from tapeflow.execution.engine import ExecutionEngine
from tapeflow.model import CancelOrder, Event, ModifyOrder, OrderType, Side, SubmitOrder
from tapeflow.risk.build import build_kill_switch, build_rules, build_trips
from tapeflow.risk.config import AccountChecks, FlowChecks, KillSwitchConfig, OrderChecks, RiskConfig
from tapeflow.risk.context import RiskContext
from tapeflow.risk.engine import RiskEngine
from tapeflow.risk.fast import BIG, _render
from tapeflow.risk.ledger import Impl, OpenOrderLedger

T0 = 1_718_978_400_000_000_000
"""2024-06-21 10:00:00 New York (a Friday, regular session)."""
MS = 1_000_000
SYM = "AAPL"
BID = 1_000_000  # $100.00
ASK = 1_000_100  # $100.01
FUSED_DEFAULT = True
"""What a ``Rig`` built without ``fused=`` uses; the ``risk_path`` fixture (``conftest.py``) switches it."""


class FakeBook:
    """Best prices and integrity flags; ``crossed`` is set by hand, as a real book's integrity would set it."""

    def __init__(self, bid: int = BID, ask: int = ASK, stale: bool = False, crossed: bool = False) -> None:
        self.best_bid = bid
        self.best_ask = ask
        self.stale = stale
        self.crossed = crossed

    @property
    def trustworthy(self) -> bool:
        return not self.stale and not self.crossed


class FakeBooks:
    def __init__(self, **books: FakeBook) -> None:
        self.books = books or {SYM: FakeBook()}

    def book(self, symbol: str) -> FakeBook | None:
        return self.books.get(symbol)


class FakePortfolio:
    def __init__(self, cash: int = 1_000_000 * 10_000, positions: dict[str, int] | None = None) -> None:
        self.cash = cash
        self.positions = positions or {}
        self.mark = Fraction(BID + ASK, 2)

    def quantity(self, symbol: str) -> int:
        return self.positions.get(symbol, 0)

    def mark_price(self, symbol: str) -> Fraction | None:
        return self.mark

    def mark_x2(self, symbol: str) -> int | None:
        """Twice ``mark``, exact as the real portfolio's (a test sets ``mark`` to halves or ints only)."""
        if self.mark is None:
            return None
        doubled = Fraction(self.mark) * 2
        assert doubled.denominator == 1, "a mark must be a whole number of half price units"
        return int(doubled)

    def _values(self) -> list[int]:
        return [int(q * self.mark) for q in self.positions.values()]

    def gross_exposure(self) -> int:
        return sum(abs(v) for v in self._values())

    def exposures(self) -> tuple[int, int]:
        return self.gross_exposure(), self.net_exposure()

    def net_exposure(self) -> int:
        return sum(self._values())


class RecordingVenue:
    name = "SIM"

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, command: Any) -> None:
        self.sent.append(command)


class Rig:
    """A kernel with an execution engine on a recording venue and a risk engine built from ``config``."""

    def __init__(
        self,
        config: RiskConfig | None = None,
        *,
        books: FakeBooks | None = None,
        portfolio: FakePortfolio | None = None,
        start: int = T0,
        fused: bool | None = None,
        impl: Impl = "auto",
    ) -> None:
        """``impl``: the implementation of the open-order ledger, the throttles' buckets and the trip windows."""
        self.config = config or RiskConfig()
        self.venue = RecordingVenue()
        self.execution = ExecutionEngine([self.venue])
        self.books = books if books is not None else FakeBooks()
        self.portfolio = portfolio if portfolio is not None else FakePortfolio()
        self.ctx = RiskContext(books=self.books, portfolio=self.portfolio, orders=self.execution, impl=impl)  # type: ignore[arg-type]
        self.engine = RiskEngine(
            self.execution,
            build_rules(self.config, self.ctx),
            context=self.ctx,
            kill_switch=build_kill_switch(self.config),
            trips=build_trips(self.config, impl),
            fused=FUSED_DEFAULT if fused is None else fused,
            chase=self.config.kill_switch.chase_timing(),
        )
        self.kernel = Kernel()
        self.seen: list[Event] = []
        self.kernel.subscribe(Event, self.seen.append)
        self.kernel.add(self.execution)
        self.kernel.add(self.engine)
        self.kernel.start(at=start)
        self.kernel.advance(start)  # deliver what on_start emitted (a restored kill switch)
        self.n = 0

    def submit(
        self,
        quantity: int = 100,
        price: int = BID,
        side: Side = Side.BUY,
        *,
        at: int | None = None,
        symbol: str = SYM,
        order_type: OrderType | None = None,
        strategy: str = "s",
    ) -> SubmitOrder:
        self.n += 1
        ts = self.kernel.now if at is None else at
        cmd = SubmitOrder(
            ts_event=ts,
            ts_init=ts,
            strategy_id=strategy,
            client_order_id=f"o{self.n}",
            symbol=symbol,
            side=side,
            order_type=order_type or (OrderType.LIMIT if price else OrderType.MARKET),
            quantity=quantity,
            price=price,
        )
        self.kernel.run([cmd])
        return cmd

    def cancel(self, cid: str, *, at: int | None = None, strategy: str = "s") -> None:
        ts = self.kernel.now if at is None else at
        self.kernel.run([CancelOrder(ts_event=ts, ts_init=ts, strategy_id=strategy, client_order_id=cid, symbol=SYM)])

    def modify(self, cid: str, quantity: int, price: int = 0, *, at: int | None = None) -> None:
        ts = self.kernel.now if at is None else at
        self.kernel.run(
            [
                ModifyOrder(
                    ts_event=ts,
                    ts_init=ts,
                    strategy_id="s",
                    client_order_id=cid,
                    symbol=SYM,
                    quantity=quantity,
                    price=price,
                )
            ]
        )

    def sent_submits(self) -> list[SubmitOrder]:
        return [c for c in self.venue.sent if isinstance(c, SubmitOrder)]

    def last_rule(self) -> str | None:
        from tapeflow.model import RiskRejected

        rejects = [e for e in self.seen if isinstance(e, RiskRejected)]
        return rejects[-1].rule if rejects else None

    def passed(self, cmd: SubmitOrder) -> bool:
        return any(c is cmd for c in self.venue.sent)


def state_path(tmp: Path) -> str:
    return str(tmp / "kill.json")


Throttle = tuple[int | None, int]
"""(orders per second or None, burst) of one token bucket."""


def throttles_only(message: Throttle, strategy: Throttle, symbol: Throttle) -> RiskConfig:
    """Every limit out of the way but the three token buckets, each with its own rate and burst."""
    return RiskConfig(
        order=OrderChecks(max_quantity=None, max_notional_usd=None, collar_bps=None, max_spread_bps=None),
        account=AccountChecks(max_position=None, initial_margin_bps=None),
        flow=FlowChecks(
            messages_per_second=message[0],
            message_burst=message[1],
            strategy_orders_per_second=strategy[0],
            strategy_burst=strategy[1],
            symbol_orders_per_second=symbol[0],
            symbol_burst=symbol[1],
            duplicate_window_ms=None,
            max_open_orders=None,
            max_open_orders_total=None,
        ),
        kill_switch=KillSwitchConfig(runaway_orders=None, max_rejects=None),
    )


def ledger_state(ledger: OpenOrderLedger, empty: bool = True) -> dict[str, Any]:
    """Everything a reader of the open-order ledger sees: entries, each side's totals, counts. ``empty=False``
    leaves out sides with nothing open (the rules create them when they read a side, the fast path does not)."""

    def sides(by_symbol: dict[str, Any]) -> dict[str, tuple[int, int]]:
        totals = {s: (v.shares, v.notional) for s, v in by_symbol.items()}
        return totals if empty else {s: t for s, t in totals.items() if t != (0, 0)}

    return {
        "entries": dict(ledger.entries()),
        "buys": sides(ledger.buys),
        "sells": sides(ledger.sells),
        "by_strategy": dict(ledger.by_strategy),
        "totals": (ledger.buy_notional, ledger.sell_notional, len(ledger)),
    }


def rendered_parts(
    rules: list[Any], env: dict[str, Any], *, modifying: bool = False
) -> tuple[list[tuple[Any, Any, int]], list[str], list[Any]]:
    """Each rule's fast part rendered as the composer renders it (suffix ``_r{i}``; its names, and a limit that is
    not per symbol, put in ``env``), for the compiled groups' tests to run against the group built from the same
    parts: ``(rule, part, column)`` per part with code, the code of each, and the rules read through a column of the
    per-symbol limits row (``column`` indexes it; -1: none)."""
    members: list[tuple[Any, Any, int]] = []
    codes: list[str] = []
    columns: list[Any] = []
    for i, rule in enumerate(rules):
        part = rule.fast_check_modify() if modifying else rule.fast_check()
        if not part.code:
            continue
        column = -1
        if "LIMIT" in part.code:
            if rule.per_symbol:
                column = len(columns)
                columns.append(rule)
            else:
                env[f"LIMIT_r{i}"] = BIG if rule.limit is None else rule.limit
        code, _, _ = _render(part.code, part.spend, frozenset(part.names), f"_r{i}", column)
        env.update({f"{name}_r{i}": value for name, value in part.names.items()})
        members.append((rule, part, column))
        codes.append(code)
    return members, codes, columns
