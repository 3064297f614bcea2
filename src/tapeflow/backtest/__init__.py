"""backtest: the edge that replays history through the same kernel and components as live trading."""

from tapeflow.backtest.driver import run_backtest

__all__ = ["run_backtest"]
