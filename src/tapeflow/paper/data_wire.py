"""Alpaca stock data stream v2 wire format: tapeflow events and control messages to frames, client frames to dicts.

Kept apart from the connection logic so that the bytes a client sees can be checked without a socket, and so
that the hub encodes each event once per format however many clients want it: an item is encoded alone and a
frame is an array of items joined without re-encoding.

Alpaca sends JSON text frames, or binary msgpack frames when the client connected with ``Content-Type:
application/msgpack`` (alpaca-py always does). Times are RFC 3339 with nanoseconds in JSON and the msgpack
timestamp extension (type -1, 96-bit form, nanoseconds exact) in msgpack. Prices are numbers on the wire: in JSON
the exact decimal text of the 1/10,000-dollar int, in msgpack the float64 nearest that decimal (what Alpaca
sends and alpaca-py's float fields hold; no arithmetic is done on it).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from tapeflow.data.bars import SESSION_NS
from tapeflow.data.nytime import NEW_YORK, NS_PER_SECOND, ny_to_utc_ns
from tapeflow.model.enums import MarketStatus
from tapeflow.model.errors import DataError, ValueRangeError
from tapeflow.model.events import TradingStatus
from tapeflow.model.market import Bar, Quote, Trade
from tapeflow.model.prices import price_to_str

MINUTE_NS: Final = 60 * NS_PER_SECOND

StreamEvent = Trade | Quote | Bar | TradingStatus
"""What the stream carries: prints, quotes, minute and daily bars, halts and resumptions."""

STATUS_CODES: Final[Mapping[MarketStatus, tuple[str, str]]] = {
    MarketStatus.HALTED: ("H", "Trading Halt"),
    MarketStatus.QUOTING: ("Q", "Quotation Resumption"),
    MarketStatus.TRADING: ("T", "Trading Resumption"),
}
"""tapeflow's statuses as the UTP/CTA status code and text Alpaca's ``sc`` and ``sm`` carry."""

EXCHANGE_CODES: Final[Mapping[str, str]] = {
    "XASE": "A",
    "XBOS": "B",
    "XCIS": "C",
    "FINRA": "D",
    "XADF": "D",
    "EPRL": "H",
    "XISX": "I",
    "EDGA": "J",
    "EDGX": "K",
    "LTSE": "L",
    "XCHI": "M",
    "XNYS": "N",
    "ARCX": "P",
    "XNAS": "Q",
    "XNGS": "Q",
    "NASDAQ": "Q",
    "MEMX": "U",
    "IEXG": "V",
    "IEX": "V",
    "XPHL": "X",
    "BATY": "Y",
    "BATS": "Z",
}
"""ISO 10383 MICs (and the names tapeflow's readers use) to the one-letter codes Alpaca's ``x``, ``bx`` and
``ax`` carry. A venue that is already one letter passes through; any other name is sent as it is."""


class WireFormat(enum.Enum):
    """How one connection's frames are encoded, fixed when it connects."""

    JSON = "json"
    MSGPACK = "msgpack"


_JSON: Final = msgspec.json.Encoder()
_MSGPACK: Final = msgspec.msgpack.Encoder()
_JSON_DECODER: Final = msgspec.json.Decoder()
_MSGPACK_DECODER: Final = msgspec.msgpack.Decoder()


def wire_format(content_type: str | None) -> WireFormat:
    """The format a client asked for with its handshake ``Content-Type`` (JSON unless it names msgpack)."""
    if content_type is not None and "msgpack" in content_type.lower():
        return WireFormat.MSGPACK
    return WireFormat.JSON


def rfc3339_ns(ts: int) -> str:
    """Nanoseconds since the epoch to RFC 3339 UTC with nine decimals, as Alpaca writes quote times."""
    seconds, nanos = divmod(ts, NS_PER_SECOND)
    day = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{day}.{nanos:09d}Z"


def msgpack_timestamp(ts: int) -> msgspec.msgpack.Ext:
    """Nanoseconds to the msgpack timestamp extension in its 96-bit form: a datetime would drop the nanoseconds."""
    seconds, nanos = divmod(ts, NS_PER_SECOND)
    return msgspec.msgpack.Ext(-1, struct.pack(">Iq", nanos, seconds))


def exchange_code(venue: str) -> str:
    """Alpaca's one-letter exchange code for a tapeflow venue name (see ``EXCHANGE_CODES``)."""
    if len(venue) <= 1:
        return venue
    return EXCHANGE_CODES.get(venue.upper(), venue)


def _price(units: int, fmt: WireFormat) -> Any:
    text = price_to_str(units)
    if fmt is WireFormat.JSON:
        return msgspec.Raw(text.encode())
    return float(text)


def _time(ts: int, fmt: WireFormat) -> Any:
    if fmt is WireFormat.JSON:
        return rfc3339_ns(ts)
    return msgpack_timestamp(ts)


def _trade_id(trade_id: str) -> int:
    """Alpaca's ``i`` is an integer; a feed id that is not one (a synthetic "SYM-7") is sent as 0."""
    return int(trade_id) if trade_id.isascii() and trade_id.isdigit() else 0


def channel_of(event: StreamEvent) -> str:
    """The subscription channel ``event`` goes out on; raises for anything Alpaca's stream has no channel for.

    Alpaca streams minute and daily bars only: a bar of another interval would mislead a client about what its
    ``t`` and volume cover, so it is refused rather than sent as a minute bar.
    """
    if isinstance(event, Trade):
        return "trades"
    if isinstance(event, Quote):
        return "quotes"
    if isinstance(event, TradingStatus):
        return "statuses"
    if isinstance(event, Bar):
        if event.interval_ns == MINUTE_NS:
            return "bars"
        if event.interval_ns >= SESSION_NS:
            return "dailyBars"
        raise ValueRangeError(
            f"bar interval {event.interval_ns} ns: Alpaca's data stream carries minute and daily bars only; "
            "publish one-minute bars (or resample the tape to them)"
        )
    raise TypeError(f"the data stream carries trades, quotes, bars and statuses, not {type(event).__name__}")


def _bar_start(bar: Bar, daily: bool) -> int:
    """Alpaca stamps a minute bar with its first minute and a daily bar with New York midnight of its day."""
    if not daily:
        return bar.ts_event - bar.interval_ns
    day = datetime.fromtimestamp((bar.ts_event - 1) // NS_PER_SECOND, NEW_YORK).date()
    return ny_to_utc_ns(day, 0)


def event_message(event: StreamEvent, fmt: WireFormat, tape: str = "") -> dict[str, Any]:
    """One data message in Alpaca's field names; ``tape`` is the symbol's SIP tape (A, B or C) where known.

    Bars: tapeflow's ``ts_event`` is a bar's end, Alpaca's ``t`` its start (``_bar_start``). tapeflow bars carry
    no trade count or VWAP, so ``n`` and ``vw`` are null rather than made up (alpaca-py's fields are optional).
    """
    if isinstance(event, Trade):
        return {
            "T": "t",
            "S": event.symbol,
            "i": _trade_id(event.trade_id),
            "x": exchange_code(event.venue),
            "p": _price(event.price, fmt),
            "s": event.size,
            "c": list(event.conditions),
            "t": _time(event.ts_event, fmt),
            "z": tape,
        }
    if isinstance(event, Quote):
        venue = exchange_code(event.venue)
        return {
            "T": "q",
            "S": event.symbol,
            "bx": venue,
            "bp": _price(event.bid_price, fmt),
            "bs": event.bid_size,
            "ax": venue,
            "ap": _price(event.ask_price, fmt),
            "as": event.ask_size,
            "c": [],
            "t": _time(event.ts_event, fmt),
            "z": tape,
        }
    if isinstance(event, TradingStatus):
        code, text = STATUS_CODES[event.status]
        return {
            "T": "s",
            "S": event.symbol,
            "sc": code,
            "sm": text,
            "rc": event.reason,
            "rm": "",
            "t": _time(event.ts_event, fmt),
            "z": tape,
        }
    daily = channel_of(event) == "dailyBars"
    return {
        "T": "d" if daily else "b",
        "S": event.symbol,
        "o": _price(event.open, fmt),
        "h": _price(event.high, fmt),
        "l": _price(event.low, fmt),
        "c": _price(event.close, fmt),
        "v": event.volume,
        "t": _time(_bar_start(event, daily), fmt),
        "n": None,
        "vw": None,
    }


def encode_item(message: Mapping[str, Any], fmt: WireFormat) -> bytes:
    """One message encoded alone, ready to be joined into a frame by ``frame``."""
    return _JSON.encode(message) if fmt is WireFormat.JSON else _MSGPACK.encode(message)


def _msgpack_array_header(n: int) -> bytes:
    if n < 16:
        return bytes((0x90 | n,))
    if n < 1 << 16:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


def frame(items: list[bytes], fmt: WireFormat) -> bytes:
    """Items joined into the array every Alpaca frame is (JSON text as UTF-8 bytes, or msgpack)."""
    if fmt is WireFormat.JSON:
        return b"[" + b",".join(items) + b"]"
    return _msgpack_array_header(len(items)) + b"".join(items)


def decode_client(data: bytes | str, fmt: WireFormat) -> dict[str, Any]:
    """A client frame to a message dict: text frames are JSON, binary frames in the connection's format.

    Raises ``DataError`` for anything that is not an object with a string ``action`` (Alpaca: 400 invalid syntax).
    """
    try:
        if isinstance(data, str):
            decoded = _JSON_DECODER.decode(data)
        elif fmt is WireFormat.MSGPACK:
            decoded = _MSGPACK_DECODER.decode(data)
        else:
            decoded = _JSON_DECODER.decode(data)
    except msgspec.DecodeError as exc:
        raise DataError(f"unreadable client frame: {exc}", path="<data stream>") from exc
    if not isinstance(decoded, dict) or not isinstance(decoded.get("action"), str):
        raise DataError("a client message is an object with a string 'action'", path="<data stream>")
    return decoded
