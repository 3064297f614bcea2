"""Value types and events: the bottom layer of tapeflow.

Nothing here imports from the rest of tapeflow, and everything else may import from here. Prices are int
1/10,000 dollar (``prices``), quantities int shares, timestamps int ns UTC. Events (``events``, ``market``,
``orders``) are frozen msgspec structs; ``codec`` turns them into bytes and back exactly.
"""

from tapeflow.model import book_events as book_events
from tapeflow.model import compliance_events as compliance_events
from tapeflow.model import risk_events as risk_events
from tapeflow.model import venue_events as venue_events
from tapeflow.model.codec import event_types, from_json, from_msgpack, to_json, to_msgpack
from tapeflow.model.enums import (
    Aggressor,
    BookAction,
    LiquiditySide,
    MarketStatus,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from tapeflow.model.errors import (
    ConfigError,
    DataError,
    EngineError,
    OutOfOrderError,
    TapeflowError,
    ValueRangeError,
)
from tapeflow.model.events import Event, ModelUpdated, Signal, TimerFired, TradingStatus
from tapeflow.model.instruments import RULE_612, Instrument, TickRule
from tapeflow.model.market import (
    Bar,
    BookDelta,
    BookLevel,
    BookOrder,
    BookSnapshot,
    OrderAdded,
    OrderDeleted,
    OrderExecuted,
    OrderReduced,
    OrderReplaced,
    Quote,
    Trade,
)
from tapeflow.model.orders import (
    CancelOrder,
    CancelRejected,
    ModifyOrder,
    ModifyRejected,
    OrderAccepted,
    OrderCancelled,
    OrderCommand,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderReport,
    OrderUpdated,
    RiskRejected,
    SubmitOrder,
)
from tapeflow.model.prices import (
    NO_PRICE,
    PRICE_SCALE,
    price_from_decimal,
    price_from_str,
    price_to_decimal,
    price_to_fraction,
    price_to_str,
)

__all__ = [
    "NO_PRICE",
    "PRICE_SCALE",
    "RULE_612",
    "Aggressor",
    "Bar",
    "BookAction",
    "BookDelta",
    "BookLevel",
    "BookOrder",
    "BookSnapshot",
    "CancelOrder",
    "CancelRejected",
    "ConfigError",
    "DataError",
    "EngineError",
    "Event",
    "Instrument",
    "LiquiditySide",
    "MarketStatus",
    "ModelUpdated",
    "ModifyOrder",
    "ModifyRejected",
    "OrderAccepted",
    "OrderAdded",
    "OrderCancelled",
    "OrderCommand",
    "OrderDeleted",
    "OrderExecuted",
    "OrderExpired",
    "OrderFilled",
    "OrderReduced",
    "OrderRejected",
    "OrderReplaced",
    "OrderReport",
    "OrderStatus",
    "OrderType",
    "OrderUpdated",
    "OutOfOrderError",
    "Quote",
    "RiskRejected",
    "Side",
    "Signal",
    "SubmitOrder",
    "TapeflowError",
    "TickRule",
    "TimeInForce",
    "TimerFired",
    "Trade",
    "TradingStatus",
    "ValueRangeError",
    "event_types",
    "from_json",
    "from_msgpack",
    "price_from_decimal",
    "price_from_str",
    "price_to_decimal",
    "price_to_fraction",
    "price_to_str",
    "to_json",
    "to_msgpack",
]
