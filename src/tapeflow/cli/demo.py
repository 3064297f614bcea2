"""``tapeflow demo``: a full backtest on the built-in synthetic market, runnable on a fresh machine with no data.

The imbalance quoter trades four synthetic symbols through everything a real run uses: the kernel, the L2 books,
the simulated exchange with colocated latency, queue position and fees, pre-trade risk (its rejections by rule
are in the summary), execution, the portfolio and the results. ``--config`` takes the same TOML as
``tapeflow backtest`` (examples/synthetic_quoter.toml), ``[data]`` included: a configuration with real data
(``kind = "lobster"``, ...) runs on that data, exactly as ``tapeflow backtest`` would; ``--events`` and ``--seed``
shape the synthetic market only, so with real data they are refused rather than silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from tapeflow.backtest.config import BacktestConfig, load_backtest_config
from tapeflow.cli.backtest_cmd import print_report, run_config_with_progress
from tapeflow.cli.output import print_json
from tapeflow.model.errors import ConfigError
from tapeflow.risk.config import OrderChecks, RiskConfig


def build_config(config_path: Path | None, events_per_symbol: int | None, seed: int | None) -> BacktestConfig:
    """The given configuration, ``[data]`` honoured, or the built-in one: examples/synthetic_quoter.toml with its
    risk section."""
    if config_path is not None:
        cfg = load_backtest_config(config_path)
    else:
        cfg = BacktestConfig(risk=RiskConfig(order=OrderChecks(max_quantity=1_000)))
    if cfg.data.kind != "synthetic":
        given = [name for name, value in (("--events", events_per_symbol), ("--seed", seed)) if value is not None]
        if given:
            raise ConfigError(
                f"{' and '.join(given)} shape the synthetic market, but [data] kind is {cfg.data.kind!r} in "
                f"{config_path}; drop {' and '.join(given)}, or use [data] limit to shorten a real-data run",
                field="data.kind",
            )
        return cfg
    market = cfg.data.synthetic
    if events_per_symbol is not None:
        market = msgspec.structs.replace(market, events_per_symbol=events_per_symbol)
    if seed is not None:
        market = msgspec.structs.replace(market, seed=seed)
    data = msgspec.structs.replace(cfg.data, synthetic=market)
    return msgspec.structs.replace(cfg, data=data)


def run_demo(
    *, config_path: Path | None, json_out: bool, events_per_symbol: int | None, seed: int | None
) -> dict[str, Any]:
    cfg = build_config(config_path, events_per_symbol, seed)
    report = run_config_with_progress(cfg, None, quiet=json_out)
    if cfg.data.kind == "synthetic":
        report["symbols"] = list(cfg.data.synthetic.symbols)
        report["seed"] = cfg.data.synthetic.seed
    if json_out:
        print_json(report)
    else:
        print_report(report)
    return report
