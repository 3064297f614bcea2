"""Run a ``BacktestConfig`` end to end: sources, strategy, assembly, results. Shared by ``backtest`` and ``demo``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec

from tapeflow.backtest.config import BacktestConfig
from tapeflow.backtest.engine import Backtest
from tapeflow.backtest.sources import build_sources, build_strategy, prices_used
from tapeflow.compliance.audit import AuditTrail
from tapeflow.compliance.stp import StpMode
from tapeflow.data.quality import QualityReporter
from tapeflow.engine.kernel import Component
from tapeflow.model.events import Event
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


def build_backtest(
    cfg: BacktestConfig,
    strategy: Strategy,
    level: Literal["L1", "L2", "L3"],
    *,
    extra: Sequence[Component] = (),
) -> Backtest:
    """The assembly a configuration describes (one place, shared by ``backtest``, ``demo`` and ``compare``)."""
    audit = None if cfg.audit.path is None else AuditTrail.open(cfg.audit.path, key=cfg.audit.key())
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
    )


def run_backtest_config(
    cfg: BacktestConfig,
    *,
    progress: Progress | None = None,
    on_total: Callable[[int | None], None] | None = None,
    output_dir: str | Path | None = None,
) -> tuple[Backtest, dict[str, Any]]:
    sources, level, total = build_sources(cfg.data)
    prices = prices_used(sources)  # before progress wraps the sources
    if on_total is not None:
        on_total(total)
    readers = [s for s in sources if isinstance(s, QualityReporter)]
    if progress is not None:
        sources = [counted(s, progress) for s in sources]
    strategy = build_strategy(cfg.strategy)
    out = output_dir if output_dir is not None else cfg.output.dir
    rejections, bar_symbols = RejectionLog(), BarSymbols()
    # the tear sheet's market samples (report/market_samples.py): only when there is a folder to write them to
    samples = MarketSamples() if out is not None else None
    extra: list[Component] = [rejections, bar_symbols] if samples is None else [rejections, bar_symbols, samples]
    bt = build_backtest(cfg, strategy, level, extra=extra)
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
    if out is not None:  # what the tear sheet needs beside the Parquet results (docs/REPORTS.md)
        context = {"calendar": bt.node.sessions.name, "returns_period": cfg.portfolio.returns_period}
        files = write_run_files(out, report, samples=samples, rejections=rejections, extra=context)
        written += [str(p) for p in files]
    return bt, report
