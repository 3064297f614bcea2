"""``tapeflow compare``: the same bar strategy vectorized (look-ahead) and event-driven, side by side."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from tapeflow.backtest.config import BacktestConfig
from tapeflow.backtest.engine import Backtest
from tapeflow.backtest.run import build_backtest, counted, run_backtest_config
from tapeflow.backtest.sources import build_sources, build_strategy
from tapeflow.backtest.vectorized import sma_cross_vectorized
from tapeflow.data.quality import QualityReporter
from tapeflow.model.errors import ConfigError
from tapeflow.model.market import Bar
from tapeflow.portfolio import PortfolioConfig
from tapeflow.report.run_files import RUN_JSON, write_json_atomic
from tapeflow.strategy.examples.sma_cross import SmaCross
from tapeflow.strategy.polling import QuotePoller
from tapeflow.venues.sim.latency import FixedLatency

CAUSES = (
    "look-ahead: the vectorized run trades at the close of the bar that produced the signal, a price that was "
    "not known until that bar ended; the event-driven run can only act after the close and fills at the next "
    "bar's open",
    "no latency: the vectorized run assumes the decision and the fill take no time",
    "no queue or spread: the vectorized run fills any size at one price",
)


def compare_sma(cfg: BacktestConfig) -> dict[str, Any]:
    if cfg.data.kind != "bars":
        raise ConfigError("compare needs bar data: set data.kind = 'bars'", field="data.kind")
    params = {k: v for k, v in cfg.strategy.params.items() if k in ("fast", "slow", "quantity")}
    fast, slow, quantity = int(params.get("fast", 10)), int(params.get("slow", 30)), int(params.get("quantity", 100))
    sources, _, _ = build_sources(cfg.data)
    bars = [e for src in sources for e in src if isinstance(e, Bar)]
    symbols = sorted({b.symbol for b in bars})
    if len(symbols) != 1:
        raise ConfigError(f"compare runs one symbol; the data has {symbols}: filter with data.symbols", field="data")
    capital = cfg.portfolio.capital_units()
    ts = np.fromiter((b.ts_event for b in bars), dtype=np.int64, count=len(bars))
    closes = np.fromiter((b.close for b in bars), dtype=np.int64, count=len(bars))
    vec = sma_cross_vectorized(ts, closes, fast=fast, slow=slow, quantity=quantity, capital=capital)

    strategy = SmaCross(fast=fast, slow=slow, quantity=quantity)
    bt = Backtest(
        [strategy],
        latency=FixedLatency(),
        portfolio=PortfolioConfig(starting_cash=capital, sample_interval_ns=None),
        risk=cfg.risk_config(),  # the configured checks, as `tapeflow backtest` runs them; "off" only if it says so
    )
    bt.run([bars])
    fills = bt.results.fills
    event_trades: list[dict[str, Any]] = [
        {"ts": f.ts_event, "side": f.side.value, "price": f.price, "quantity": f.quantity} for f in fills
    ]
    vec_trades: list[dict[str, Any]] = [
        {"ts": t.ts, "side": t.side, "price": t.price, "quantity": t.quantity} for t in vec.trades
    ]
    event_equity = bt.portfolio.equity()
    pairs = [
        {"vectorized": v, "event_driven": e, "price_difference": e["price"] - v["price"]}
        for v, e in zip(vec_trades, event_trades, strict=False)
    ]
    vec_return = (vec.final_equity_units - capital) / capital
    ev_return = (event_equity - capital) / capital
    return {
        "symbol": symbols[0],
        "bars": len(bars),
        "risk": cfg.risk_mode,
        "fast": fast,
        "slow": slow,
        "quantity": quantity,
        "vectorized": {
            "trades": len(vec_trades),
            "final_equity_units": vec.final_equity_units,
            "total_return": vec_return,
        },
        "event_driven": {
            "trades": len(event_trades),
            "final_equity_units": event_equity,
            "total_return": ev_return,
        },
        "return_difference": vec_return - ev_return,
        "pnl_difference_units": vec.final_equity_units - event_equity,
        "paired_trades": pairs,
        "causes": list(CAUSES),
    }


def save_comparison(cfg: BacktestConfig, out: str | Path, comparison: dict[str, Any]) -> dict[str, Any]:
    """The event-driven side as a results folder (``tapeflow backtest --out``'s files) whose ``run.json`` also
    carries ``comparison``, so the tear sheet draws it; returns the backtest's report.

    Why a second run: the folder is the configured assembly (its latency, fees, equity samples), exactly what
    ``tapeflow backtest --out`` writes for this file, while ``compare_sma`` keeps its bare event-driven twin of the
    vectorized run; on bars both fill at the next bar's open, which a test checks."""
    _, report = run_backtest_config(cfg, output_dir=out)
    path = Path(out) / RUN_JSON
    run = msgspec.json.decode(path.read_bytes())
    run["comparison"] = comparison
    write_json_atomic(run, path)
    return report


def compare_push_pull(
    cfg: BacktestConfig,
    poll_ms: int,
    *,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int | None], None] | None = None,
) -> dict[str, Any]:
    """The configured tick strategy driven by every quote (push) and by a poll every ``poll_ms`` (pull).

    ``progress`` is told the feed events read (both runs); ``on_total`` the expected count of both, when known.
    """
    runs: dict[str, Any] = {}
    for mode in ("push", "pull"):
        sources, level, total = build_sources(cfg.data)
        if on_total is not None and mode == "push":
            on_total(None if total is None else 2 * total)
        readers = [s for s in sources if isinstance(s, QualityReporter)]
        if progress is not None:
            sources = [counted(s, progress) for s in sources]
        strategy = build_strategy(cfg.strategy)
        poller = QuotePoller(strategy, poll_ms * 1_000_000) if mode == "pull" else None
        bt = build_backtest(cfg, strategy, level, extra=[poller] if poller is not None else [])
        bt.run(sources, readers=readers)
        summary = bt.summary()
        run: dict[str, Any] = {
            "orders": summary.orders,
            "fills": summary.fills,
            "filled_quantity": sum(f.quantity for f in bt.results.fills),
            "pnl_units": summary.pnl_units,
            "fees_units": summary.fees_units,
            "limit_fill_ratio": summary.limit_fill_ratio,
            "avg_slippage_bps": summary.avg_slippage_bps,
        }
        if poller is not None:
            delays = sorted(poller.delays_ns)
            run.update(
                quotes=poller.quotes,
                quotes_delivered=poller.delivered,
                quotes_never_seen=poller.never_seen,
                never_seen_share=poller.never_seen / poller.quotes if poller.quotes else 0.0,
                reaction_delay_mean_us=(sum(delays) / len(delays) / 1_000) if delays else None,
                reaction_delay_p50_us=delays[len(delays) // 2] / 1_000 if delays else None,
                reaction_delay_max_us=delays[-1] / 1_000 if delays else None,
            )
        runs[mode] = run
    push, pull = runs["push"], runs["pull"]
    return {
        "strategy": cfg.strategy.name,
        "data": cfg.data.kind,
        "risk": cfg.risk_mode,
        "poll_ms": poll_ms,
        "push": push,
        "pull": pull,
        "pnl_difference_units": (push["pnl_units"] or 0) - (pull["pnl_units"] or 0),
        "fills_difference": push["fills"] - pull["fills"],
        "blind_spot": (
            f"polling every {poll_ms} ms the strategy never saw {pull.get('quotes_never_seen', 0):,} of "
            f"{pull.get('quotes', 0):,} quotes and reacted on average "
            f"{(pull.get('reaction_delay_mean_us') or 0) / 1_000:.1f} ms after the change it acted on"
        ),
    }
