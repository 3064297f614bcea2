"""What a trading node is made of, as one value: the same configuration builds a backtest and a live node.

It holds configuration only (models and frozen settings); the things a run owns (strategies, venues, the audit
trail, extra components) are handed to ``build_node`` beside it. ``latency``, ``fees`` and ``exchange`` configure
the simulated exchange a node builds when it is given no venues, and ``latency`` also the strategies' compute delay
and the feed delay a replay adds.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from tapeflow.book.signals import SignalConfig
from tapeflow.compliance.stp import StpMode
from tapeflow.portfolio import PortfolioConfig
from tapeflow.risk.config import RiskConfig
from tapeflow.venues.sim.exchange import SimExchangeConfig
from tapeflow.venues.sim.fees import FeeModel
from tapeflow.venues.sim.latency import FixedLatency, LatencyModel

NO_LATENCY = FixedLatency()


class NodeConfig(msgspec.Struct, frozen=True, kw_only=True):
    """``risk`` None: no configured pipeline (only rules given to ``build_node``); ``stp`` None: no STP gate."""

    level: Literal["L1", "L2", "L3"] = "L2"
    latency: LatencyModel = NO_LATENCY
    fees: FeeModel | None = None
    exchange: SimExchangeConfig | None = None
    portfolio: PortfolioConfig | None = None
    risk: RiskConfig | None = None
    signals: SignalConfig | None = None
    """Book-derived signals; an L3 node without it gets the defaults (L3 feeds carry no quotes or prints)."""
    stp: StpMode | None = None
    returns_period: str = "daily"
