"""Enumerations shared by events, books and orders.

String-valued, so that JSON output and audit records read as words ("BUY", "LIMIT") rather than magic numbers.
"""

from __future__ import annotations

import enum


class Side(enum.Enum):
    """Side of an order or a book level."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for BUY, -1 for SELL: the sign of the position change a fill on this side causes."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class Aggressor(enum.Enum):
    """Which side initiated a trade: the side of the incoming (liquidity-taking) order."""

    BUY = "BUY"
    SELL = "SELL"
    UNKNOWN = "UNKNOWN"


class OrderType(enum.Enum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP = "STOP"
    STOP_LIMIT = "STOP_LIMIT"


class TimeInForce(enum.Enum):
    DAY = "DAY"
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    OPG = "OPG"
    """At the opening auction."""
    CLS = "CLS"
    """At the closing auction."""


class LiquiditySide(enum.Enum):
    """Whether a fill added liquidity (resting order, MAKER) or removed it (marketable order, TAKER)."""

    MAKER = "MAKER"
    TAKER = "TAKER"


class OrderStatus(enum.Enum):
    """Where one of our orders is in its life: the execution engine's state and the results' ``status`` column.

    Declaration order is part of the results files (their ``status`` dictionary lists every member in this order),
    so a new status goes at the end."""

    SUBMITTED = "SUBMITTED"
    """Sent by the strategy; past risk and on its way to the venue as far as execution knows, no answer yet."""
    ACCEPTED = "ACCEPTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"
    """Refused by the venue."""
    RISK_REJECTED = "RISK_REJECTED"
    """Refused by the risk engine before any venue saw it (only results record these: execution never does)."""

    @property
    def is_open(self) -> bool:
        # identity, not membership in a set: an Enum's __hash__ is Python code, and this is asked per order report
        return self is OrderStatus.SUBMITTED or self is OrderStatus.ACCEPTED or self is OrderStatus.PARTIALLY_FILLED


class BookAction(enum.Enum):
    """What an L2 ``BookDelta`` does to its price level."""

    ADD = "ADD"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    CLEAR = "CLEAR"


class MarketStatus(enum.Enum):
    """Trading status of a symbol (ITCH 'H' message, LOBSTER type 7)."""

    HALTED = "HALTED"
    QUOTING = "QUOTING"
    """Orders may be entered but nothing executes (the quotation period before a resumption)."""
    TRADING = "TRADING"
