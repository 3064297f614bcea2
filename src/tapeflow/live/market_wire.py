"""Alpaca stock data stream v2 frames to tapeflow events and small control values: the client side of the wire.

The other side is ``tapeflow.paper.data_wire`` (the paper venue's encoder); this module does not import it (paper
sits above live) and must agree with it and with Alpaca's documentation, which the round-trip and property tests
check.

Why the decoding is typed and two-step: a frame is first split into its items (``msgspec.Raw``, no conversion),
then each item is decoded alone into a ``msgspec.Struct`` keyed by its ``T``. One bad item is counted with the
reason and skipped; the rest of the frame still decodes, and nothing half-decoded ever leaves this module.

Exactness at the edge:

- prices become ``Decimal`` straight from the wire (JSON: the number's own text; msgpack: the shortest repr of the
  float64, which is how Alpaca's decimal became a float) and then 1/10,000-dollar ints through
  ``price_from_decimal``, which refuses a price off the grid: a malformed item, never a silent rounding;
- times become int ns: the msgpack timestamp extension in its three sizes (decoded from the extension's bytes,
  because msgspec's own datetime conversion keeps microseconds only), RFC 3339 with up to nine decimals in JSON.

``ts_init`` of every event is the arrival time the caller passes (the wall time at which the frame was read).
"""

from __future__ import annotations

import calendar
import collections
import re
import struct
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Final

import msgspec
from msgspec.msgpack import Ext

from tapeflow.model.enums import MarketStatus
from tapeflow.model.errors import ValueRangeError
from tapeflow.model.events import Event, TradingStatus
from tapeflow.model.market import Bar, Quote, Trade
from tapeflow.model.prices import price_from_decimal

NS_PER_SECOND: Final = 1_000_000_000
MINUTE_NS: Final = 60 * NS_PER_SECOND
CHANNELS: Final = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds")

STATUS_OF_CODE: Final[Mapping[str, MarketStatus]] = {
    "H": MarketStatus.HALTED,
    "Q": MarketStatus.QUOTING,
    "T": MarketStatus.TRADING,
}
"""UTP/CTA status codes (Alpaca's ``sc``) tapeflow has a status for; other codes are counted as ignored."""

IGNORED_TYPES: Final = frozenset({"u", "d", "l", "x", "c"})
"""Message types decoded to nothing, on purpose: ``u`` revises a minute bar already delivered (a second ``Bar``
of the same minute would double its volume for anything summing bars); ``d`` is stamped with the day's midnight
and says nothing of the session it covers; LULD bands, trade corrections and cancels have no tapeflow event yet."""

_TIME: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)

Time = Ext | str


class _Item(msgspec.Struct, tag_field="T", kw_only=True):
    """A stream message; REST pages carry the same fields without ``T`` and ``S`` (filled in by the caller)."""


class _TradeMsg(_Item, tag="t", kw_only=True):
    S: str = ""
    p: Decimal
    s: int
    t: Time
    i: int = 0
    x: str = ""
    c: list[str] = []
    z: str = ""


class _QuoteMsg(_Item, tag="q", kw_only=True):
    S: str = ""
    bp: Decimal
    bs: int
    ap: Decimal
    as_: int = msgspec.field(name="as")
    t: Time
    bx: str = ""
    ax: str = ""
    c: list[str] = []
    z: str = ""


class _BarMsg(_Item, tag="b", kw_only=True):
    S: str = ""
    o: Decimal
    h: Decimal
    l: Decimal  # noqa: E741  (Alpaca's field name)
    c: Decimal
    v: int
    t: Time
    n: int | None = None
    vw: Decimal | None = None


class _StatusMsg(_Item, tag="s", kw_only=True):
    S: str = ""
    sc: str
    t: Time
    sm: str = ""
    rc: str = ""
    rm: str = ""
    z: str = ""


class _SuccessMsg(_Item, tag="success", kw_only=True):
    msg: str


class _ErrorMsg(_Item, tag="error", kw_only=True):
    code: int
    msg: str = ""


class _SubscriptionMsg(_Item, tag="subscription", kw_only=True):
    trades: list[str] = []
    quotes: list[str] = []
    bars: list[str] = []
    updatedBars: list[str] = []  # noqa: N815  (Alpaca's field name)
    dailyBars: list[str] = []  # noqa: N815
    statuses: list[str] = []
    lulds: list[str] = []


class _Tag(msgspec.Struct):
    T: str


_Message = _TradeMsg | _QuoteMsg | _BarMsg | _StatusMsg | _SuccessMsg | _ErrorMsg | _SubscriptionMsg


class Success(msgspec.Struct, frozen=True):
    """``{"T":"success"}``: ``msg`` is ``connected`` or ``authenticated``."""

    msg: str


class StreamError(msgspec.Struct, frozen=True):
    """``{"T":"error"}`` with Alpaca's code (401 not authenticated, 402 auth failed, 406 connection limit, ...)."""

    code: int
    msg: str = ""


class Subscription(msgspec.Struct, frozen=True):
    """The server's answer to (un)subscribe: the whole current subscription, channel -> symbols."""

    channels: dict[str, tuple[str, ...]]


Control = Success | StreamError | Subscription
Decoded = Trade | Quote | Bar | TradingStatus | Control


class WireStats:
    """What the decoder refused or passed over, by reason (a count, never a silent drop)."""

    __slots__ = ("first_problem", "ignored", "items", "malformed")

    def __init__(self) -> None:
        self.items = 0
        """Items read (decoded, malformed or ignored)."""
        self.malformed: collections.Counter[str] = collections.Counter()
        self.ignored: collections.Counter[str] = collections.Counter()
        """Well-formed messages of types tapeflow has no event for (see ``IGNORED_TYPES``), by type."""
        self.first_problem = ""

    @property
    def malformed_total(self) -> int:
        return sum(self.malformed.values())

    def bad(self, reason: str) -> None:
        self.malformed[reason] += 1
        if not self.first_problem:
            self.first_problem = reason


_JSON_FRAME: Final = msgspec.json.Decoder(list[msgspec.Raw])
_MSGPACK_FRAME: Final = msgspec.msgpack.Decoder(list[msgspec.Raw])
_JSON_ITEM: Final = msgspec.json.Decoder(_Message)
_MSGPACK_ITEM: Final = msgspec.msgpack.Decoder(_Message)
_JSON_TAG: Final = msgspec.json.Decoder(_Tag)
_MSGPACK_TAG: Final = msgspec.msgpack.Decoder(_Tag)


def decode_frame(data: bytes | str, ts_init: int, stats: WireStats) -> list[Decoded]:
    """Every item of one frame, in frame order; text frames are JSON, binary frames msgpack (as Alpaca sends).

    A frame that is not an array is one malformed item; a malformed item is counted in ``stats`` and skipped."""
    binary = not isinstance(data, str)
    try:
        raws = _JSON_FRAME.decode(data) if isinstance(data, str) else _MSGPACK_FRAME.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        stats.items += 1
        stats.bad(f"unreadable frame: {exc}")
        return []
    item_decoder = _MSGPACK_ITEM if binary else _JSON_ITEM
    out: list[Decoded] = []
    for raw in raws:
        stats.items += 1
        try:
            message = item_decoder.decode(raw)
        except msgspec.DecodeError as exc:
            kind = _tag_of(raw, binary)
            if kind is not None and (kind in IGNORED_TYPES or not _known(kind)):
                stats.ignored[kind] += 1
            else:
                stats.bad(f"{kind or 'untyped'} item: {exc}")
            continue
        try:
            out.append(_convert(message, ts_init))
        except ValueRangeError as exc:
            stats.bad(f"{message.__struct_config__.tag} item: {exc}")
        except _IgnoredError as exc:
            stats.ignored[str(exc)] += 1
    return out


def _known(kind: str) -> bool:
    return kind in ("t", "q", "b", "s", "success", "error", "subscription")


def _tag_of(raw: msgspec.Raw, binary: bool) -> str | None:
    try:
        return (_MSGPACK_TAG if binary else _JSON_TAG).decode(raw).T
    except msgspec.DecodeError:
        return None


class _IgnoredError(Exception):
    """A well-formed message tapeflow has no event for (its ``str`` is what to count it as)."""


def _convert(message: _Message, ts_init: int) -> Decoded:
    if isinstance(message, _TradeMsg):
        if message.s <= 0:
            raise ValueRangeError(f"trade size {message.s} is not positive")
        if message.i < 0:
            raise ValueRangeError(f"trade id {message.i} is negative")
        return Trade(
            ts_event=wire_time(message.t),
            ts_init=ts_init,
            symbol=_symbol(message.S),
            price=_price(message.p, positive=True),
            size=message.s,
            venue=message.x,
            trade_id=str(message.i) if message.i else "",
            conditions=tuple(message.c),
        )
    if isinstance(message, _QuoteMsg):
        if message.bs < 0 or message.as_ < 0:
            raise ValueRangeError(f"quote sizes {message.bs}/{message.as_} must not be negative")
        return Quote(
            ts_event=wire_time(message.t),
            ts_init=ts_init,
            symbol=_symbol(message.S),
            bid_price=_price(message.bp, positive=False),
            bid_size=message.bs,
            ask_price=_price(message.ap, positive=False),
            ask_size=message.as_,
            venue=message.bx if message.bx == message.ax else f"{message.bx}/{message.ax}",
        )
    if isinstance(message, _BarMsg):
        if message.v < 0:
            raise ValueRangeError(f"bar volume {message.v} is negative")
        return Bar(
            ts_event=wire_time(message.t) + MINUTE_NS,  # Alpaca stamps a bar's start, tapeflow its end
            ts_init=ts_init,
            symbol=_symbol(message.S),
            open=_price(message.o, positive=True),
            high=_price(message.h, positive=True),
            low=_price(message.l, positive=True),
            close=_price(message.c, positive=True),
            volume=message.v,
            interval_ns=MINUTE_NS,
        )
    if isinstance(message, _StatusMsg):
        status = STATUS_OF_CODE.get(message.sc)
        if status is None:
            raise _IgnoredError(f"s:{message.sc}")
        return TradingStatus(
            ts_event=wire_time(message.t),
            ts_init=ts_init,
            symbol=_symbol(message.S),
            status=status,
            reason=message.rc,
        )
    if isinstance(message, _SuccessMsg):
        return Success(message.msg)
    if isinstance(message, _ErrorMsg):
        return StreamError(message.code, message.msg)
    return Subscription({name: tuple(getattr(message, name)) for name in CHANNELS})


def _symbol(symbol: str) -> str:
    if not symbol:
        raise ValueRangeError("empty symbol")
    return symbol


def _price(value: Decimal, *, positive: bool) -> int:
    units = price_from_decimal(value)
    if units < 0 or (positive and units == 0):
        raise ValueRangeError(f"price {value} must be {'positive' if positive else 'zero or more'}")
    return units


def wire_time(value: Ext | str) -> int:
    """A stream time to int ns since the epoch: msgpack timestamp extension or RFC 3339 text."""
    if isinstance(value, str):
        return rfc3339_to_ns(value)
    if value.code != -1:
        raise ValueRangeError(f"msgpack extension type {value.code} is not a timestamp (-1)")
    data = bytes(value.data)
    if len(data) == 4:
        return int(struct.unpack(">I", data)[0]) * NS_PER_SECOND
    if len(data) == 8:
        packed = int(struct.unpack(">Q", data)[0])
        nanos, seconds = packed >> 34, packed & 0x3_FFFF_FFFF
    elif len(data) == 12:
        nanos, seconds = (int(v) for v in struct.unpack(">Iq", data))
    else:
        raise ValueRangeError(f"msgpack timestamp of {len(data)} bytes (4, 8 or 12)")
    if nanos >= NS_PER_SECOND:
        raise ValueRangeError(f"msgpack timestamp nanoseconds {nanos} out of range")
    return seconds * NS_PER_SECOND + nanos


def rfc3339_to_ns(text: str) -> int:
    """RFC 3339 (``2012-06-21T13:30:00.275016159Z``, or an offset) to int ns since the epoch, exactly."""
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueRangeError(f"time {text!r} is not RFC 3339")
    year, month, day, hour, minute, second = (int(match.group(k)) for k in range(1, 7))
    try:
        datetime(year, month, day, hour, minute, second)  # range checks (a 31st of June, hour 24)
    except ValueError as exc:
        raise ValueRangeError(f"time {text!r}: {exc}") from exc
    seconds = calendar.timegm((year, month, day, hour, minute, second))
    if match.group(9) is not None:
        offset = int(match.group(10)) * 3600 + int(match.group(11)) * 60
        seconds -= offset if match.group(9) == "+" else -offset
    fraction = match.group(7) or ""
    return seconds * NS_PER_SECOND + int(fraction.ljust(9, "0") or 0)


def events_only(items: list[Decoded]) -> list[Event]:
    """The market events of a decoded frame, control values left out (tests, tools)."""
    return [item for item in items if isinstance(item, Event)]


_REST_ITEM: Final[
    Mapping[str, msgspec.json.Decoder[_TradeMsg] | msgspec.json.Decoder[_QuoteMsg] | msgspec.json.Decoder[_BarMsg]]
] = {
    "trades": msgspec.json.Decoder(_TradeMsg),
    "quotes": msgspec.json.Decoder(_QuoteMsg),
    "bars": msgspec.json.Decoder(_BarMsg),
}


def decode_rest_items(
    channel: str, symbol: str, raws: list[msgspec.Raw], ts_init: int, stats: WireStats
) -> list[Event]:
    """Items of a market data REST page (``trades``, ``quotes`` or ``bars`` of ``symbol``: the stream's fields
    without ``T`` and ``S``) as events; malformed ones counted in ``stats`` and skipped."""
    decoder = _REST_ITEM[channel]
    out: list[Event] = []
    for raw in raws:
        stats.items += 1
        try:
            message = msgspec.structs.replace(decoder.decode(raw), S=symbol)
            event = _convert(message, ts_init)
        except (msgspec.DecodeError, ValueRangeError) as exc:
            stats.bad(f"REST {channel} item: {exc}")
            continue
        if isinstance(event, Event):
            out.append(event)
    return out
