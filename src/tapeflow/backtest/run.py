"""Run a ``BacktestConfig`` end to end: sources, strategy, assembly, results. Shared by ``backtest`` and ``demo``.

With an ``[ml]`` section the run also records features, retrains the model every interval (deterministically: the
model takes effect at trigger + the configured delay, so two runs give the same events and hashes, through the
pool or inline) and predicts after each sample; the parts are added before the strategy, so its handlers see the
model in force. ``compare_frozen`` runs the configuration a second time with the model frozen after its first
window (no audit trail, no output: the twin is a yardstick, not a run of record) and reports both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, NamedTuple

import msgspec

from tapeflow.backtest.config import AuditSection, BacktestConfig, OutputConfig
from tapeflow.backtest.engine import Backtest
from tapeflow.backtest.sources import build_sources, build_strategy, prices_used
from tapeflow.compliance.audit import AuditTrail
from tapeflow.compliance.stp import StpMode
from tapeflow.data.quality import QualityReporter
from tapeflow.engine.kernel import Component
from tapeflow.ml.config import MlParts, MlSection, build_ml
from tapeflow.ml.pool import TrainingPool
from tapeflow.ml.retrain import InProcessTrainer, Trainer
from tapeflow.model.errors import ConfigError
from tapeflow.model.events import Event
from tapeflow.model.prices import price_to_str
from tapeflow.portfolio import PortfolioConfig
from tapeflow.report.market_samples import MarketSamples
from tapeflow.report.rejections import BarSymbols, RejectionLog
from tapeflow.report.run_files import write_run_files
from tapeflow.strategy.base import Strategy

Progress = Callable[[int], None]
"""Called with the number of feed events read since the last call."""


def counted(source: Iterable[Event], progress: Progress, every: int = 8192) -> Iterator[Event]:
    """``source`` unchanged, telling ``progress`` how many events went by every ``every`` of them."""
    n = 0
    for event in source:
        yield event
        n += 1
        if n == every:
            progress(n)
            n = 0
    if n:
        progress(n)


@contextmanager
def ml_trainer(section: MlSection | None) -> Iterator[Trainer | None]:
    """The trainer an ``[ml]`` section asks for, for the length of a run (both runs of a comparison): a started
    process pool (warming in the background; a training queues behind it), closed afterwards even when the run
    fails, or ``InProcessTrainer`` for ``trainer = "inline"``; None without a section."""
    if section is None:
        yield None
        return
    if section.trainer == "inline":
        yield InProcessTrainer()
        return
    pool = TrainingPool(section.workers)
    try:
        pool.start()
        yield pool
    finally:
        pool.close()


def build_ml_parts(
    cfg: BacktestConfig, trainer: Trainer | None, output_dir: str | Path | None, *, max_updates: int = 0
) -> MlParts | None:
    """The ML components of a backtest (None without ``[ml]``); models are stored under ``<output_dir>/models``."""
    if cfg.ml is None:
        return None
    if trainer is None:
        raise ValueError("an [ml] section needs a trainer: run inside ml_trainer(cfg.ml)")
    models = "" if output_dir is None else str(Path(output_dir) / "models")
    frozen = max_updates == 1  # the frozen twin: no later model, and nothing learned online either
    return build_ml(
        cfg.ml, mode="deterministic", trainer=trainer, output_dir=models, max_updates=max_updates, online=not frozen
    )


def build_backtest(
    cfg: BacktestConfig,
    strategy: Strategy,
    level: Literal["L1", "L2", "L3"],
    *,
    extra: Sequence[Component] = (),
    ml: MlParts | None = None,
) -> Backtest:
    """The assembly a configuration describes (one place, shared by ``backtest``, ``demo`` and ``compare``).

    A configuration with ``[ml]`` needs its parts (``build_ml_parts``): run without them, its strategy would wait
    for predictions that never come, so that is refused rather than run as if the section were not there."""
    if cfg.ml is not None and ml is None:
        raise ConfigError(
            "this command does not run a model: use `tapeflow backtest`, or remove the [ml] section", field="ml"
        )
    # a backtest takes the in-process writer where no core is free for a process (a crash is rerun, not lost)
    audit = None if cfg.audit.path is None else AuditTrail.open(cfg.audit.path, key=cfg.audit.key(), writer="auto")
    return Backtest(
        [strategy],
        level=level,
        latency=cfg.latency.build(),
        fees=None if cfg.no_fees else cfg.fees.build(),
        exchange=cfg.exchange,
        portfolio=PortfolioConfig(
            starting_cash=cfg.portfolio.capital_units(),
            sample_interval_ns=cfg.portfolio.sample_interval_ms * 1_000_000,
        ),
        extra=extra,
        risk=cfg.risk_config(),
        returns_period=cfg.portfolio.returns_period,
        stp=None if cfg.stp.mode == "off" else StpMode(cfg.stp.mode),
        audit=audit,
        before_strategies=ml.components if ml is not None else (),
    )


def run_backtest_config(
    cfg: BacktestConfig,
    *,
    progress: Progress | None = None,
    on_total: Callable[[int | None], None] | None = None,
    output_dir: str | Path | None = None,
) -> tuple[Backtest, dict[str, Any]]:
    """Run ``cfg``; the report's ``"ml"`` (with an ``[ml]`` section) holds ``"retrained"``, the figures of this
    run, and with ``compare_frozen`` also ``"frozen"``, those of the twin whose model never changed."""
    out = output_dir if output_dir is not None else cfg.output.dir
    with ml_trainer(cfg.ml) as trainer:
        run = _run_once(cfg, trainer, out, progress=progress, on_total=on_total)
        bt, report, parts = run.backtest, run.report, run.ml
        if parts is not None and cfg.ml is not None:
            report["ml"] = {"retrained": ml_figures(parts, report)}
            if cfg.ml.compare_frozen:
                twin = msgspec.structs.replace(cfg, audit=AuditSection(), output=OutputConfig())
                frozen = _run_once(twin, trainer, None, max_updates=1)
                assert frozen.ml is not None
                report["ml"]["frozen"] = ml_figures(frozen.ml, frozen.report)
    if out is not None:  # what the tear sheet needs beside the Parquet results (docs/REPORTS.md)
        context = {"calendar": bt.node.sessions.name, "returns_period": cfg.portfolio.returns_period}
        files = write_run_files(out, report, samples=run.samples, rejections=run.rejections, extra=context)
        report["written"] += [str(p) for p in files]
    return bt, report


class _Run(NamedTuple):
    """One assembly's run: the backtest, its report, and what the caller still needs to finish the results."""

    backtest: Backtest
    report: dict[str, Any]
    ml: MlParts | None
    samples: MarketSamples | None
    rejections: RejectionLog


def ml_figures(parts: MlParts, report: dict[str, Any]) -> dict[str, Any]:
    """One run's ML figures: the predictions' score, the run's PnL, and every model that took effect."""
    score = parts.scorer.score()
    pnl = report["summary"].get("pnl_units")
    return {
        "hit_rate": score.hit_rate,
        "predictions": score.predictions,
        "flat": score.flat,
        "mean_bps_long": score.mean_bps_long,
        "mean_bps_short": score.mean_bps_short,
        "pnl": None if pnl is None else price_to_str(pnl),
        "pnl_units": pnl,
        "updates": parts.retrainer.updates,
        "learned_online": 0 if parts.online is None else parts.online.total,
        "failures": parts.retrainer.failures,
        "models": [
            {
                "version": m.version,
                "hash": m.model_hash,
                "ts": m.ts_init,
                "trigger_ts": m.trigger_ts,
                "samples": m.samples,
            }
            for m in parts.scorer.models
        ],
    }


def _run_once(
    cfg: BacktestConfig,
    trainer: Trainer | None,
    out: str | Path | None,
    *,
    progress: Progress | None = None,
    on_total: Callable[[int | None], None] | None = None,
    max_updates: int = 0,
) -> _Run:
    sources, level, total = build_sources(cfg.data)
    prices = prices_used(sources)  # before progress wraps the sources
    if on_total is not None:
        on_total(total)
    readers = [s for s in sources if isinstance(s, QualityReporter)]
    if progress is not None:
        sources = [counted(s, progress) for s in sources]
    strategy = build_strategy(cfg.strategy)
    rejections, bar_symbols = RejectionLog(), BarSymbols()
    ml = build_ml_parts(cfg, trainer, out, max_updates=max_updates)
    # the tear sheet's market samples (report/market_samples.py): only when there is a folder to write them to
    samples = MarketSamples() if out is not None else None
    extra: list[Component] = [rejections, bar_symbols] if samples is None else [rejections, bar_symbols, samples]
    bt = build_backtest(cfg, strategy, level, extra=extra, ml=ml)
    if samples is not None:
        samples.books = bt.books
    started = time.perf_counter()
    bt.run(sources, readers=readers)
    elapsed = time.perf_counter() - started
    written: list[str] = []
    if out is not None:
        written = [str(p) for p in bt.results.write_parquet(out)]
    stats = bt.stats()
    events = stats["feed_events"] + stats["scheduled_events"]
    summary = bt.summary()
    report: dict[str, Any] = {
        "strategy": strategy.strategy_id,
        "data": cfg.data.kind,
        "prices": prices,
        "level": level,
        "risk": cfg.risk_mode,
        "anomalies": summary.anomalies,
        "halted": summary.halted is not None,
        "symbols": sorted({*bt.books.symbols(), *bar_symbols.symbols}),
        "paths": list(cfg.data.paths),
        "audit": cfg.audit.path,
        "stp": cfg.stp.mode,
        "risk_rejections": rejections.report(),
        "summary": msgspec.to_builtins(summary),
        "engine": stats,
        "elapsed_s": round(elapsed, 3),
        "events_per_s": round(events / elapsed) if elapsed > 0 else None,
        "written": written,
    }
    return _Run(bt, report, ml, samples, rejections)
