"""node: the trading node, assembled once for both drivers (backtest and live).

It sits above everything a node is made of (books, venues, execution, portfolio, risk, results, strategies, the
audit trail) and below the drivers that run it (``tapeflow.backtest``, ``tapeflow.live``).
"""

from tapeflow.node.assembly import TradingNode, VenueFactory, VenueSpec, build_node, simulated_exchange
from tapeflow.node.config import NodeConfig

__all__ = ["NodeConfig", "TradingNode", "VenueFactory", "VenueSpec", "build_node", "simulated_exchange"]
