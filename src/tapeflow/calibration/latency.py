"""Latency sensitivity: how a strategy's fills get worse as the strategy moves away from the matching engine.

This module measures; it runs nothing (``calibration`` sits below ``backtest`` in the layer order, so
``backtest/latency_study.py`` runs the backtests and hands each one's fills and mid tape here). Figures are
reporting statistics, computed from the int prices at the edge as floats in basis points of the mid.

Signs: slippage is a cost (positive: the fill was worse than the mid when the order was sent); a markout is the
mid's move after the fill, signed in the fill's favour (positive: the mid went the way the fill bet on), so a
passive fill that is picked off by better-informed flow shows a negative markout.

What varies between the study's runs: nothing in a backtest is random (fixed latency, deterministic matching,
no seed), so a seed would change nothing; the spread is taken across windows of the day instead (the first N
events, for each N of ``windows``).

Why standard errors: two presets get different fills, so their means differ by which fills each got as well as by
latency. A mean over 60-190 fills, each marking out by a few half-ticks of the mid either way (a half-tick is
0.09 bps on AAPL), has a standard error of about a tenth of a bp, so a fixed tolerance of a few hundredths mostly
measures that draw. Each mean therefore carries its standard error, and a step counts as an improvement only
when it exceeds a stated multiple of the standard error of the difference (``non_improving``).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import msgspec

from tapeflow.config import load_config
from tapeflow.engine.kernel import Kernel
from tapeflow.model.enums import Side
from tapeflow.model.errors import ConfigError
from tapeflow.model.market import Quote

DEFAULT_LOCATIONS = ("colo", "secaucus", "aurora", "san_jose")
"""Ordered by one-way order-entry latency to Nasdaq (Carteret): about 6 us, 0.19 ms, 7.5 ms and 26 ms (fibre; see
`tapeflow latency`)."""


class StudyStrategy(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    role: str
    """A label for the table: ``passive`` or ``aggressive``."""
    name: str
    params: dict[str, object] = {}


class LatencyStudy(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The ``[latency_study]`` section: a base backtest configuration run under each location and window."""

    base: str
    """The backtest TOML (data, fees, portfolio) whose [strategy] and [latency] the study replaces; relative to the
    study's file."""
    strategies: tuple[StudyStrategy, ...]
    locations: tuple[str, ...] = DEFAULT_LOCATIONS
    """Listed from the nearest to the farthest: the monotonicity check follows this order."""
    venue: str = "XNAS"
    windows: tuple[Annotated[int, msgspec.Meta(gt=0)], ...] = (60_000, 80_000, 100_000)
    """Events of the day to run (each a run); the spread across them is reported."""
    horizons_s: tuple[Annotated[int, msgspec.Meta(gt=0)], ...] = (1, 10, 60)

    def __post_init__(self) -> None:
        if not self.strategies:
            raise ConfigError("no strategies: give at least one [[latency_study.strategies]]", field="strategies")
        if not self.locations or len(set(self.locations)) != len(self.locations):
            raise ConfigError("locations must be given, each once", field="locations")
        if not self.windows:
            raise ConfigError("no windows: give at least one event count", field="windows")


class LatencyStudyFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    latency_study: LatencyStudy


def load_latency_study(path: str | Path) -> tuple[LatencyStudy, Path]:
    """The study and the absolute path of its base configuration (checked to exist here, before any run)."""
    p = Path(path)
    study = load_config(p, LatencyStudyFile).latency_study
    base = (p.absolute().parent / study.base).resolve()
    if not base.is_file():
        raise ConfigError(f"base configuration {study.base!r} not found at {base}", path=p, field="latency_study.base")
    return study, base


class MidTape:
    """Kernel component: every change of a symbol's mid (doubled, so it stays an int), by exchange time."""

    def __init__(self) -> None:
        self.ts: dict[str, list[int]] = {}
        self.mids_x2: dict[str, list[int]] = {}

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(Quote, self.on_quote)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    def on_quote(self, event: Quote) -> None:
        if not (event.bid_size and event.ask_size and event.bid_price and event.ask_price):
            return
        mid = event.bid_price + event.ask_price
        mids = self.mids_x2.setdefault(event.symbol, [])
        if mids and mids[-1] == mid:
            return
        self.ts.setdefault(event.symbol, []).append(event.ts_event)
        mids.append(mid)

    def mid_x2_before(self, symbol: str, ts: int) -> int | None:
        """The mid in force just before ``ts`` (a fill's own print does not count as the mid it traded against)."""
        i = bisect.bisect_left(self.ts.get(symbol, []), ts) - 1
        return None if i < 0 else self.mids_x2[symbol][i]

    def mid_x2_at(self, symbol: str, ts: int) -> int | None:
        """The mid in force at ``ts`` (quotes at ``ts`` included)."""
        i = bisect.bisect_right(self.ts.get(symbol, []), ts) - 1
        return None if i < 0 else self.mids_x2[symbol][i]


class Fill(msgspec.Struct, frozen=True, kw_only=True):
    """What the study needs of one fill: exchange time, side, price, and its order's arrival mid (doubled)."""

    symbol: str
    ts: int
    side: Side
    price: int
    quantity: int
    arrival_mid_x2: int | None


class FillQuality(msgspec.Struct, frozen=True, kw_only=True):
    """Share-weighted means over a run's fills, in basis points of the mid; None when nothing could be measured."""

    fills: int
    slippage_bps: float | None
    markouts_bps: dict[str, float | None]
    """By horizon (``"1s"``, ...)."""
    slippage_se_bps: float | None = None
    """Standard error of ``slippage_bps`` (``weighted_mean_se``); None under two measured fills."""
    markouts_se_bps: dict[str, float | None] = {}
    """Standard error of each of ``markouts_bps``, by the same keys."""


def weighted_mean_se(values: Sequence[tuple[int, float]]) -> tuple[float | None, float | None]:
    """The share-weighted mean of ``(shares, value)`` pairs and its standard error, each fill one sample.

    The error is the usual one of a weighted mean of independent draws: ``SE^2 = n/(n-1) * sum(w_i^2 (x_i -
    m)^2) / (sum w_i)^2``. With equal weights it is the textbook ``s / sqrt(n)`` (sample deviation, n - 1); with
    unequal ones, a 500-share fill counts as one draw that weighs five times a 100-share one, not as five draws
    (a fill's shares all trade at one instant and mark out alike). None for the error under two values."""
    total = sum(w for w, _ in values)
    if not total:
        return None, None
    mean = sum(w * x for w, x in values) / total
    n = len(values)
    if n < 2:
        return mean, None
    var = n / (n - 1) * sum(w * w * (x - mean) ** 2 for w, x in values) / (total * total)
    return mean, math.sqrt(var)


def _signed(side: Side, move: float) -> float:
    return move if side is Side.BUY else -move


def fill_quality(fills: Sequence[Fill], tape: MidTape, horizons_s: Sequence[int]) -> FillQuality:
    """Slippage against the arrival mid and the markout of each horizon, weighted by shares, with their standard
    errors (``weighted_mean_se``).

    A fill whose horizon runs past the tape's last mid change is marked against that last mid (the mid did not
    move again before the data ended)."""
    slips: list[tuple[int, float]] = []
    marks: dict[int, list[tuple[int, float]]] = {h: [] for h in horizons_s}
    for f in fills:
        if f.arrival_mid_x2:
            arrival = f.arrival_mid_x2 / 2
            slips.append((f.quantity, _signed(f.side, f.price - arrival) / arrival * 1e4))
        before = tape.mid_x2_before(f.symbol, f.ts)
        if not before:
            continue
        for h in horizons_s:
            later = tape.mid_x2_at(f.symbol, f.ts + h * 1_000_000_000)
            if later is None:
                continue
            marks[h].append((f.quantity, _signed(f.side, (later - before) / before * 1e4)))
    slippage, slippage_se = weighted_mean_se(slips)
    by_horizon = {f"{h}s": weighted_mean_se(marks[h]) for h in horizons_s}
    return FillQuality(
        fills=len(fills),
        slippage_bps=slippage,
        markouts_bps={k: v[0] for k, v in by_horizon.items()},
        slippage_se_bps=slippage_se,
        markouts_se_bps={k: v[1] for k, v in by_horizon.items()},
    )


def non_improving(
    values: Sequence[float | None],
    *,
    tolerance: float,
    higher_is_better: bool,
    ses: Sequence[float | None] | None = None,
    se_multiple: float = 0.0,
) -> bool:
    """Whether ``values`` (ordered by growing latency) never improve from one step to the next by more than the
    step's allowance: ``tolerance`` (a fixed floor), or ``se_multiple`` standard errors of the step's difference
    if that is larger. The difference's error is ``sqrt(se_a^2 + se_b^2)``, the two presets' fills taken as
    independent draws. A missing value is skipped (the step runs from the last known value to the next); a
    missing error leaves that step the floor alone."""
    errors = list(ses) if ses is not None else [None] * len(values)
    if len(errors) != len(values):
        raise ValueError(f"{len(values)} values but {len(errors)} standard errors")
    known = [(v, e) for v, e in zip(values, errors, strict=True) if v is not None]
    sign = 1.0 if higher_is_better else -1.0
    for (a, ea), (b, eb) in itertools.pairwise(known):
        allowance = tolerance
        if ea is not None and eb is not None:
            allowance = max(tolerance, se_multiple * math.hypot(ea, eb))
        if sign * (b - a) > allowance:
            return False
    return True
