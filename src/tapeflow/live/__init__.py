"""live: the asyncio edge. Feeds from sockets (or a replayed tape) drive the same kernel as a backtest."""

from tapeflow.live.driver import replay, run_live
from tapeflow.live.node import LiveNode

__all__ = ["LiveNode", "replay", "run_live"]
