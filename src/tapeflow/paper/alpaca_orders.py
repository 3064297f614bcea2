"""Alpaca's order as a client sees it, and the requests that make one: the shapes of the trading API v2.

Prices stay int 1/10,000 dollar inside; they become Alpaca's strings ("583.5") only in ``order_json``, and a
client's numbers become units only through ``Decimal`` (the REST layer decodes JSON floats as ``Decimal``), so no
float ever touches money. Times are the tape's event time, written RFC 3339 with nanoseconds in UTC ("Z").

A request the venue cannot honour is a ``RequestError`` with Alpaca's status and code (422 / 40010001 for a bad
field), raised here, before anything reaches the node: fail closed, and say which field and why.
"""

from __future__ import annotations

import datetime
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from tapeflow.model.enums import OrderType, Side, TimeInForce
from tapeflow.model.errors import RequestError, ValueRangeError
from tapeflow.model.prices import NO_PRICE, price_from_decimal, price_to_str

INVALID: Final = 40010001
"""Alpaca's code for a request with a missing or invalid field (HTTP 422)."""
NOT_FOUND: Final = 40410000
FORBIDDEN: Final = 40310000
"""Alpaca's code for an order refused for the account's sake (insufficient buying power and the like, HTTP 403)."""
NOT_CANCELABLE: Final = 42210000
"""Alpaca's code for a cancel or replace of an order no longer open (HTTP 422)."""

SIDES: Final = {"buy": Side.BUY, "sell": Side.SELL}
TYPES: Final = {
    "market": OrderType.MARKET,
    "limit": OrderType.LIMIT,
    "stop": OrderType.STOP,
    "stop_limit": OrderType.STOP_LIMIT,
}
TIFS: Final = {
    "day": TimeInForce.DAY,
    "gtc": TimeInForce.GTC,
    "ioc": TimeInForce.IOC,
    "fok": TimeInForce.FOK,
    "opg": TimeInForce.OPG,
    "cls": TimeInForce.CLS,
}
AUCTION_TYPES: Final = frozenset({"market", "limit"})
"""Alpaca takes ``opg``/``cls`` only for market and limit orders; the exchange fills them at the tape's cross."""
OPEN_STATUSES: Final = frozenset(
    {"new", "partially_filled", "pending_new", "accepted", "pending_cancel", "pending_replace"}
)
_ASSET_NAMESPACE: Final = uuid.UUID("6f1d3c52-2b55-4f0e-9a57-31c0a1b7e0d4")


def invalid(message: str) -> RequestError:
    return RequestError(422, INVALID, message)


def asset_id(symbol: str) -> str:
    """A stable UUID per symbol (Alpaca names assets by UUID; ours need only be the same on every run)."""
    return str(uuid.uuid5(_ASSET_NAMESPACE, symbol))


def rfc3339(ns: int) -> str:
    """ns since the epoch as RFC 3339 UTC with nanoseconds ("2012-06-21T13:30:00.000123456Z")."""
    seconds, frac = divmod(ns, 1_000_000_000)
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{frac:09d}Z"


_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|z|[+-]\d\d:?\d\d)?")


def parse_time(text: str, field: str) -> int:
    """An RFC 3339 time (nanoseconds kept: the venue's own times round-trip exactly) or a date, as ns since the
    epoch; without an offset it is UTC."""
    raw = text.strip().replace(" ", "+")  # a "+" left unescaped in a query string arrives as a space
    match = _RFC3339.fullmatch(raw.replace("+", " ", 1) if raw[10:11] == "+" else raw)
    try:
        if match is None:
            moment = datetime.datetime.fromisoformat(raw)
            fraction = 0
        else:
            base, digits, offset = match.groups()
            zone = "+00:00" if offset in (None, "Z", "z") else offset
            moment = datetime.datetime.fromisoformat(base + zone)
            fraction = int((digits or "").ljust(9, "0"))
    except ValueError as exc:
        raise invalid(f"{field} is not an RFC 3339 time: {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    return (moment - epoch) // datetime.timedelta(seconds=1) * 1_000_000_000 + fraction


def quantity(value: Any, field: str = "qty") -> int:
    """Whole shares > 0 from a JSON number or string (fractional shares are not traded here)."""
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError) as exc:
        raise invalid(f"{field} is not a number: {value!r}") from exc
    if isinstance(value, bool) or not amount.is_finite() or amount <= 0:
        raise invalid(f"{field} must be > 0")
    if amount != amount.to_integral_value():
        raise invalid(f"{field} must be a whole number of shares: fractional orders are not supported")
    return int(amount)


def price(value: Any, field: str) -> int:
    """A price > 0 in dollars (JSON number or string) as 1/10,000 dollar units, exactly or refused."""
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
        if isinstance(value, bool) or not amount.is_finite():
            raise InvalidOperation
        units = price_from_decimal(amount)
    except (InvalidOperation, ValueError, ValueRangeError) as exc:
        raise invalid(f"invalid {field}: {value!r}") from exc
    if units <= 0:
        raise invalid(f"{field} must be > 0")
    return units


def money(units: int) -> str:
    """Dollars as Alpaca writes them in strings ("583.5", "-12", "0")."""
    text = price_to_str(units)
    return text.rstrip("0").rstrip(".") if "." in text else text


def _word(body: dict[str, Any], field: str, choices: dict[str, Any]) -> str:
    raw = body.get(field)
    if not isinstance(raw, str) or raw.lower() not in choices:
        raise invalid(f"invalid {field}: {raw!r} (one of {', '.join(choices)})")
    return raw.lower()


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A checked ``POST /v2/orders`` body."""

    symbol: str
    qty: int
    side: str
    type: str
    time_in_force: str
    limit_price: int = NO_PRICE
    stop_price: int = NO_PRICE
    client_order_id: str = ""


def parse_order(body: dict[str, Any]) -> OrderRequest:
    """The order a ``POST /v2/orders`` body asks for, or the 422 Alpaca gives for the first bad field."""
    symbol = body.get("symbol")
    if not isinstance(symbol, str) or not symbol.strip():
        raise invalid("symbol is required")
    if body.get("notional") is not None:
        raise invalid("notional orders are not supported by the paper venue: give qty in whole shares")
    if body.get("qty") is None:
        raise invalid("qty is required")
    qty = quantity(body["qty"])
    side = _word(body, "side", SIDES)
    kind = body.get("type", body.get("order_type"))
    if kind == "trailing_stop":
        raise invalid("trailing_stop orders are not supported by the paper venue yet")
    kind = _word({"type": kind}, "type", TYPES)
    tif = _word(body, "time_in_force", TIFS)
    if tif in ("opg", "cls") and kind not in AUCTION_TYPES:
        raise invalid(f"time_in_force {tif} is only for market and limit orders, not {kind}")
    order_class = body.get("order_class") or "simple"
    if order_class != "simple":
        raise invalid(f"order_class {order_class!r} is not supported by the paper venue yet (only simple)")
    if body.get("extended_hours"):
        raise invalid("extended_hours orders are not supported by the paper venue yet")
    limit = stop = NO_PRICE
    if kind in ("limit", "stop_limit"):
        if body.get("limit_price") is None:
            raise invalid(f"limit_price is required for {kind} orders")
        limit = price(body["limit_price"], "limit_price")
    if kind in ("stop", "stop_limit"):
        if body.get("stop_price") is None:
            raise invalid(f"stop_price is required for {kind} orders")
        stop = price(body["stop_price"], "stop_price")
    cid = body.get("client_order_id") or ""
    if not isinstance(cid, str) or len(cid) > 128:
        raise invalid("client_order_id must be a string of at most 128 characters")
    return OrderRequest(symbol.strip().upper(), qty, side, kind, tif, limit, stop, cid)


@dataclass(slots=True)
class AlpacaOrder:
    """One Alpaca order as the venue shows it; mutated as the node reports on it (one record per Alpaca id: a
    replace makes a new record, as Alpaca does). ``cid`` is the node's client order id of the order it rides on."""

    id: str
    client_order_id: str
    cid: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    qty: int
    limit_price: int
    stop_price: int
    created_at: int
    status: str = "pending_new"
    updated_at: int = 0
    filled_qty: int = 0
    filled_notional: int = 0
    """Sum of price units x shares over this record's fills (the exact numerator of the average price)."""
    filled_at: int | None = None
    canceled_at: int | None = None
    expired_at: int | None = None
    failed_at: int | None = None
    replaced_at: int | None = None
    replaced_by: str | None = None
    replaces: str | None = None
    held_status: str = ""
    """The status to return to when a pending cancel or replace is refused by the exchange."""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def avg_price(self) -> str | None:
        if not self.filled_qty:
            return None
        dollars = Decimal(self.filled_notional) / Decimal(self.filled_qty * 10_000)  # 28 digits: exact or beyond
        return format(dollars.normalize(), "f")


def order_json(order: AlpacaOrder) -> dict[str, Any]:
    """The order object of Alpaca's trading API v2 (what ``alpaca.trading.models.Order`` parses)."""

    def when(ns: int | None) -> str | None:
        return None if ns is None else rfc3339(ns)

    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "created_at": rfc3339(order.created_at),
        "updated_at": rfc3339(order.updated_at or order.created_at),
        "submitted_at": rfc3339(order.created_at),
        "filled_at": when(order.filled_at),
        "expired_at": when(order.expired_at),
        "canceled_at": when(order.canceled_at),
        "failed_at": when(order.failed_at),
        "replaced_at": when(order.replaced_at),
        "replaced_by": order.replaced_by,
        "replaces": order.replaces,
        "asset_id": asset_id(order.symbol),
        "symbol": order.symbol,
        "asset_class": "us_equity",
        "notional": None,
        "qty": str(order.qty),
        "filled_qty": str(order.filled_qty),
        "filled_avg_price": order.avg_price(),
        "order_class": "simple",
        "order_type": order.type,
        "type": order.type,
        "side": order.side,
        "time_in_force": order.time_in_force,
        "limit_price": money(order.limit_price) if order.limit_price != NO_PRICE else None,
        "stop_price": money(order.stop_price) if order.stop_price != NO_PRICE else None,
        "status": order.status,
        "extended_hours": False,
        "legs": None,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
    }
