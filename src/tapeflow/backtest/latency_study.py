"""Run the latency sensitivity study (``tapeflow calibrate --latency``): each strategy of a ``[latency_study]``
under each latency preset and each window of the day, measured by ``calibration/latency.py``.

It lives here, not in ``calibration/``, because it runs backtests and ``calibration`` sits below ``backtest`` in
the layer order. Figures per run, then their mean and range across windows (nothing is random: see the
measuring module's docstring for why windows stand in for seeds).
"""

from __future__ import annotations

from pathlib import Path
from statistics import fmean

import msgspec

from tapeflow.backtest.config import BacktestConfig, LatencyConfig, StrategyConfig, load_backtest_config
from tapeflow.backtest.run import build_backtest
from tapeflow.backtest.sources import build_sources, build_strategy
from tapeflow.calibration.latency import Fill, LatencyStudy, MidTape, fill_quality, non_improving
from tapeflow.data.quality import QualityReporter
from tapeflow.model.prices import price_to_str

PASSIVE_TOLERANCE_BPS = 0.05
"""The floor of how much the passive strategy's mean 1 s markout may improve from one preset to the next farther
one and still count as not improving: under a third of AAPL's one-cent tick at ~$580 (0.17 bps). A farther
strategy gets a different set of fills, so its mean moves by fill-set noise as well as by latency; the floor only
matters where the standard errors are smaller (``SE_MULTIPLE``)."""
AGGRESSIVE_TOLERANCE_BPS = 0.05
"""The same floor for the aggressive strategy's mean slippage against the arrival mid (a cost: lower is better)."""
SE_MULTIPLE = 2.0
"""A step improves only when it beats the floor and this many standard errors of the difference between the two
presets' means: two standard errors, a difference that noise alone exceeds about one time in twenty (one-sided:
one in forty)."""


class WindowFigures(msgspec.Struct, frozen=True, kw_only=True):
    events: int
    orders: int
    filled_orders: int
    fill_rate: float | None
    pnl: str | None
    pnl_units: int | None
    fills: int
    slippage_bps: float | None
    markouts_bps: dict[str, float | None]
    slippage_se_bps: float | None = None
    """Standard error of ``slippage_bps`` over this window's fills (``calibration.latency.weighted_mean_se``)."""
    markouts_se_bps: dict[str, float | None] = {}


class StudyRow(msgspec.Struct, frozen=True, kw_only=True):
    role: str
    strategy: str
    location: str
    order_entry_us: float
    """One-way latency of a new order to the venue (``FixedLatency.insert_entry_ns``), in microseconds."""
    windows: list[WindowFigures]
    mean: dict[str, float | None]
    range: dict[str, list[float] | None]
    """[min, max] across windows, by the same keys as ``mean``."""
    se: dict[str, float | None] = {}
    """Standard error of the slippage and markout means, by the same keys as ``mean``: the mean of the windows'
    errors. The windows are nested (the first 60,000 events are in the first 80,000), so their means are strongly
    correlated and their average is about as uncertain as one window's; the mean of their errors is the error of
    that average if they were fully correlated, and bounds it from above otherwise."""


class StudyCheck(msgspec.Struct, frozen=True, kw_only=True):
    role: str
    strategy: str
    measure: str
    values: list[float | None]
    """``measure``'s mean across windows, per location in the study's order (growing latency)."""
    tolerance: float
    """The fixed floor of a step's allowance, in the measure's unit."""
    holds: bool
    ses: list[float | None] = []
    """Standard error of each of ``values`` (the rows' ``se``)."""
    se_multiple: float = 0.0
    """A step improves only beyond ``max(tolerance, se_multiple * sqrt(se_a^2 + se_b^2))``; 0: the floor alone."""


class StudyReport(msgspec.Struct, frozen=True, kw_only=True):
    base: str
    locations: list[str]
    windows: list[int]
    horizons_s: list[int]
    rows: list[StudyRow]
    checks: list[StudyCheck]


def run_window(cfg: BacktestConfig, horizons_s: tuple[int, ...]) -> WindowFigures:
    """One backtest with a mid tape beside it; its fills measured."""
    sources, level, _ = build_sources(cfg.data)
    readers = [s for s in sources if isinstance(s, QualityReporter)]
    tape = MidTape()
    bt = build_backtest(cfg, build_strategy(cfg.strategy), level, extra=[tape])
    bt.run(sources, readers=readers)
    results = bt.results
    fills = [
        Fill(symbol=f.symbol, ts=f.ts_event, side=f.side, price=f.price, quantity=f.quantity, arrival_mid_x2=m)
        for f, m in zip(results.fills, results.fill_mids_x2, strict=True)
    ]
    quality = fill_quality(fills, tape, horizons_s)
    orders = len(results.orders)
    filled = sum(1 for r in results.orders.values() if r.filled_quantity > 0)
    pnl = bt.summary().pnl_units
    return WindowFigures(
        events=cfg.data.limit or 0,
        orders=orders,
        filled_orders=filled,
        fill_rate=filled / orders if orders else None,
        pnl=None if pnl is None else price_to_str(pnl),
        pnl_units=pnl,
        fills=quality.fills,
        slippage_bps=quality.slippage_bps,
        markouts_bps=quality.markouts_bps,
        slippage_se_bps=quality.slippage_se_bps,
        markouts_se_bps=quality.markouts_se_bps,
    )


def _measures(w: WindowFigures) -> dict[str, float | None]:
    out: dict[str, float | None] = {
        "pnl_dollars": None if w.pnl_units is None else w.pnl_units / 10_000,
        "fill_rate": w.fill_rate,
        "slippage_bps": w.slippage_bps,
    }
    out.update({f"markout_{k}_bps": v for k, v in w.markouts_bps.items()})
    return out


def _errors(w: WindowFigures) -> dict[str, float | None]:
    out: dict[str, float | None] = {"slippage_bps": w.slippage_se_bps}
    out.update({f"markout_{k}_bps": v for k, v in w.markouts_se_bps.items()})
    return out


def run_latency_study(study: LatencyStudy, base: Path) -> StudyReport:
    """Every strategy x location x window of ``study`` on the configuration at ``base``."""
    cfg = load_backtest_config(base)
    rows: list[StudyRow] = []
    checks: list[StudyCheck] = []
    for s in study.strategies:
        strat = StrategyConfig(name=s.name, params=dict(s.params))
        per_location: list[StudyRow] = []
        for location in study.locations:
            latency = LatencyConfig(location=location, venue=study.venue)
            entry_ns = latency.build().insert_entry_ns
            windows = []
            for limit in study.windows:
                run_cfg = msgspec.structs.replace(
                    cfg, strategy=strat, latency=latency, data=msgspec.structs.replace(cfg.data, limit=limit)
                )
                windows.append(run_window(run_cfg, study.horizons_s))
            per_window = [_measures(w) for w in windows]
            mean: dict[str, float | None] = {}
            spread: dict[str, list[float] | None] = {}
            for key in per_window[0]:
                known = [v for m in per_window if (v := m[key]) is not None]
                mean[key] = fmean(known) if known else None
                spread[key] = [min(known), max(known)] if known else None
            per_window_se = [_errors(w) for w in windows]
            se: dict[str, float | None] = {}
            for key in per_window_se[0]:
                known = [v for m in per_window_se if (v := m[key]) is not None]
                se[key] = fmean(known) if known else None
            per_location.append(
                StudyRow(
                    role=s.role,
                    strategy=s.name,
                    location=location,
                    order_entry_us=entry_ns / 1000,
                    windows=windows,
                    mean=mean,
                    range=spread,
                    se=se,
                )
            )
        rows += per_location
        if s.role == "passive":
            measure, tolerance, higher = f"markout_{study.horizons_s[0]}s_bps", PASSIVE_TOLERANCE_BPS, True
        else:
            measure, tolerance, higher = "slippage_bps", AGGRESSIVE_TOLERANCE_BPS, False
        values = [r.mean.get(measure) for r in per_location]
        ses = [r.se.get(measure) for r in per_location]
        holds = non_improving(values, tolerance=tolerance, higher_is_better=higher, ses=ses, se_multiple=SE_MULTIPLE)
        checks.append(
            StudyCheck(
                role=s.role,
                strategy=s.name,
                measure=measure,
                values=values,
                tolerance=tolerance,
                holds=holds,
                ses=ses,
                se_multiple=SE_MULTIPLE,
            )
        )
    return StudyReport(
        base=str(base),
        locations=list(study.locations),
        windows=list(study.windows),
        horizons_s=list(study.horizons_s),
        rows=rows,
        checks=checks,
    )
