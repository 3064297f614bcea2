"""NASDAQ TotalView-ITCH 5.0 messages as typed structs, and the one table of their wire layouts.

Every message starts with the same 11-byte header: type (1 byte), stock locate (2), tracking number (2) and a
6-byte timestamp in nanoseconds since midnight, New York time. All integers are big-endian and unsigned; alpha
fields are ASCII, left-justified and right-padded with spaces. Lengths below count the type byte but not the
2-byte length prefix of Nasdaq's historical files.

The structs keep the wire values (timestamp since midnight, prices as raw integers, single-character codes as
one-character strings) so that ``encode(parse(bytes)) == bytes``: they are the data layer's view of the feed,
not tapeflow events. Multi-character alpha fields drop their right padding; the encoder puts it back. Prices
are ``Price(4)`` (1/10,000 dollar, tapeflow's own unit) except the MWCB levels, which are ``Price(8)``
(1/100,000,000 dollar). The layout table ``LAYOUTS`` is what the parser and the encoder share, so that the two
can never disagree about an offset.
"""

from __future__ import annotations

import struct
from typing import Final

import msgspec

HEADER_FORMAT: Final = ">cHHHI"
"""Type, stock locate, tracking number, timestamp high 16 bits, timestamp low 32 bits (11 bytes)."""

TIMESTAMP_MAX: Final = (1 << 48) - 1


class ItchMessage(msgspec.Struct, frozen=True, tag_field="type", gc=False):
    """Header fields every ITCH 5.0 message carries; ``timestamp`` is ns since midnight New York time."""

    stock_locate: int
    tracking_number: int
    timestamp: int


class ItchSystemEvent(ItchMessage, frozen=True, tag="S"):
    event_code: str
    """O start of messages, S start of system hours, Q start of market hours, M end of market hours,
    E end of system hours, C end of messages."""


class ItchStockDirectory(ItchMessage, frozen=True, tag="R"):
    """Sent for every symbol at the start of the day; assigns the stock locate used by all later messages."""

    stock: str
    market_category: str
    financial_status_indicator: str
    round_lot_size: int
    round_lots_only: str
    issue_classification: str
    issue_sub_type: str
    authenticity: str
    short_sale_threshold_indicator: str
    ipo_flag: str
    luld_reference_price_tier: str
    etp_flag: str
    etp_leverage_factor: int
    inverse_indicator: str


class ItchStockTradingAction(ItchMessage, frozen=True, tag="H"):
    stock: str
    trading_state: str
    """H halted, P paused, Q quotation only, T trading."""
    reserved: str
    reason: str


class ItchRegShoRestriction(ItchMessage, frozen=True, tag="Y"):
    stock: str
    reg_sho_action: str


class ItchMarketParticipantPosition(ItchMessage, frozen=True, tag="L"):
    mpid: str
    stock: str
    primary_market_maker: str
    market_maker_mode: str
    market_participant_state: str


class ItchMwcbDeclineLevel(ItchMessage, frozen=True, tag="V"):
    """Market-wide circuit breaker levels, in ``Price(8)`` units (1/100,000,000 dollar)."""

    level1: int
    level2: int
    level3: int


class ItchMwcbStatus(ItchMessage, frozen=True, tag="W"):
    breached_level: str


class ItchIpoQuotingPeriod(ItchMessage, frozen=True, tag="K"):
    stock: str
    ipo_quotation_release_time: int
    """Seconds since midnight."""
    ipo_quotation_release_qualifier: str
    ipo_price: int


class ItchLuldAuctionCollar(ItchMessage, frozen=True, tag="J"):
    stock: str
    auction_collar_reference_price: int
    upper_auction_collar_price: int
    lower_auction_collar_price: int
    auction_collar_extension: int


class ItchOperationalHalt(ItchMessage, frozen=True, tag="h"):
    stock: str
    market_code: str
    operational_halt_action: str


class ItchAddOrder(ItchMessage, frozen=True, tag="A"):
    order_reference_number: int
    buy_sell_indicator: str
    shares: int
    stock: str
    price: int


class ItchAddOrderMpid(ItchMessage, frozen=True, tag="F"):
    order_reference_number: int
    buy_sell_indicator: str
    shares: int
    stock: str
    price: int
    attribution: str


class ItchOrderExecuted(ItchMessage, frozen=True, tag="E"):
    order_reference_number: int
    executed_shares: int
    match_number: int


class ItchOrderExecutedWithPrice(ItchMessage, frozen=True, tag="C"):
    order_reference_number: int
    executed_shares: int
    match_number: int
    printable: str
    execution_price: int


class ItchOrderCancel(ItchMessage, frozen=True, tag="X"):
    order_reference_number: int
    cancelled_shares: int


class ItchOrderDelete(ItchMessage, frozen=True, tag="D"):
    order_reference_number: int


class ItchOrderReplace(ItchMessage, frozen=True, tag="U"):
    original_order_reference_number: int
    new_order_reference_number: int
    shares: int
    price: int


class ItchTrade(ItchMessage, frozen=True, tag="P"):
    """A match against a non-displayed order (non-cross); the book does not change."""

    order_reference_number: int
    buy_sell_indicator: str
    shares: int
    stock: str
    price: int
    match_number: int


class ItchCrossTrade(ItchMessage, frozen=True, tag="Q"):
    shares: int
    stock: str
    cross_price: int
    match_number: int
    cross_type: str
    """O opening, C closing, H halt/IPO, I intraday/post-close."""


class ItchBrokenTrade(ItchMessage, frozen=True, tag="B"):
    match_number: int


class ItchNoii(ItchMessage, frozen=True, tag="I"):
    """Net Order Imbalance Indicator before a cross."""

    paired_shares: int
    imbalance_shares: int
    imbalance_direction: str
    stock: str
    far_price: int
    near_price: int
    current_reference_price: int
    cross_type: str
    price_variation_indicator: str


class ItchRpii(ItchMessage, frozen=True, tag="N"):
    """Retail Price Improvement Indicator."""

    stock: str
    interest_flag: str


class ItchDlcr(ItchMessage, frozen=True, tag="O"):
    """Direct Listing with Capital Raise price discovery."""

    stock: str
    open_eligibility_status: str
    minimum_allowable_price: int
    maximum_allowable_price: int
    near_execution_price: int
    near_execution_time: int
    lower_price_range_collar: int
    upper_price_range_collar: int


class Layout(msgspec.Struct, frozen=True):
    """How one message type sits on the wire: its struct, its length, and which fields are text."""

    type_char: str
    cls: type[ItchMessage]
    codec: struct.Struct
    length: int
    text_widths: tuple[int, ...]
    """Per body field: 0 for an integer, else the width of the alpha field."""
    codes: tuple[str, ...]
    """Per body field, its ``struct`` code ("Q", "I", "c", "8s", ...): what a field may hold."""


# Body fields after the 11-byte header, in wire order: (struct code, width of an alpha field or 0).
_BODIES: Final[dict[type[ItchMessage], str]] = {
    ItchSystemEvent: "c",
    ItchStockDirectory: "8s c c I c c 2s c c c c c I c",
    ItchStockTradingAction: "8s c c 4s",
    ItchRegShoRestriction: "8s c",
    ItchMarketParticipantPosition: "4s 8s c c c",
    ItchMwcbDeclineLevel: "Q Q Q",
    ItchMwcbStatus: "c",
    ItchIpoQuotingPeriod: "8s I c I",
    ItchLuldAuctionCollar: "8s I I I I",
    ItchOperationalHalt: "8s c c",
    ItchAddOrder: "Q c I 8s I",
    ItchAddOrderMpid: "Q c I 8s I 4s",
    ItchOrderExecuted: "Q I Q",
    ItchOrderExecutedWithPrice: "Q I Q c I",
    ItchOrderCancel: "Q I",
    ItchOrderDelete: "Q",
    ItchOrderReplace: "Q Q I I",
    ItchTrade: "Q c I 8s I Q",
    ItchCrossTrade: "Q 8s I Q c",
    ItchBrokenTrade: "Q",
    ItchNoii: "Q Q c 8s I I I c c",
    ItchRpii: "8s c",
    ItchDlcr: "8s c I I I Q I I",
}

SPEC_LENGTHS: Final[dict[str, int]] = {
    "S": 12, "R": 39, "H": 25, "Y": 20, "L": 26, "V": 35, "W": 12, "K": 28, "J": 35, "h": 21, "A": 36,
    "F": 40, "E": 31, "C": 36, "X": 23, "D": 19, "U": 35, "P": 44, "Q": 40, "B": 19, "I": 50, "N": 20,
    "O": 48,
}  # fmt: skip
"""Message lengths (type byte included) as printed in the ITCH 5.0 specification; checked against the
layouts."""


def _build_layouts() -> dict[int, Layout]:
    layouts: dict[int, Layout] = {}
    for cls, body in _BODIES.items():
        type_char = str(cls.__struct_config__.tag)
        codes = body.split()
        codec = struct.Struct(HEADER_FORMAT + "".join(codes))
        widths = tuple(int(code[:-1] or 1) if code[-1] in "cs" else 0 for code in codes)
        if codec.size != SPEC_LENGTHS[type_char]:
            raise AssertionError(f"ITCH layout {type_char}: {codec.size} bytes, spec says {SPEC_LENGTHS[type_char]}")
        if len(widths) + 3 != len(msgspec.structs.fields(cls)):
            raise AssertionError(f"ITCH layout {type_char}: fields do not match {cls.__name__}")
        layouts[ord(type_char)] = Layout(type_char, cls, codec, codec.size, widths, tuple(codes))
    return layouts


LAYOUTS: Final[dict[int, Layout]] = _build_layouts()
"""Layout per type byte (``ord("A")`` -> layout of Add Order)."""

LENGTH_BY_TYPE: Final[tuple[int, ...]] = tuple(LAYOUTS[code].length if code in LAYOUTS else 0 for code in range(256))
"""Message length per type byte, 0 for a byte that is no ITCH 5.0 type: the table that frames raw streams."""

MESSAGE_TYPES: Final[tuple[type[ItchMessage], ...]] = tuple(layout.cls for layout in LAYOUTS.values())
