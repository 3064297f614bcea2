"""backtest: see docs/ARCHITECTURE.md."""
