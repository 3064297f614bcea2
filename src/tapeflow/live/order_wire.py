"""Alpaca's trading API v2 on the wire: our commands as REST requests, its order objects and trade updates as facts.

Money crosses here and only here. A price leaves as the exact decimal string of its 1/10,000 dollar units
(``price_to_str``: never a float, so 583.5 is "583.50", never "583.4999..."), and comes back through ``Decimal``:
a price with more than four decimals is not ours and is refused (``DataError``), never rounded silently.

Everything read from the venue is checked before it is believed: a malformed order or update raises ``DataError``,
which the stream and the reconciliation count and report (``malformed``) and never apply. Nothing here does I/O.

Replacements: Alpaca's replace (``PATCH``) makes a new order with a new id and needs a new, unique
``client_order_id``; we give it ``{ours}.r{n}`` (``replacement_id``), so that any later reader (a reconciliation
after a restart) ties it back to our order with ``base_client_id``.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from tapeflow.model.enums import OrderType, Side, TimeInForce
from tapeflow.model.errors import DataError, ValueRangeError
from tapeflow.model.orders import CancelOrder, ModifyOrder, SubmitOrder
from tapeflow.model.prices import NO_PRICE, price_from_decimal, price_to_str

SIDES: Final = {Side.BUY: "buy", Side.SELL: "sell"}
TYPES: Final = {
    OrderType.MARKET: "market",
    OrderType.LIMIT: "limit",
    OrderType.STOP: "stop",
    OrderType.STOP_LIMIT: "stop_limit",
}
TIFS: Final = {tif: tif.value.lower() for tif in TimeInForce}
_SIDE_OF: Final = {word: side for side, word in SIDES.items()}
_TYPE_OF: Final = {word: kind for kind, word in TYPES.items()}
_TIF_OF: Final = {word: tif for tif, word in TIFS.items()}
OPEN_STATUSES: Final = frozenset(
    {"new", "partially_filled", "pending_new", "accepted", "pending_cancel", "pending_replace", "accepted_for_bidding"}
)
"""Alpaca statuses of an order still working (or about to); the rest are final (filled, canceled, expired, ...)."""
UNIQUE_ID_TAKEN: Final = "client_order_id must be unique"
"""Alpaca's 422 message when a client order id was already used: for a retried submit, the first attempt landed."""
_REPLACEMENT: Final = re.compile(r"^(.*)\.r\d+$")
_RFC3339: Final = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)")


@dataclass(frozen=True, slots=True)
class RestRequest:
    """One HTTP request for the sender: ``body`` is the JSON bytes (None for a body-less DELETE or GET)."""

    method: str
    path: str
    body: bytes | None = None


def _body(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, separators=(",", ":")).encode()


def submit_request(command: SubmitOrder) -> RestRequest:
    """``POST /v2/orders`` for ``command``: qty and prices as exact decimal strings, our client order id."""
    body: dict[str, Any] = {
        "symbol": command.symbol,
        "qty": str(command.quantity),
        "side": SIDES[command.side],
        "type": TYPES[command.order_type],
        "time_in_force": TIFS[command.time_in_force],
        "client_order_id": command.client_order_id,
    }
    if command.price != NO_PRICE:
        body["limit_price"] = price_to_str(command.price)
    if command.stop_price != NO_PRICE:
        body["stop_price"] = price_to_str(command.stop_price)
    return RestRequest("POST", "/v2/orders", _body(body))


def replace_request(command: ModifyOrder, order_id: str, client_id: str) -> RestRequest:
    """``PATCH /v2/orders/{id}``: the new total qty and prices (only those set), under a new client order id."""
    body: dict[str, Any] = {"qty": str(command.quantity), "client_order_id": client_id}
    if command.price != NO_PRICE:
        body["limit_price"] = price_to_str(command.price)
    if command.stop_price != NO_PRICE:
        body["stop_price"] = price_to_str(command.stop_price)
    return RestRequest("PATCH", f"/v2/orders/{order_id}", _body(body))


def cancel_request(command: CancelOrder, order_id: str) -> RestRequest:
    """``DELETE /v2/orders/{id}`` (``command`` only names which order; the id is the venue's)."""
    return RestRequest("DELETE", f"/v2/orders/{order_id}")


def replacement_id(client_order_id: str, n: int) -> str:
    """The client order id of our ``n``-th replacement of ``client_order_id`` (see the module docstring)."""
    return f"{client_order_id}.r{n}"


def base_client_id(client_order_id: str) -> str:
    """Our order's client order id from the id of any of its Alpaca records (a replacement's or its own)."""
    match = _REPLACEMENT.match(client_order_id)
    return match.group(1) if match else client_order_id


# -- reading what the venue says ---------------------------------------------------------------------------------


def parse_price(value: object, field: str) -> int:
    """Dollars (a JSON string, as Alpaca writes them) to exact units; ``NO_PRICE`` for null."""
    if value is None:
        return NO_PRICE
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise DataError(f"{field} is not a decimal string: {value!r}")
    try:
        units = price_from_decimal(Decimal(str(value)))
    except (InvalidOperation, ValueRangeError) as exc:
        raise DataError(f"{field} is not an exact price in 1/10,000 dollar: {value!r}") from exc
    if units < 0:
        raise DataError(f"{field} is negative: {value!r}")
    return units


def parse_shares(value: object, field: str) -> int:
    """Whole shares (Alpaca writes quantities as strings) >= 0."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise DataError(f"{field} is not a number of shares: {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise DataError(f"{field} is not a number of shares: {value!r}") from exc
    if not amount.is_finite() or amount < 0 or amount != amount.to_integral_value():
        raise DataError(f"{field} is not a whole number of shares >= 0: {value!r}")
    return int(amount)


def parse_avg_price(value: object) -> Decimal | None:
    """``filled_avg_price`` as an exact ``Decimal`` (it may have more than four decimals: it is an average)."""
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise DataError(f"filled_avg_price is not a decimal string: {value!r}")
    try:
        avg = Decimal(str(value))
    except InvalidOperation as exc:
        raise DataError(f"filled_avg_price is not a decimal: {value!r}") from exc
    if not avg.is_finite() or avg < 0:
        raise DataError(f"filled_avg_price is not a price: {value!r}")
    return avg


def parse_time(value: object, field: str) -> int:
    """RFC 3339 (nanoseconds kept) as ns since the epoch; 0 for null (the venue did not say)."""
    if value is None:
        return 0
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise DataError(f"{field} is not an RFC 3339 time: {value!r}")
    base, digits, zone = match.groups()
    moment = datetime.datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone))
    seconds = int(moment.timestamp())
    return seconds * 1_000_000_000 + int((digits or "").ljust(9, "0"))


def format_time(ns: int) -> str:
    """ns since the epoch as RFC 3339 UTC with nanoseconds (how a query's ``after`` is written, exactly)."""
    seconds, frac = divmod(ns, 1_000_000_000)
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{frac:09d}Z"


@dataclass(frozen=True, slots=True)
class WireOrder:
    """An Alpaca order object, checked: what the venue says one of its records is now."""

    id: str
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    qty: int
    filled_qty: int
    filled_avg_price: Decimal | None
    limit_price: int
    stop_price: int
    status: str
    created_at: int
    replaces: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


def _text(obj: dict[str, Any], field: str) -> str:
    value = obj.get(field)
    if not isinstance(value, str) or not value:
        raise DataError(f"order field {field} is missing or not a string: {value!r}")
    return value


def _word(obj: dict[str, Any], field: str, table: dict[str, Any]) -> Any:
    value = obj.get(field)
    if value not in table:
        raise DataError(f"order field {field} is not one of {sorted(table)}: {value!r}")
    return table[value]


def parse_order(obj: object) -> WireOrder:
    """An Alpaca order object (a JSON dict) as a ``WireOrder``; ``DataError`` names the first bad field."""
    if not isinstance(obj, dict):
        raise DataError(f"an order is a JSON object, got {type(obj).__name__}")
    replaces = obj.get("replaces")
    if replaces is not None and not isinstance(replaces, str):
        raise DataError(f"order field replaces is not a string: {replaces!r}")
    qty = parse_shares(obj.get("qty"), "qty")
    filled = parse_shares(obj.get("filled_qty", "0"), "filled_qty")
    if qty <= 0 or filled > qty:
        raise DataError(f"order has filled_qty {filled} of qty {qty}")
    return WireOrder(
        id=_text(obj, "id"),
        client_order_id=_text(obj, "client_order_id"),
        symbol=_text(obj, "symbol"),
        side=_word(obj, "side", _SIDE_OF),
        order_type=_word(obj, "type" if "type" in obj else "order_type", _TYPE_OF),
        time_in_force=_word(obj, "time_in_force", _TIF_OF),
        qty=qty,
        filled_qty=filled,
        filled_avg_price=parse_avg_price(obj.get("filled_avg_price")),
        limit_price=parse_price(obj.get("limit_price"), "limit_price"),
        stop_price=parse_price(obj.get("stop_price"), "stop_price"),
        status=_text(obj, "status"),
        created_at=parse_time(obj.get("created_at"), "created_at"),
        replaces=replaces,
    )


@dataclass(frozen=True, slots=True)
class WireUpdate:
    """One ``trade_updates`` message, checked. ``price``/``qty`` are this execution's, on fills only."""

    event: str
    order: WireOrder
    ts: int
    execution_id: str = ""
    price: int = NO_PRICE
    qty: int = 0


FILL_EVENTS: Final = frozenset({"fill", "partial_fill"})


def parse_update(data: object) -> WireUpdate:
    """The ``data`` of a ``trade_updates`` message; ``DataError`` for anything malformed (a fill without its
    price or quantity included: a fill we cannot price exactly is not guessed from the stream)."""
    if not isinstance(data, dict):
        raise DataError(f"a trade update is a JSON object, got {type(data).__name__}")
    event = data.get("event")
    if not isinstance(event, str) or not event:
        raise DataError(f"a trade update has no event: {event!r}")
    order = parse_order(data.get("order"))
    ts = parse_time(data.get("timestamp"), "timestamp")
    execution_id = data.get("execution_id") or ""
    if not isinstance(execution_id, str):
        raise DataError(f"execution_id is not a string: {execution_id!r}")
    if event not in FILL_EVENTS:
        return WireUpdate(event, order, ts, execution_id)
    price = parse_price(data.get("price"), "price")
    qty = parse_shares(data.get("qty"), "qty")
    if price == NO_PRICE or qty <= 0:
        raise DataError(f"a {event} update needs a price and a qty > 0, got {data.get('price')!r} x {qty}")
    return WireUpdate(event, order, ts, execution_id, price, qty)


def parse_json(raw: bytes | str) -> Any:
    """A frame or a response body as JSON; ``DataError`` when it is not."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"not JSON: {raw[:80]!r}") from exc


def error_message(raw: bytes) -> str:
    """The ``message`` of Alpaca's error body (``{"code", "message"}``), or the raw text when it has none."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw[:200].decode("utf-8", "replace")
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return raw[:200].decode("utf-8", "replace")
