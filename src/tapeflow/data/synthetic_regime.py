"""The hidden state of the regime-switching synthetic market: which regime is in force, how the book leans, and
how hard the mid is pushed.

Why a regime market: the ML demo must show that a model retrained on the last window adapts where one frozen
after the first window fails, and the look-ahead tests need a market where a prediction is either learnable or
provably not. So the relation between what the feature recorder sees and the forward mid return is planted, and it
changes sign between regimes:

- a *lean* ``z`` in [-1, 1] per symbol, an Ornstein-Uhlenbeck process in event time (time constant ``memory_s``,
  stationary deviation ``LEAN_SD``, stepped on a ``STEP_NS`` grid): the interest the book shows. Every new or
  updated resting size is a fresh draw times ``1 + display * z`` on the bid and ``1 - display * z`` on the ask, so
  the touch imbalance and the microprice read ``z`` (noisily). Resting sizes are exponential in round lots, not
  heavy-tailed as in the plain market: a Pareto tail would drown the lean;
- a *push* ``q = sign * strength * MAX_PUSH * z``, ``sign`` +1 in a ``momentum`` regime and -1 in a ``reversal``
  one: each event that can move the mid (a marketable order, a cancel, a new level) acts on the side that moves
  it up with probability (1 + q) / 2. In momentum the mid drifts the way the book leans; in reversal against it
  (the displayed interest is not real). Aggressor flow and order flow imbalance follow the push, so their relation
  to the forward return changes with the regime too;
- nothing else may depend on sizes or undo the push, or the book would predict moves in every regime, strength 0
  included (the plain market has such a mechanical edge): a marketable order clears the touch with probability
  ``CLEAR`` (and the next level with ``SWEEP``) whatever their sizes, and a thin side is refilled behind its own
  touch rather than from the opposite one. With ``strength`` 0 the mid is a random walk the book tells nothing
  about;
- a *volatility* multiplier per regime scales the event rate: more events a second, more mid moves.

The regime in force is a pure function of time (``regime_at``), the same for every symbol; the lean is drawn from
the symbol's own generator, so everything stays a pure function of (config, seed).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

from tapeflow.config import RegimeConfig, RegimeKind, SyntheticConfig

NS = 1_000_000_000
STEP_NS = 100_000_000
"""The lean moves on a 100 ms grid of event time: exact OU steps, cheap (not one normal draw per event)."""
LEAN_SD = 0.5
MAX_PUSH = 0.4
"""The push at strength 1 and a full lean: the side that moves the mid up is picked 70% of the time."""
CLEAR = 0.2
"""Probability that a marketable order takes the whole touch."""
SWEEP = 0.2
"""Of those, the probability that it walks on and clears the next level too."""
DISPLAY_GAIN = 2.0
"""Resting sizes are multiplied by exp(+-DISPLAY_GAIN * display * lean): at display 1 and a full lean the bid's
sizes are e^4 (about 55) times the ask's."""
MEAN_EXTRA_LOTS = 1.5
"""Resting sizes: one lot plus an exponential number of lots with this mean, before the lean's skew."""


class Regime(NamedTuple):
    """Regime ``number`` (0 from the start), its kind and volatility multiplier, and the event time it covers."""

    number: int
    kind: RegimeKind
    vol: float
    start_ns: int
    end_ns: int


def regime_at(config: RegimeConfig, start_ns: int, ts: int) -> Regime:
    """The regime in force at ``ts`` for a market that started at ``start_ns`` (before the start: the first)."""
    period = max(1, round(config.period_s * NS))
    index = max(0, (ts - start_ns) // period)
    begin = start_ns + index * period
    return Regime(
        index,
        config.cycle[index % len(config.cycle)],
        config.vol[index % len(config.vol)],
        begin,
        begin + period,
    )


def market_regime_at(config: SyntheticConfig, ts: int) -> Regime | None:
    """The regime of ``config``'s market at ``ts``, None for a plain market: for reports that split by regime."""
    return None if config.regime is None else regime_at(config.regime, config.start_ns, ts)


class RegimeProcess:
    """One symbol's lean and the regime it is pushed by; ``advance(t)`` before the event at ``t``."""

    __slots__ = ("_a", "_b", "_config", "_next_step", "_regime", "_start", "_uniform", "lean", "push", "vol")

    def __init__(self, config: RegimeConfig, start_ns: int, uniform: Callable[[], float]) -> None:
        self._config = config
        self._start = start_ns
        self._uniform = uniform
        step_s = STEP_NS / NS
        self._a = math.exp(-step_s / config.memory_s)
        self._b = LEAN_SD * math.sqrt(1.0 - self._a * self._a)
        self._next_step = start_ns + STEP_NS
        self.lean = 0.0
        self._regime = regime_at(config, start_ns, start_ns)
        self.vol = self._regime.vol
        self.push = 0.0

    @property
    def regime(self) -> Regime:
        return self._regime

    def _normal(self) -> float:
        """Box-Muller from two uniforms of the symbol's stream (one normal kept: simple, and cheap at 10 a second)."""
        u1 = self._uniform()
        u2 = self._uniform()
        return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)

    def advance(self, ts: int) -> None:
        """Steps the lean up to ``ts`` and sets the regime, volatility and push in force there."""
        while self._next_step <= ts:
            z = self._a * self.lean + self._b * self._normal()
            self.lean = -1.0 if z < -1.0 else 1.0 if z > 1.0 else z
            self._next_step += STEP_NS
        regime = self._regime
        if not regime.start_ns <= ts < regime.end_ns:
            regime = self._regime = regime_at(self._config, self._start, ts)
            self.vol = regime.vol
        sign = 1.0 if regime.kind == "momentum" else -1.0
        self.push = sign * self._config.strength * MAX_PUSH * self.lean

    def skew(self, bid: bool) -> float:
        """What a fresh resting size on the bid (or ask) is multiplied by: the lean made visible."""
        shown = DISPLAY_GAIN * self._config.display * self.lean
        return math.exp(shown if bid else -shown)
