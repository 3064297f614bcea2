"""SMA crossover on bars: buy when the fast average crosses above the slow one, close when it crosses below.

The textbook bar strategy, written the way backtrader's SMA crossover example trades (a fixed quantity, long
only, market orders), so the two can be compared trade for trade. Averages are exact integer running sums over a
ring buffer of closes: one bar costs a few additions, whatever the window.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from tapeflow.model.errors import ConfigError
from tapeflow.model.market import Bar
from tapeflow.strategy.base import Strategy

Window = Annotated[int, msgspec.Meta(gt=0)]


class SmaCrossParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a configuration may set; the constructor keeps checking ``fast < slow`` for callers in Python."""

    fast: Window = 10
    slow: Window = 30
    quantity: Annotated[int, msgspec.Meta(gt=0)] = 100

    def __post_init__(self) -> None:
        if self.fast >= self.slow:  # ValueError: msgspec reports it as a validation error of these params
            raise ValueError(f"need fast < slow, got fast={self.fast}, slow={self.slow}")


class _Windows:
    __slots__ = ("above", "fast_sum", "held", "pos", "ring", "slow_sum", "warm")

    def __init__(self, slow: int) -> None:
        self.ring = [0] * slow
        self.pos = 0
        """Where the next close goes (the oldest close of the slow window, once full)."""
        self.warm = slow - 1
        """Bars still to come before the slow window is full: no comparison until then."""
        self.fast_sum = 0
        self.slow_sum = 0
        self.above: bool | None = None
        self.held = 0


class SmaCross(Strategy):
    Params = SmaCrossParams

    def __init__(self, strategy_id: str = "sma-cross", *, fast: int = 10, slow: int = 30, quantity: int = 100):
        super().__init__(strategy_id)
        if not 0 < fast < slow:
            raise ConfigError(f"need 0 < fast < slow, got fast={fast}, slow={slow}", field="strategy.params")
        self.fast, self.slow, self.quantity = fast, slow, quantity
        self._windows: dict[str, _Windows] = {}

    def on_bar(self, bar: Bar) -> None:
        w = self._windows.get(bar.symbol)
        if w is None:
            w = self._windows[bar.symbol] = _Windows(self.slow)
        close, fast, ring, pos = bar.close, self.fast, w.ring, w.pos
        # ring[pos - fast] is the close leaving the fast window: a negative index wraps like (i - fast) % slow, and
        # before the ring has wrapped it reads a slot not yet written (0), so nothing leaves a window not yet full
        fast_sum = w.fast_sum = w.fast_sum + close - ring[pos - fast]
        slow_sum = w.slow_sum = w.slow_sum + close - ring[pos]
        ring[pos] = close
        pos += 1
        slow = len(ring)
        w.pos = 0 if pos == slow else pos
        if w.warm:
            w.warm -= 1
            return
        lhs, rhs = fast_sum * slow, slow_sum * fast  # the two averages compared without division
        if lhs == rhs:
            return  # touching is not crossing: the last non-zero difference decides (as backtrader's CrossOver)
        above = lhs > rhs
        was = w.above
        w.above = above
        if was is None or above == was:
            return
        sym = bar.symbol
        if above and w.held == 0:
            self.signal(sym, "sma_cross", 1.0, f"SMA{fast} crossed above SMA{slow}")
            self.buy(sym, self.quantity, reason="fast SMA crossed above slow SMA")
            w.held = self.quantity
        elif not above and w.held > 0:
            self.signal(sym, "sma_cross", -1.0, f"SMA{fast} crossed below SMA{slow}")
            self.sell(sym, w.held, reason="fast SMA crossed below slow SMA: close the position")
            w.held = 0
