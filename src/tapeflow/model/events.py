"""The event base class and the field types every event shares.

Every event is an immutable, tagged, keyword-only ``msgspec.Struct`` carrying two clocks:

- ``ts_event``: when it happened at the source (exchange matching engine, strategy decision), int ns UTC;
- ``ts_init``: when tapeflow saw it. The kernel orders events by ``ts_init``, because that is the moment a
  component could first have acted on them; in a backtest ``ts_init - ts_event`` is the modelled feed latency.

Field constraints (``Qty`` must be positive, timestamps non-negative) are enforced where data crosses a boundary,
that is when bytes are decoded (``tapeflow.model.codec``). Constructing a struct in Python does not validate, so the
hot path pays nothing; readers validate what they parse.

Encoded, an event is an array: its tag (the class name), then its fields in declaration order (``array_like``). Half
the bytes of a map with field names and about 40% less time to encode, which is what the audit trail pays per
record on the trading loop. The JSON form people read and write keeps the field names (``tapeflow.model.codec``).
Because position is meaning, schemas evolve only by appending fields with defaults to a concrete event type, never by
inserting, removing or reordering one, and never by adding a field to a base class (its subclasses' fields would
move), so that stored tapes and audit records stay readable.
"""

from __future__ import annotations

from typing import Annotated, TypeAlias

import msgspec

from tapeflow.model.enums import MarketStatus
from tapeflow.model.prices import MAX_PRICE

TimestampNs: TypeAlias = Annotated[int, msgspec.Meta(ge=0)]
"""Nanoseconds since the Unix epoch, UTC."""

DurationNs: TypeAlias = Annotated[int, msgspec.Meta(ge=0)]

Qty: TypeAlias = Annotated[int, msgspec.Meta(gt=0)]
"""A positive number of shares (an order, an execution, a trade)."""

NonNegQty: TypeAlias = Annotated[int, msgspec.Meta(ge=0)]
"""Shares that may be zero (a level's size after a delete, an empty quote side)."""

PriceUnits: TypeAlias = Annotated[int, msgspec.Meta(ge=0, le=MAX_PRICE)]
"""A price in 1/10,000 dollar; ``NO_PRICE`` (0) where there is none."""

Money: TypeAlias = int
"""Signed cash in 1/10,000 dollar (fees, PnL)."""

Symbol: TypeAlias = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]


class Event(msgspec.Struct, frozen=True, kw_only=True, tag=True, gc=False, array_like=True):
    """Base of all events. ``gc=False``: events hold only scalars, strings and flat containers, never cycles."""

    ts_event: TimestampNs
    ts_init: TimestampNs


class TimerFired(Event, frozen=True, kw_only=True):
    """A timer came due. ``ts_event`` is the time it was set for (equal to ``ts_init`` in a simulation)."""

    name: str
    timer_id: int


class TradingStatus(Event, frozen=True, kw_only=True):
    """Trading status of a symbol changed (halt, quotation-only period, resumption)."""

    symbol: Symbol
    status: MarketStatus
    reason: str = ""
    venue: str = ""


class Signal(Event, frozen=True, kw_only=True):
    """A strategy's decision input, recorded so that every order can be traced to why it was sent.

    ``reason`` is for a human reading the audit trail; ``features`` are the numbers the decision used (floats are
    fine here: they are model inputs, not money).
    """

    strategy_id: str
    symbol: Symbol
    name: str
    value: float
    reason: str
    features: dict[str, float] = {}


class ModelUpdated(Event, frozen=True, kw_only=True):
    """A model was retrained; the training window proves it saw no data after ``train_end``."""

    model_id: str
    version: int
    train_start: TimestampNs
    train_end: TimestampNs
    metrics: dict[str, float] = {}
    model_hash: str = ""
    """The content hash of the model's bytes (``Model.version``): the same window and seed give the same hash."""
    samples: int = 0
    """Training samples the model was fitted on."""
    duration_ns: int = 0
    """Training time: measured in a live run, the configured one in a backtest (so runs repeat exactly)."""
    trigger_ts: int = 0
    """When the retrain was triggered: nothing known after it was used (the event itself comes later)."""


class ModelTrainingFailed(Event, frozen=True, kw_only=True):
    """A retrain triggered at ``trigger_ts`` failed or was not ready by the next trigger: the model in force stays
    (trading continues on it) and this says why, so a stale model is visible in the record."""

    model_id: str
    reason: str
    trigger_ts: TimestampNs


class Prediction(Event, frozen=True, kw_only=True):
    """What the model in force predicts for ``symbol`` now: ``value`` is the forward mid return over the model's
    label horizon (a float: a model output, not money). It names the model (id, version, content hash) so that a
    decision taken on it can be traced to the exact bytes that made it."""

    model_id: str
    version: int
    model_hash: str
    symbol: Symbol
    value: float
    features: dict[str, float] = {}
    """The feature vector the model was given, by name (empty when the predictor is told not to carry it)."""
    online_updates: int = 0
    """Samples the model learned one at a time since it took effect (``ml/online.py``): with them, the announced
    version and hash name the model exactly."""
