"""Performance metrics as pure functions of arrays: no kernel, no events, easy to check by hand.

Money goes in as ``int`` 1/10,000 dollar and comes out exact where it is money (drawdown, fees, PnL of round
trips); ratios (returns, Sharpe, Sortino, CAGR, Calmar, turnover, exposure) are floats. A ratio that is undefined
(fewer than two periods, zero volatility, no drawdown, no round trips) is ``None``, never NaN or a huge number, so
that the summary stays valid JSON and nobody annualizes one afternoon.

Returns are resampled to a stated period before anything is annualized (docs/PORTFOLIO.md, "Metrics"): the last
equity of each period is its close, and the first sample is the opening value (unless it is alone in its period,
as with one sample a bar: then it is that period's close, and the first return is the second period's). Periods
follow the New York clock (the session date of a sample is its calendar date in America/New_York, from the
system time-zone database; with an exchange calendar, as in a backtest, a daily period is a trading session:
a sample on a weekend or holiday joins the next session, so closures make no empty days):

- ``daily`` (the default, 252 a year), ``weekly`` (Monday to Sunday, 52 a year), ``monthly`` (12 a year);
- ``<N>min`` for intraday runs (``1min``, ``5min``, ``30min``...): buckets of N minutes of New York time,
  ``252 * 390 / N`` a year (a regular session has 390 minutes; buckets without samples are skipped).

These are empyrical's conventions (tests compare with ``empyrical-reloaded``): Sharpe is the mean over the
sample standard deviation (ddof 1), risk-free rate 0; Sortino's downside deviation is ``sqrt(mean(min(r, 0)^2))``
over all periods (target 0); CAGR is ``(last / first) ** (periods_per_year / periods) - 1``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from fractions import Fraction
from itertools import pairwise
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
import numpy.typing as npt

from tapeflow.model.errors import ConfigError
from tapeflow.model.sessions import SessionCalendar
from tapeflow.report.trades import RoundTrip, RoundTrips, TradeStats, hit_ratio, round_trips, trade_stats

TRADING_DAYS = 252
SESSION_MINUTES = 390
"""6.5 hours: the regular US equity session."""
DEFAULT_PERIOD = "daily"
DAY_NS = 86_400 * 1_000_000_000
HOUR_NS = 3_600 * 1_000_000_000
MINUTE_NS = 60 * 1_000_000_000
NEW_YORK = ZoneInfo("America/New_York")
_CALENDAR_PERIODS = {"daily": float(TRADING_DAYS), "weekly": 52.0, "monthly": 12.0}
_INTRADAY = re.compile(r"([1-9][0-9]{0,2})min")
_EPOCH = date(1970, 1, 1)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class Returns(msgspec.Struct, frozen=True, kw_only=True):
    """Period returns, the closes they come from, and how many such periods make a year."""

    values: list[float]
    closes: list[int]
    """The opening value, then the last equity of each period: one more than ``values``."""
    periods_per_year: float
    periodicity: str
    """The period: ``daily``, ``weekly``, ``monthly`` or ``<N>min``."""


class Drawdown(msgspec.Struct, frozen=True, kw_only=True):
    """Largest fall from a running peak: as a fraction of that peak, and in money (each its own maximum)."""

    fraction: float
    money: int


def periods_per_year(period: str, *, field: str = "period") -> float:
    """How many ``period`` make a trading year; a period we do not know is a ConfigError naming the valid ones."""
    if period in _CALENDAR_PERIODS:
        return _CALENDAR_PERIODS[period]
    match = _INTRADAY.fullmatch(period)
    if match is None or int(match.group(1)) > SESSION_MINUTES:
        raise ConfigError(
            f"unknown returns period {period!r}: use daily, weekly, monthly or <N>min with N from 1 to "
            f"{SESSION_MINUTES} (e.g. 5min)",
            field=field,
        )
    return TRADING_DAYS * SESSION_MINUTES / int(match.group(1))


def new_york_ns(ts: Sequence[int] | IntArray) -> IntArray:
    """UTC ns to New York wall-clock ns since 1970-01-01 00:00 local.

    The UTC offset is looked up once per run of samples in the same UTC hour (America/New_York changes offset on
    a UTC hour boundary), so a month of one-second samples costs a few hundred look-ups, not millions.
    """
    times = np.asarray(ts, dtype=np.int64)
    if len(times) == 0:
        return times
    hours = times // HOUR_NS
    starts = np.flatnonzero(np.concatenate(([True], hours[1:] != hours[:-1])))
    offsets = np.array([_utc_offset_ns(int(hours[i])) for i in starts], dtype=np.int64)
    lengths = np.diff(np.append(starts, len(times)))
    return times + np.repeat(offsets, lengths)


def _utc_offset_ns(hour: int) -> int:
    offset = datetime.fromtimestamp(hour * 3_600, tz=NEW_YORK).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return (offset.days * 86_400 + offset.seconds) * 1_000_000_000


def period_keys(
    ts: Sequence[int] | IntArray, period: str = DEFAULT_PERIOD, sessions: SessionCalendar | None = None
) -> IntArray:
    """The period each sample falls in, as an int that grows with time (New York session date, week, ...)."""
    periods_per_year(period)  # checks the name
    local = new_york_ns(ts)
    days = local // DAY_NS
    if period == "daily":
        return days if sessions is None else _to_sessions(days, sessions)
    if period == "weekly":
        return (days + 3) // 7  # 1970-01-01 was a Thursday: weeks start on Monday
    if period == "monthly":
        return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    minutes = int(period.removesuffix("min"))
    return local // (minutes * MINUTE_NS)


def session_days(ts: Sequence[int] | IntArray, sessions: SessionCalendar) -> IntArray:
    """The trading session each sample belongs to, as days since 1970-01-01 of the session's date: its New York
    date, or the next session when that date does not trade. The calendar is asked once per distinct day."""
    return _to_sessions(new_york_ns(ts) // DAY_NS, sessions)


def _to_sessions(days: IntArray, sessions: SessionCalendar) -> IntArray:
    if len(days) == 0:
        return days
    distinct, inverse = np.unique(days, return_inverse=True)
    keys = np.array([_session_key(int(d), sessions) for d in distinct], dtype=np.int64)
    return np.asarray(keys[inverse], dtype=np.int64)


def _session_key(day: int, sessions: SessionCalendar) -> int:
    date = _EPOCH + timedelta(days=day)
    session = sessions.session(date) or sessions.next_session(date)
    return (session.day - _EPOCH).days


def period_returns(
    ts: Sequence[int] | IntArray,
    equity: Sequence[int] | IntArray,
    period: str = DEFAULT_PERIOD,
    sessions: SessionCalendar | None = None,
) -> Returns:
    """Simple returns between period closes, the first sample being the opening value (see the module docstring)."""
    per_year = periods_per_year(period)
    values = np.asarray(equity, dtype=np.int64)
    if len(values) < 2:
        return Returns(values=[], closes=[int(v) for v in values], periods_per_year=per_year, periodicity=period)
    keys = period_keys(ts, period, sessions)
    last_of_period = [*np.flatnonzero(keys[1:] != keys[:-1]).tolist(), len(keys) - 1]
    opening = [] if last_of_period[0] == 0 else [int(values[0])]  # a first sample alone in its period is its close
    closes = [*opening, *(int(values[i]) for i in last_of_period)]
    return Returns(values=_simple_returns(closes), closes=closes, periods_per_year=per_year, periodicity=period)


def _simple_returns(values: list[int]) -> list[float]:
    return [float(Fraction(b, a) - 1) if a > 0 else 0.0 for a, b in pairwise(values)]


def total_return(equity: Sequence[int] | IntArray) -> float | None:
    """Last over first equity sample, minus one; None without two samples or with a non-positive start."""
    if len(equity) < 2 or equity[0] <= 0:
        return None
    return float(Fraction(int(equity[-1]), int(equity[0])) - 1)


def sharpe(returns: Sequence[float] | FloatArray, periods_per_year: float) -> float | None:
    """Annualized mean over sample standard deviation (ddof 1), risk-free 0; None when undefined."""
    r = np.asarray(returns, dtype=np.float64)
    if len(r) < 2 or not np.isfinite(periods_per_year):
        return None
    std = float(r.std(ddof=1))
    if std == 0.0:
        return None
    return float(r.mean()) / std * math.sqrt(periods_per_year)


def sortino(returns: Sequence[float] | FloatArray, periods_per_year: float) -> float | None:
    """Annualized mean over downside deviation ``sqrt(mean(min(r, 0)^2))``; None when nothing went down."""
    r = np.asarray(returns, dtype=np.float64)
    if len(r) < 2 or not np.isfinite(periods_per_year):
        return None
    downside = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)))
    if downside == 0.0:
        return None
    return float(r.mean()) / downside * math.sqrt(periods_per_year)


def cagr(closes: Sequence[int], periods_per_year: float) -> float | None:
    """Compound annual growth over ``len(closes) - 1`` periods; None under two periods or past float range.

    A run that ended at zero equity lost everything (-1.0); below zero the rate has no meaning (None).
    """
    periods = len(closes) - 1
    if periods < 2 or closes[0] <= 0 or closes[-1] < 0:
        return None
    if closes[-1] == 0:
        return -1.0
    try:
        return math.exp((math.log(closes[-1]) - math.log(closes[0])) * periods_per_year / periods) - 1.0
    except OverflowError:
        return None


def calmar(annual_growth: float | None, drawdown: float | None) -> float | None:
    """CAGR over the maximum drawdown (a positive fraction); None when either is undefined, nothing fell, or the
    ratio is beyond a float (a CAGR near the float limit over a small drawdown: infinity is not a figure)."""
    if annual_growth is None or drawdown is None or drawdown <= 0.0:
        return None
    ratio = annual_growth / drawdown
    return ratio if math.isfinite(ratio) else None


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


def exposure(
    ts: Sequence[int] | IntArray, gross: Sequence[int] | IntArray, fill_ts: Sequence[int] | IntArray = ()
) -> float | None:
    """Share of sample intervals in which a position was held: at the interval's end or by a fill inside it.

    Interval ``j`` is ``(ts[j-1], ts[j]]``; a fill counts even when the position was flat again by the next
    sample (a round trip inside one interval). On the data clock every interval had data, so nights and weekends
    without data count neither way. None without two samples.
    """
    times = np.asarray(ts, dtype=np.int64)
    if len(times) < 2:
        return None
    held = np.asarray(gross, dtype=np.int64)[1:] != 0
    fills = np.asarray(fill_ts, dtype=np.int64)
    if len(fills):
        intervals = np.clip(np.searchsorted(times, fills, side="left"), 1, len(times) - 1)
        held[intervals - 1] = True
    return float(np.count_nonzero(held)) / len(held)


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


__all__ = [
    "DEFAULT_PERIOD",
    "Drawdown",
    "Returns",
    "RoundTrip",
    "RoundTrips",
    "Slippage",
    "TradeStats",
    "cagr",
    "calmar",
    "exposure",
    "fill_ratio",
    "hit_ratio",
    "max_drawdown",
    "new_york_ns",
    "period_keys",
    "period_returns",
    "periods_per_year",
    "round_trips",
    "sharpe",
    "slippage",
    "sortino",
    "total_return",
    "trade_stats",
    "turnover",
]
