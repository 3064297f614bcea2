"""Round trips (flat -> position -> flat, per symbol) and the trade-list statistics users of backtrader and LEAN
expect: count, win rate, average and largest win and loss, profit factor, expectancy, average holding time.

Money is exact: a trip's PnL is its cash flow (it starts and ends flat) minus its fees, in int 1/10,000 dollar;
averages are rounded half to even to the unit. A fill that goes through zero closes one trip and opens the next;
its fee is split between the two in proportion to shares (rounded down for the closing trip). A trip with PnL 0
is neither a win nor a loss. Statistics with nothing to average are None, never NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import msgspec


class RoundTrip(msgspec.Struct, frozen=True, kw_only=True):
    """One closed round trip; notionals are sums of ``shares * price`` (1/10,000 dollar)."""

    symbol: str
    direction: int
    """+1 long, -1 short."""
    ts_open: int
    ts_close: int
    quantity: int
    """Shares entered in total (equal to shares exited: the trip ends flat)."""
    entry_notional: int
    exit_notional: int
    fees: int
    pnl: int
    """Net of fees: ``direction * (exit_notional - entry_notional) - fees``."""

    @property
    def holding_ns(self) -> int:
        return self.ts_close - self.ts_open


class RoundTrips(msgspec.Struct, frozen=True, kw_only=True):
    """Closed round trips in closing order, and the symbols whose last trip was still open at the end."""

    trips: list[RoundTrip]
    open_symbols: list[str]

    @property
    def pnls(self) -> list[int]:
        return [trip.pnl for trip in self.trips]

    @property
    def count(self) -> int:
        return len(self.trips)

    @property
    def wins(self) -> int:
        return sum(1 for trip in self.trips if trip.pnl > 0)


class _Open:
    """A trip being built (mutable; becomes a ``RoundTrip`` when the position is flat again)."""

    __slots__ = ("direction", "entry", "exit", "fees", "position", "quantity", "ts_open")

    def __init__(self, direction: int, ts_open: int, quantity: int, price: int, fee: int) -> None:
        self.direction = direction
        self.ts_open = ts_open
        self.quantity = quantity
        self.entry = quantity * price
        self.exit = 0
        self.fees = fee
        self.position = direction * quantity

    def closed(self, symbol: str, ts_close: int) -> RoundTrip:
        return RoundTrip(
            symbol=symbol,
            direction=self.direction,
            ts_open=self.ts_open,
            ts_close=ts_close,
            quantity=self.quantity,
            entry_notional=self.entry,
            exit_notional=self.exit,
            fees=self.fees,
            pnl=self.direction * (self.exit - self.entry) - self.fees,
        )


def round_trips(
    symbols: Sequence[str],
    signs: Sequence[int],
    quantities: Sequence[int],
    prices: Sequence[int],
    fees: Sequence[int],
    ts: Sequence[int] | None = None,
) -> RoundTrips:
    """Round trips from fills in time order (``ts`` of each fill; all 0 when not given)."""
    times = ts if ts is not None else [0] * len(symbols)
    building: dict[str, _Open] = {}
    trips: list[RoundTrip] = []
    for symbol, t, sign, qty, price, fee in zip(symbols, times, signs, quantities, prices, fees, strict=True):
        trip = building.get(symbol)
        if trip is None:
            building[symbol] = _Open(sign, t, qty, price, fee)
            continue
        if sign == trip.direction:
            trip.quantity += qty
            trip.entry += qty * price
            trip.fees += fee
            trip.position += sign * qty
            continue
        closing = min(qty, abs(trip.position))
        closing_fee = fee * closing // qty
        trip.exit += closing * price
        trip.fees += closing_fee
        trip.position += sign * closing
        if trip.position == 0:
            trips.append(trip.closed(symbol, t))
            del building[symbol]
            if qty > closing:
                building[symbol] = _Open(sign, t, qty - closing, price, fee - closing_fee)
    open_symbols = sorted(building)
    return RoundTrips(trips=trips, open_symbols=open_symbols)


def hit_ratio(trips: RoundTrips) -> float | None:
    """Winning (PnL net of fees > 0) over all closed round trips: the win rate."""
    return trips.wins / trips.count if trips.count else None


class TradeStats(msgspec.Struct, frozen=True, kw_only=True):
    """Statistics of the closed round trips; money in int 1/10,000 dollar, losses negative."""

    count: int = 0
    wins: int = 0
    losses: int = 0
    win_rate: float | None = None
    avg_win: int | None = None
    avg_loss: int | None = None
    largest_win: int | None = None
    largest_loss: int | None = None
    profit_factor: float | None = None
    """Gross wins over gross losses (positive); None without a losing trip (it would be infinite)."""
    expectancy: int | None = None
    """Average PnL per trip, wins and losses together."""
    avg_holding_ns: int | None = None


def trade_stats(trips: RoundTrips) -> TradeStats:
    """The trade-list statistics of ``trips`` (see the module docstring for the conventions)."""
    pnls = trips.pnls
    if not pnls:
        return TradeStats()
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    gross_loss = -sum(losses)
    return TradeStats(
        count=len(pnls),
        wins=len(wins),
        losses=len(losses),
        win_rate=len(wins) / len(pnls),
        avg_win=_mean(wins),
        avg_loss=_mean(losses),
        largest_win=max(wins) if wins else None,
        largest_loss=min(losses) if losses else None,
        profit_factor=float(Fraction(sum(wins), gross_loss)) if gross_loss else None,
        expectancy=_mean(pnls),
        avg_holding_ns=_mean([trip.holding_ns for trip in trips.trips]),
    )


def _mean(values: list[int]) -> int | None:
    """Mean rounded half to even (``round`` of a Fraction), exact in integers."""
    return round(Fraction(sum(values), len(values))) if values else None
