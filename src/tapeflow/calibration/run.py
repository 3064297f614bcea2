"""Run a calibration: every day of a ``[calibrate]`` configuration, probes drawn, followed, scored.

Days run in (symbol, day) order whatever order they were listed in, each with probes drawn from its own seed
(``probes.day_seed``), so the report depends on the set of days and the configuration only. The window probes
join in is the configuration's New York wall-clock window clipped to the file's own; a probe's level is drawn
only up to the file's depth (a level-1 file says nothing about level 2).
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from tapeflow.calibration.config import CalibrateSection, find_days
from tapeflow.calibration.follow import ProbeOutcome, follow
from tapeflow.calibration.probes import day_seed, draw_probes
from tapeflow.calibration.score import ModelScore, best_models, score, unplaced, unseen
from tapeflow.data.lobster_events import iter_events
from tapeflow.data.lobster_file import LobsterFile
from tapeflow.data.nytime import ny_to_utc_ns

NS_PER_MS = 1_000_000


class DayRun(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    day: str
    depth: int
    """Price levels per side the file carries."""
    file: str
    probes: int
    placed: int
    scored: int
    """Placed and seen whole (see ``follow``)."""


class CalibrationReport(msgspec.Struct, frozen=True, kw_only=True):
    seed: int
    horizon_s: int
    window: tuple[str, str]
    models: list[str]
    days: list[DayRun]
    scores: list[ModelScore]
    unplaced: dict[str, dict[int, int]]
    """Per symbol and level: probes whose level did not exist at their time."""
    unseen: dict[str, dict[int, int]]
    """Per symbol and level: probes whose level changed out of the file's view (the truth not exact): not scored."""
    best: dict[str, str]
    """Per symbol: the L2 model that agrees with the truth most often (``score.best_models``)."""


def run_day(cfg: CalibrateSection, lf: LobsterFile) -> list[ProbeOutcome]:
    """Draw one day's probes and follow them under the truth and every configured model."""
    start = max(ny_to_utc_ns(lf.day, cfg.start_ns), ny_to_utc_ns(lf.day, lf.start_ms * NS_PER_MS))
    end = min(ny_to_utc_ns(lf.day, cfg.end_ns), ny_to_utc_ns(lf.day, lf.end_ms * NS_PER_MS))
    levels = [lv for lv in cfg.levels if lv <= lf.levels]
    probes = draw_probes(day_seed(cfg.seed, lf.symbol, lf.day), start, end, cfg.probes, levels, list(cfg.sizes))
    if not probes:
        return []
    return follow(iter_events(lf), lf.symbol, probes, list(cfg.models), cfg.horizon_s * 1_000_000_000)


def run_calibration(cfg: CalibrateSection, base: Path | None = None) -> CalibrationReport:
    """Every day of ``cfg`` (see the module docstring); ``base`` is the configuration's folder for its paths."""
    days = find_days(cfg, base)
    outcomes: list[ProbeOutcome] = []
    runs: list[DayRun] = []
    for lf in days:
        got = run_day(cfg, lf)
        outcomes.extend(got)
        runs.append(
            DayRun(
                symbol=lf.symbol,
                day=lf.day.isoformat(),
                depth=lf.levels,
                file=Path(lf.path).name,
                probes=len(got),
                placed=sum(1 for o in got if o.fill_ns),
                scored=sum(1 for o in got if o.fill_ns and o.seen_whole),
            )
        )
    models = [m.value for m in cfg.models]
    scores = score(outcomes, models)
    return CalibrationReport(
        seed=cfg.seed,
        horizon_s=cfg.horizon_s,
        window=(cfg.start, cfg.end),
        models=models,
        days=runs,
        scores=scores,
        unplaced=unplaced(outcomes),
        unseen=unseen(outcomes),
        best=best_models(scores),
    )
