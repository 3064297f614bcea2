"""backtest: the edge that replays history through the same kernel and components as live trading.

The public API for a run written in Python (a notebook, a custom strategy in the user's own file)::

    from tapeflow.backtest import Backtest, BacktestConfig, load_backtest_config, run_backtest_config

``Backtest`` wires the components by hand; ``run_backtest_config`` runs what a TOML file (or a
``BacktestConfig`` built in code) describes, exactly as ``tapeflow backtest`` does.
"""

from tapeflow.backtest.config import (
    AuditSection,
    BacktestConfig,
    DataConfig,
    LatencyConfig,
    OutputConfig,
    PortfolioSection,
    StpSection,
    StrategyConfig,
    check_backtest_config,
    load_backtest_config,
)
from tapeflow.backtest.driver import run_backtest
from tapeflow.backtest.engine import Backtest
from tapeflow.backtest.run import build_backtest, run_backtest_config
from tapeflow.backtest.strategies import STRATEGIES

__all__ = [
    "STRATEGIES",
    "AuditSection",
    "Backtest",
    "BacktestConfig",
    "DataConfig",
    "LatencyConfig",
    "OutputConfig",
    "PortfolioSection",
    "StpSection",
    "StrategyConfig",
    "build_backtest",
    "check_backtest_config",
    "load_backtest_config",
    "run_backtest",
    "run_backtest_config",
]
