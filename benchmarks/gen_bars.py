"""One-minute bars for the bar benchmark: a seeded random walk in cents, OHLC consistent, 390 bars a session.

Built as columns (numpy) and turned into ``Bar`` events once, so that generation is not timed.
"""

from __future__ import annotations

import numpy as np

from tapeflow.model import Bar

MINUTE_NS = 60_000_000_000
START_NS = 1_704_205_800_000_000_000 + 60_000_000_000
"""2024-01-02 09:31 New York (the close of the first one-minute bar)."""


def columns(n: int, seed: int = 7) -> dict[str, np.ndarray]:  # type: ignore[type-arg]
    rng = np.random.default_rng(seed)
    steps = rng.integers(-4, 5, n) * 100  # +-4 cents a minute
    close = 1_000_000 + np.cumsum(steps)
    close = np.maximum(close, 100_000)
    open_ = np.concatenate(([close[0]], close[:-1])) + rng.integers(-1, 2, n) * 100
    high = np.maximum(open_, close) + rng.integers(0, 3, n) * 100
    low = np.minimum(open_, close) - rng.integers(0, 3, n) * 100
    volume = rng.integers(100, 5_000, n) * 100
    day, minute = np.divmod(np.arange(n), 390)
    ts = START_NS + day * 86_400_000_000_000 + minute * MINUTE_NS
    return {"ts": ts, "open": open_, "high": high, "low": low, "close": close, "volume": volume}


def bars(n: int, seed: int = 7, symbol: str = "SYN") -> list[Bar]:
    c = columns(n, seed)
    rows = zip(*(c[k].tolist() for k in ("ts", "open", "high", "low", "close", "volume")), strict=True)
    return [
        Bar(ts_event=t, ts_init=t, symbol=symbol, open=o, high=h, low=lo, close=cl, volume=v, interval_ns=MINUTE_NS)
        for t, o, h, lo, cl, v in rows
    ]
