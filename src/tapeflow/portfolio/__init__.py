"""Portfolio: cash, netting positions, PnL and the equity curve, kept from fill and market-data events.

Sits beside ``risk`` and ``execution``, above ``engine``: ``position`` is the pure arithmetic of one symbol (exact
integer money, no kernel), ``portfolio`` the kernel component that owns the positions and samples equity.
Strategies and the risk engine read it; only events (and an integrator's explicit ``mark``/``sample``) change it.
See docs/PORTFOLIO.md for the conventions.
"""

from tapeflow.portfolio.portfolio import DEFAULT_SAMPLE_INTERVAL_NS, EquityCurve, Portfolio, PortfolioConfig
from tapeflow.portfolio.position import Position, PositionView, round_div

__all__ = [
    "DEFAULT_SAMPLE_INTERVAL_NS",
    "EquityCurve",
    "Portfolio",
    "PortfolioConfig",
    "Position",
    "PositionView",
    "round_div",
]
