"""The vectorized way many quants first write a bar strategy, kept to show what it gets wrong.

``sma_cross_vectorized`` computes the whole signal series at once with numpy and trades at the close of the bar
that produced the signal. That close was not known until the bar ended, so no order sent because of it could
trade at it: the result has look-ahead bias built in, on top of ignoring latency, queues and the spread. The
event-driven run (``SmaCross`` through the kernel) can only act after a bar's close and fills at the next bar's
open. ``tapeflow compare`` runs both on the same bars and lays the differences side by side.

The trading rule is exactly ``SmaCross``'s: long ``quantity`` after the fast average crosses above the slow one,
flat after it crosses below; equality is not a crossing (the last non-zero difference decides).
"""

from __future__ import annotations

import msgspec
import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]


class VectorTrade(msgspec.Struct, frozen=True, kw_only=True):
    ts: int
    side: str
    price: int
    quantity: int


class VectorResult(msgspec.Struct, frozen=True, kw_only=True):
    trades: list[VectorTrade]
    final_cash_units: int
    final_position: int
    final_equity_units: int


def crossing_states(closes: I64, fast: int, slow: int) -> npt.NDArray[np.int8]:
    """+1 where fast > slow, -1 where below, carried forward through ties; 0 before the slow window is full."""
    csum = np.concatenate(([0], np.cumsum(closes, dtype=np.int64)))
    n = len(closes)
    state = np.zeros(n, dtype=np.int8)
    if n < slow:
        return state
    idx = np.arange(slow - 1, n)
    fast_sum = csum[idx + 1] - csum[idx + 1 - fast]
    slow_sum = csum[idx + 1] - csum[idx + 1 - slow]
    diff = np.sign(fast_sum * slow - slow_sum * fast).astype(np.int8)  # exact integer comparison of the averages
    # carry the last non-zero sign through zeros
    nz = np.where(diff != 0, np.arange(len(diff)), -1)
    last = np.maximum.accumulate(nz)
    carried = np.where(last >= 0, diff[np.maximum(last, 0)], 0).astype(np.int8)
    state[slow - 1 :] = carried
    return state


def sma_cross_vectorized(
    ts: I64, closes: I64, *, fast: int = 10, slow: int = 30, quantity: int = 100, capital: int = 0
) -> VectorResult:
    """Signal on each close, filled at that same close (the look-ahead)."""
    state = crossing_states(closes, fast, slow)
    prev = np.concatenate(([0], state[:-1]))
    crossed = (state != prev) & (prev != 0) & (state != 0)
    trades: list[VectorTrade] = []
    position = 0
    cash = capital
    for i in np.flatnonzero(crossed).tolist():
        price = int(closes[i])
        if state[i] > 0 and position == 0:
            trades.append(VectorTrade(ts=int(ts[i]), side="BUY", price=price, quantity=quantity))
            position, cash = quantity, cash - quantity * price
        elif state[i] < 0 and position > 0:
            trades.append(VectorTrade(ts=int(ts[i]), side="SELL", price=price, quantity=position))
            position, cash = 0, cash + position * price
    last = int(closes[-1]) if len(closes) else 0
    return VectorResult(
        trades=trades, final_cash_units=cash, final_position=position, final_equity_units=cash + position * last
    )
