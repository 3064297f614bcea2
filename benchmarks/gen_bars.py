"""One-minute bars for the bar benchmark: a seeded random walk in cents, OHLC consistent, on real NYSE sessions.

Sessions come from the XNYS calendar from 2000-01-03 (1M bars reach 2010), so no bar falls on a weekend or a
holiday, where tapeflow's default risk rules refuse orders (outside the regular session) and backtrader, which
knows no calendar, trades. Each session's bars close at open + 1 min, ..., close - 1 min: the bar closing at the
close itself is left out, because an order decided on it reaches the exchange after the close (refused by the
default rules) while backtrader fills it at the next day's open. Both sides then see the same tradable bars.

``rows`` gives plain int tuples; the benchmark builds tapeflow's ``Bar`` events from them inside the timed region,
as backtrader's feed loads its lines from its own rows there.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import numpy as np

from tapeflow.model import Bar
from tapeflow.model.sessions import ExchangeCalendar

MINUTE_NS = 60_000_000_000
FIRST_DAY = datetime.date(2000, 1, 3)

Row = tuple[int, int, int, int, int, int]
"""(ts, open, high, low, close, volume): ts is the bar's close in ns UTC, prices in 1/10,000 dollar."""


def session_minutes(n: int) -> np.ndarray:  # type: ignore[type-arg]
    """Close times (ns UTC) of the first ``n`` tradable one-minute bars from ``FIRST_DAY``."""
    calendar = ExchangeCalendar("XNYS")
    out: list[np.ndarray] = []  # type: ignore[type-arg]
    have, day = 0, FIRST_DAY
    while have < n:
        session = calendar.session(day)
        day += datetime.timedelta(days=1)
        if session is None:
            continue
        minutes = np.arange(session.open + MINUTE_NS, session.close, MINUTE_NS, dtype=np.int64)
        out.append(minutes[: n - have])
        have += len(out[-1])
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def columns(n: int, seed: int = 7) -> dict[str, np.ndarray]:  # type: ignore[type-arg]
    rng = np.random.default_rng(seed)
    steps = rng.integers(-4, 5, n) * 100  # +-4 cents a minute
    close = 1_000_000 + np.cumsum(steps)
    close = np.maximum(close, 100_000)
    open_ = np.concatenate(([close[0]], close[:-1])) + rng.integers(-1, 2, n) * 100
    high = np.maximum(open_, close) + rng.integers(0, 3, n) * 100
    low = np.minimum(open_, close) - rng.integers(0, 3, n) * 100
    volume = rng.integers(100, 5_000, n) * 100
    return {"ts": session_minutes(n), "open": open_, "high": high, "low": low, "close": close, "volume": volume}


def rows(n: int, seed: int = 7) -> list[Row]:
    c = columns(n, seed)
    return list(zip(*(c[k].tolist() for k in ("ts", "open", "high", "low", "close", "volume")), strict=True))


def stream(data: list[Row], symbol: str = "SYN") -> Iterator[Bar]:
    """``Bar`` events built one at a time from ``data``: nothing but the rows is held (streamed, not listed)."""
    for t, o, h, lo, cl, v in data:
        yield Bar(ts_event=t, ts_init=t, symbol=symbol, open=o, high=h, low=lo, close=cl, volume=v,
                  interval_ns=MINUTE_NS)  # fmt: skip


def bars(n: int, seed: int = 7, symbol: str = "SYN") -> list[Bar]:
    """All bars as a list (what the benchmark did before streaming; kept for the peak-RSS comparison)."""
    return list(stream(rows(n, seed), symbol))
