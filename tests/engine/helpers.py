"""Small builders for engine tests: events whose order is easy to read in an assertion."""

from __future__ import annotations

from tapeflow.model.market import Trade


def trade(ts: int, tag: str = "", symbol: str = "AAPL") -> Trade:
    """A Trade whose ``trade_id`` labels it, so dispatch order reads as a list of labels."""
    return Trade(ts_event=ts, ts_init=ts, symbol=symbol, price=1_000_000, size=100, trade_id=tag or str(ts))
