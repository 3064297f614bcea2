"""Performance metrics as pure functions of arrays: no kernel, no events, easy to check by hand.

Money goes in as ``int`` 1/10,000 dollar and comes out exact where it is money (drawdown, fees, PnL of round
trips); ratios (returns, Sharpe, Sortino, turnover, hit ratio) are floats. A ratio that is undefined (no returns,
zero volatility, no round trips) is ``None``, never NaN, so that the summary stays valid JSON.

Periodicity of Sharpe and Sortino (see docs/PORTFOLIO.md for the caveats):

- a run whose samples span more than one trading session is resampled to daily (last equity of each session,
  the first sample as the opening value) and annualized with 252 periods a year. A sample's session comes from
  the exchange calendar (``session_days``): its New York date, or the next session when that date does not trade
  (a weekend or holiday sample counts toward the next session), so holidays and closures make no empty days;
- otherwise every sample interval is a period, annualized with ``252 * 6.5 h / median sample interval``.

Risk-free rate 0; Sortino's downside deviation is ``sqrt(mean(min(r, 0)^2))`` over all periods (target 0).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from fractions import Fraction
from itertools import pairwise

import msgspec
import numpy as np
import numpy.typing as npt

from tapeflow.model.sessions import NEW_YORK, ExchangeCalendar, SessionCalendar

TRADING_DAYS = 252
SESSION_NS = 23_400 * 1_000_000_000
"""6.5 hours: the regular US equity session."""
DAY_NS = 86_400 * 1_000_000_000
_EPOCH = datetime.date(1970, 1, 1)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class Returns(msgspec.Struct, frozen=True, kw_only=True):
    """Period returns and how many such periods make a year (for annualization)."""

    values: list[float]
    periods_per_year: float
    periodicity: str
    """``"daily"`` or ``"per-sample"``."""


class Drawdown(msgspec.Struct, frozen=True, kw_only=True):
    """Largest fall from a running peak: as a fraction of that peak, and in money (each its own maximum)."""

    fraction: float
    money: int


class RoundTrips(msgspec.Struct, frozen=True, kw_only=True):
    """Round trips closed per symbol (flat -> non-zero -> flat), each with its PnL net of fees, in money units."""

    pnls: list[int]
    open_symbols: list[str]
    """Symbols whose last round trip was still open at the end (not counted)."""

    @property
    def count(self) -> int:
        return len(self.pnls)

    @property
    def wins(self) -> int:
        return sum(1 for pnl in self.pnls if pnl > 0)


def total_return(equity: Sequence[int] | IntArray) -> float | None:
    """Last over first equity sample, minus one; None without two samples or with a non-positive start."""
    if len(equity) < 2 or equity[0] <= 0:
        return None
    return float(Fraction(int(equity[-1]), int(equity[0])) - 1)


def session_days(ts: Sequence[int] | IntArray, sessions: SessionCalendar) -> IntArray:
    """The session each sample belongs to, as days since 1970-01-01 of the session's date.

    Vectorized; the time-zone database and the calendar are asked once per distinct day, never per sample. New
    York is 4-5 hours behind UTC, so a sample's New York date is its UTC date, or the day before while it is
    earlier than New York midnight of that UTC date.
    """
    times = np.asarray(ts, dtype=np.int64)
    utc_days = times // DAY_NS
    days, inverse = np.unique(utc_days, return_inverse=True)
    midnights = np.array([_ny_midnight_ns(int(d)) for d in days], dtype=np.int64)
    ny_days = np.where(times >= midnights[inverse], utc_days, utc_days - 1)
    dates, inverse = np.unique(ny_days, return_inverse=True)
    keys = np.array([_session_key(int(d), sessions) for d in dates], dtype=np.int64)
    return np.asarray(keys[inverse], dtype=np.int64)


def _ny_midnight_ns(day: int) -> int:
    d = _EPOCH + datetime.timedelta(days=day)
    return int(datetime.datetime(d.year, d.month, d.day, tzinfo=NEW_YORK).timestamp()) * 1_000_000_000


def _session_key(day: int, sessions: SessionCalendar) -> int:
    d = _EPOCH + datetime.timedelta(days=day)
    session = sessions.session(d) or sessions.next_session(d)
    return (session.day - _EPOCH).days


def period_returns(
    ts: Sequence[int] | IntArray, equity: Sequence[int] | IntArray, sessions: SessionCalendar | None = None
) -> Returns:
    """Returns at the periodicity described in the module docstring; ``sessions`` defaults to XNYS."""
    times = np.asarray(ts, dtype=np.int64)
    values = np.asarray(equity, dtype=np.int64)
    if len(times) < 2:
        return Returns(values=[], periods_per_year=float(TRADING_DAYS), periodicity="daily")
    days = session_days(times, sessions if sessions is not None else ExchangeCalendar("XNYS"))
    if days[-1] != days[0]:
        last_of_day = [*np.flatnonzero(np.diff(days)).tolist(), len(days) - 1]
        closes = [int(values[0]), *(int(values[i]) for i in last_of_day)]
        return Returns(values=_simple_returns(closes), periods_per_year=float(TRADING_DAYS), periodicity="daily")
    step = float(np.median(np.diff(times)))
    per_year = TRADING_DAYS * SESSION_NS / step if step > 0 else float("nan")
    return Returns(values=_simple_returns(values.tolist()), periods_per_year=per_year, periodicity="per-sample")


def _simple_returns(values: list[int]) -> list[float]:
    return [float(Fraction(b, a) - 1) if a > 0 else 0.0 for a, b in pairwise(values)]


def sharpe(returns: Sequence[float] | FloatArray, periods_per_year: float) -> float | None:
    """Annualized mean over sample standard deviation (ddof 1), risk-free 0; None when undefined."""
    r = np.asarray(returns, dtype=np.float64)
    if len(r) < 2 or not np.isfinite(periods_per_year):
        return None
    std = float(r.std(ddof=1))
    if std == 0.0:
        return None
    return float(r.mean()) / std * float(np.sqrt(periods_per_year))


def sortino(returns: Sequence[float] | FloatArray, periods_per_year: float) -> float | None:
    """Annualized mean over downside deviation ``sqrt(mean(min(r, 0)^2))``; None when nothing went down."""
    r = np.asarray(returns, dtype=np.float64)
    if len(r) < 2 or not np.isfinite(periods_per_year):
        return None
    downside = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)))
    if downside == 0.0:
        return None
    return float(r.mean()) / downside * float(np.sqrt(periods_per_year))


def max_drawdown(equity: Sequence[int] | IntArray) -> Drawdown:
    """The deepest fall below a running peak; ``money`` is exact, ``fraction`` relative to that peak."""
    values = np.asarray(equity, dtype=np.int64)
    if len(values) == 0:
        return Drawdown(fraction=0.0, money=0)
    peaks = np.maximum.accumulate(values)
    falls = peaks - values
    money = int(falls.max())
    with np.errstate(divide="ignore", invalid="ignore"):
        fractions = np.where(peaks > 0, falls / np.where(peaks > 0, peaks, 1), 0.0)
    return Drawdown(fraction=float(fractions.max()), money=money)


def turnover(traded_notional: int, equity: Sequence[int] | IntArray) -> float | None:
    """Traded notional over average equity: how many times the capital was traded over the run."""
    if len(equity) == 0:
        return None
    average = Fraction(int(np.asarray(equity, dtype=np.int64).sum()), len(equity))
    if average <= 0:
        return None
    return float(Fraction(traded_notional) / average)


def round_trips(
    symbols: Sequence[str],
    signs: Sequence[int],
    quantities: Sequence[int],
    prices: Sequence[int],
    fees: Sequence[int],
) -> RoundTrips:
    """Round trips from fills in time order; a fill through zero closes one trip and opens the next.

    A trip's PnL is its cash flow (exact, since it starts and ends flat) minus its fees; the fee of a fill that
    crosses zero is split between the two trips in proportion to shares (rounded down for the closing trip).
    """
    position: dict[str, int] = {}
    flow: dict[str, int] = {}
    pnls: list[int] = []
    for symbol, sign, qty, price, fee in zip(symbols, signs, quantities, prices, fees, strict=True):
        held = position.get(symbol, 0)
        delta = sign * qty
        if held != 0 and (held > 0) != (delta > 0) and qty >= abs(held):
            closing = abs(held)
            closing_fee = fee * closing // qty
            pnls.append(flow.get(symbol, 0) - sign * closing * price - closing_fee)
            opening = qty - closing
            flow[symbol] = -sign * opening * price - (fee - closing_fee)
            position[symbol] = sign * opening
        else:
            flow[symbol] = flow.get(symbol, 0) - delta * price - fee
            position[symbol] = held + delta
    open_symbols = sorted(symbol for symbol, held in position.items() if held != 0)
    return RoundTrips(pnls=pnls, open_symbols=open_symbols)


def hit_ratio(trips: RoundTrips) -> float | None:
    """Winning (PnL net of fees > 0) over all closed round trips."""
    return trips.wins / trips.count if trips.count else None


class Slippage(msgspec.Struct, frozen=True, kw_only=True):
    """Quantity-weighted slippage against the arrival mid; positive is a cost (bought above, sold below)."""

    units: float | None
    """Price units (1/10,000 dollar) per share."""
    bps: float | None
    quantity: int
    """Shares that had an arrival mid (the others are left out)."""


def slippage(
    signs: Sequence[int],
    quantities: Sequence[int],
    prices: Sequence[int],
    arrival_mids_x2: Sequence[int | None],
) -> Slippage:
    """Per fill ``sign * (price - mid)``, weighted by quantity; mids are doubled (bid + ask) to stay exact."""
    total_qty = 0
    cost_x2 = 0
    bps_sum = Fraction(0)
    for sign, qty, price, mid_x2 in zip(signs, quantities, prices, arrival_mids_x2, strict=True):
        if mid_x2 is None or mid_x2 <= 0:
            continue
        diff_x2 = sign * (2 * price - mid_x2)
        total_qty += qty
        cost_x2 += qty * diff_x2
        bps_sum += Fraction(qty * diff_x2 * 10_000, mid_x2)
    if total_qty == 0:
        return Slippage(units=None, bps=None, quantity=0)
    return Slippage(units=float(Fraction(cost_x2, 2 * total_qty)), bps=float(bps_sum / total_qty), quantity=total_qty)


def fill_ratio(ordered: Sequence[int], filled: Sequence[int]) -> float | None:
    """Filled over ordered shares (the caller picks the orders, e.g. LIMIT only)."""
    total = sum(ordered)
    return sum(filled) / total if total else None
