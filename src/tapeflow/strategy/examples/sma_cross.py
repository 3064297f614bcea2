"""SMA crossover on bars: buy when the fast average crosses above the slow one, close when it crosses below.

The textbook bar strategy, written the way backtrader's SMA crossover example trades (a fixed quantity, long
only, market orders), so the two can be compared trade for trade. Averages are kept as exact integer sums.
"""

from __future__ import annotations

from collections import deque

from tapeflow.model.market import Bar
from tapeflow.strategy.base import Strategy


class SmaCross(Strategy):
    def __init__(self, strategy_id: str = "sma-cross", *, fast: int = 10, slow: int = 30, quantity: int = 100):
        super().__init__(strategy_id)
        self.fast, self.slow, self.quantity = fast, slow, quantity
        self._closes: dict[str, deque[int]] = {}
        self._sums: dict[str, tuple[int, int]] = {}
        self._above: dict[str, bool | None] = {}
        self._holding: dict[str, int] = {}

    def on_bar(self, bar: Bar) -> None:
        sym = bar.symbol
        closes = self._closes.setdefault(sym, deque())
        fast_sum, slow_sum = self._sums.get(sym, (0, 0))
        closes.append(bar.close)
        fast_sum += bar.close - (closes[-self.fast - 1] if len(closes) > self.fast else 0)
        slow_sum += bar.close - (closes.popleft() if len(closes) > self.slow else 0)
        self._sums[sym] = (fast_sum, slow_sum)
        if len(closes) < self.slow:
            return
        lhs, rhs = fast_sum * self.slow, slow_sum * self.fast  # the two averages compared without division
        if lhs == rhs:
            return  # touching is not crossing: the last non-zero difference decides (as backtrader's CrossOver)
        above = lhs > rhs
        was = self._above.get(sym)
        self._above[sym] = above
        if was is None or above == was:
            return
        held = self._holding.get(sym, 0)
        if above and held == 0:
            self.signal(sym, "sma_cross", 1.0, f"SMA{self.fast} crossed above SMA{self.slow}")
            self.buy(sym, self.quantity, reason="fast SMA crossed above slow SMA")
            self._holding[sym] = self.quantity
        elif not above and held > 0:
            self.signal(sym, "sma_cross", -1.0, f"SMA{self.fast} crossed below SMA{self.slow}")
            self.sell(sym, held, reason="fast SMA crossed below slow SMA: close the position")
            self._holding[sym] = 0
