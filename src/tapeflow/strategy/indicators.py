"""Standard indicators, updated one input at a time in O(1): SMA, EMA, VWAP, ATR, RSI.

Prices go in as tapeflow's integers (1/10,000 dollar), volumes as whole shares. What comes out depends on what
can stay exact at O(1) per update:

- ``SMA`` and ``VWAP`` are ratios of integer running sums over a fixed window, so they are exact ``Fraction``
  values in price units: comparing two averages, or an average with a price, never flips on a rounding error
  (the SMA crossover example relies on that to trade exactly as backtrader does).
- ``EMA``, ``ATR`` and ``RSI`` are recursive smoothings: as exact rationals their denominators would grow with
  every update (no longer O(1)), so they are ``float``. EMA and ATR are in price units (divide by 10,000 for
  dollars), RSI in points from 0 to 100. They are signals, never money: size orders with them through
  ``tapeflow.strategy.sizing``, which rounds them into whole shares.

Warm-up follows backtrader and TA-Lib, so values can be checked against either: ``ready`` turns True with the
first value those libraries print. SMA and EMA need ``period`` inputs (the EMA starts from their SMA); ATR and RSI
need ``period + 1`` (each step needs the previous close; the first average is the SMA of the first ``period``
steps, then Wilder's smoothing ``(previous * (period - 1) + step) / period``). VWAP needs one input with volume
(a full window when it has one). Reading ``value`` before ``ready`` raises: there is no honest number yet, and a
default (0, the last price) would trade on a value that was never computed.
"""

from __future__ import annotations

from fractions import Fraction

from tapeflow.model.market import Bar


def _check_period(name: str, period: int) -> int:
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        raise ValueError(f"{name} period must be a whole number >= 1, got {period!r}")
    return period


def _not_ready(name: str, missing: int) -> RuntimeError:
    return RuntimeError(f"{name} is warming up: {missing} more input(s) before it has a value; check .ready first")


class SMA:
    """Simple moving average of the last ``period`` values; exact (``Fraction``)."""

    __slots__ = ("_count", "_ring", "_sum", "period")

    def __init__(self, period: int) -> None:
        self.period = _check_period("SMA", period)
        self._ring = [0] * period
        self._count = 0
        self._sum = 0

    def update(self, value: int) -> None:
        slot = self._count % self.period
        self._sum += value - self._ring[slot]  # the ring starts at zeros: nothing leaves before it is full
        self._ring[slot] = value
        self._count += 1

    @property
    def ready(self) -> bool:
        return self._count >= self.period

    @property
    def value(self) -> Fraction:
        if self._count < self.period:
            raise _not_ready(f"SMA({self.period})", self.period - self._count)
        return Fraction(self._sum, self.period)


class EMA:
    """Exponential moving average, ``alpha = 2 / (period + 1)``, started from the SMA of the first ``period``."""

    __slots__ = ("_alpha", "_seed", "_value", "period")

    def __init__(self, period: int) -> None:
        self.period = _check_period("EMA", period)
        self._alpha = 2.0 / (period + 1)
        self._seed = SMA(period)
        self._value = 0.0

    def update(self, value: int) -> None:
        seed = self._seed
        if not seed.ready:
            seed.update(value)
            if seed.ready:
                self._value = float(seed.value)
            return
        self._value += self._alpha * (value - self._value)

    @property
    def ready(self) -> bool:
        return self._seed.ready

    @property
    def value(self) -> float:
        if not self._seed.ready:
            raise _not_ready(f"EMA({self.period})", self.period - self._seed._count)
        return self._value


class _Wilder:
    """Wilder's smoothing (backtrader's SmoothedMovingAverage): SMA of the first ``period``, then 1/period."""

    __slots__ = ("_count", "_sum", "period", "value")

    def __init__(self, period: int) -> None:
        self.period = period
        self._count = 0
        self._sum = 0
        self.value = 0.0

    def update(self, step: int) -> None:
        if self._count < self.period:
            self._count += 1
            self._sum += step
            if self._count == self.period:
                self.value = self._sum / self.period
            return
        self.value = (self.value * (self.period - 1) + step) / self.period

    @property
    def ready(self) -> bool:
        return self._count >= self.period


class ATR:
    """Average true range in price units (``float``, >= 0), Wilder-smoothed; first bar only gives a close."""

    __slots__ = ("_avg", "_prev_close", "period")

    def __init__(self, period: int = 14) -> None:
        self.period = _check_period("ATR", period)
        self._avg = _Wilder(period)
        self._prev_close: int | None = None

    def update(self, high: int, low: int, close: int) -> None:
        prev = self._prev_close
        self._prev_close = close
        if prev is None:
            return
        self._avg.update(max(high, prev) - min(low, prev))

    def update_bar(self, bar: Bar) -> None:
        self.update(bar.high, bar.low, bar.close)

    @property
    def ready(self) -> bool:
        return self._avg.ready

    @property
    def value(self) -> float:
        avg = self._avg
        if not avg.ready:
            raise _not_ready(f"ATR({self.period})", self.period - avg._count + (self._prev_close is None))
        return avg.value


class RSI:
    """Wilder's relative strength index in points (``float`` in [0, 100]).

    No loss in the window reads 100 (only gains), no move at all reads 50 (neither side has strength), rather than
    the division by zero backtrader leaves to ``safediv``.
    """

    __slots__ = ("_down", "_prev", "_up", "period")

    def __init__(self, period: int = 14) -> None:
        self.period = _check_period("RSI", period)
        self._up = _Wilder(period)
        self._down = _Wilder(period)
        self._prev: int | None = None

    def update(self, close: int) -> None:
        prev = self._prev
        self._prev = close
        if prev is None:
            return
        change = close - prev
        self._up.update(max(change, 0))
        self._down.update(max(-change, 0))

    @property
    def ready(self) -> bool:
        return self._up.ready

    @property
    def value(self) -> float:
        up, down = self._up, self._down
        if not up.ready:
            raise _not_ready(f"RSI({self.period})", self.period - up._count + (self._prev is None))
        if down.value == 0.0:
            return 50.0 if up.value == 0.0 else 100.0
        rsi = 100.0 - 100.0 / (1.0 + up.value / down.value)
        return min(100.0, max(0.0, rsi))


class VWAP:
    """Volume-weighted average price; exact (``Fraction``, price units).

    ``period=None`` accumulates until ``reset`` (a session VWAP: reset at each open); a period makes it a rolling
    window of that many inputs. ``update_bar`` weighs a bar's typical price ``(high + low + close) / 3`` by its
    volume, as TA-Lib and most charting tools do; ``update`` weighs a trade price. Inputs with zero volume count
    toward the window but weigh nothing; ``ready`` needs some volume (and a full window when rolling).
    """

    __slots__ = ("_count", "_pv3", "_ring", "_volume", "period")

    def __init__(self, period: int | None = None) -> None:
        self.period = None if period is None else _check_period("VWAP", period)
        self.reset()

    def reset(self) -> None:
        self._ring: list[tuple[int, int]] | None = None if self.period is None else [(0, 0)] * self.period
        self._count = 0
        self._pv3 = 0  # sum of 3 x price x volume: a bar's typical price stays an integer
        self._volume = 0

    def _add(self, pv3: int, volume: int) -> None:
        if volume < 0:
            raise ValueError(f"VWAP volume must be >= 0, got {volume}")
        ring = self._ring
        if ring is not None:
            slot = self._count % len(ring)
            old_pv3, old_volume = ring[slot]
            self._pv3 -= old_pv3
            self._volume -= old_volume
            ring[slot] = (pv3, volume)
        self._pv3 += pv3
        self._volume += volume
        self._count += 1

    def update(self, price: int, volume: int) -> None:
        self._add(3 * price * volume, volume)

    def update_bar(self, bar: Bar) -> None:
        self._add((bar.high + bar.low + bar.close) * bar.volume, bar.volume)

    @property
    def ready(self) -> bool:
        return self._volume > 0 and (self.period is None or self._count >= self.period)

    @property
    def value(self) -> Fraction:
        if not self.ready:
            if self.period is not None and self._count < self.period:
                raise _not_ready(f"VWAP({self.period})", self.period - self._count)
            raise RuntimeError("VWAP has no volume yet; check .ready first")
        return Fraction(self._pv3, 3 * self._volume)
