"""The simulated exchange and its realism models.

Layering: the realism models (``latency``, ``fees``) are small protocols with a default implementation each and
import only ``tapeflow.model``; the exchange modules built on them call the protocols once per message (latency)
or per fill (fees) and never the other way round. Geography presets that build a ``FixedLatency`` live one level
up, in ``tapeflow.venues.geography``. Docs: docs/LATENCY.md, docs/FEES.md.

The exchange itself: ``exchange`` (the coordinator, ``SimulatedExchange``) over ``matching``, ``depth``,
``bar_fills`` and ``expiry``, with queue position behind the ``QueuePosition`` protocol of ``queue`` (an L2 model
and an exact L3 one). Import them from their modules; this package re-exports only the realism models.
"""

# --- realism models: latency and fees (owned by the realism-model module authors) ---
from tapeflow.venues.sim.fees import (
    AccessFeeCap,
    CommissionConfig,
    CommissionModel,
    DatedRate,
    FeeBreakdown,
    FeeModel,
    FeeSchedule,
    FeesConfig,
    PerShareCommission,
    VenueFees,
    ZeroCommission,
)
from tapeflow.venues.sim.latency import FixedLatency, JitterLatency, LatencyModel, OrderAction, uniform_latency

# --- end realism models ---

__all__ = [
    "AccessFeeCap",
    "CommissionConfig",
    "CommissionModel",
    "DatedRate",
    "FeeBreakdown",
    "FeeModel",
    "FeeSchedule",
    "FeesConfig",
    "FixedLatency",
    "JitterLatency",
    "LatencyModel",
    "OrderAction",
    "PerShareCommission",
    "VenueFees",
    "ZeroCommission",
    "uniform_latency",
]
