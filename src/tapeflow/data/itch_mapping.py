"""ITCH message structs to tapeflow events: the reference mapping, the stock directory and the symbol filter.

Everything the hot loop in ``itch_fast`` does not handle inline comes here, message by message; the tests hold
the hot loop to give exactly what this module gives. The mapping, the time zone handling and the reasons for
them are in the docstring of ``tapeflow.data.itch``.
"""

from __future__ import annotations

import datetime as dt
from typing import Final
from zoneinfo import ZoneInfo

from tapeflow.model.enums import Aggressor, MarketStatus, Side
from tapeflow.model.errors import DataError
from tapeflow.model.events import Event, TradingStatus
from tapeflow.model.market import (
    OrderAdded,
    OrderDeleted,
    OrderExecuted,
    OrderReduced,
    OrderReplaced,
    Trade,
)

from .itch_messages import (
    ItchAddOrder,
    ItchAddOrderMpid,
    ItchCrossTrade,
    ItchMessage,
    ItchOrderCancel,
    ItchOrderDelete,
    ItchOrderExecuted,
    ItchOrderExecutedWithPrice,
    ItchOrderReplace,
    ItchStockDirectory,
    ItchStockTradingAction,
    ItchTrade,
)
from .itch_parser import Frame, ItchStats, check_frame, decode_message

NEW_YORK: Final = ZoneInfo("America/New_York")
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_STATUS: Final = {
    "H": MarketStatus.HALTED,
    "P": MarketStatus.HALTED,
    "Q": MarketStatus.QUOTING,
    "T": MarketStatus.TRADING,
}
_LOCATES: Final = 1 << 16


def midnight_utc_ns(date: dt.date) -> int:
    """Midnight of ``date`` in New York as ns since the Unix epoch: add an ITCH timestamp to get UTC."""
    midnight = dt.datetime(date.year, date.month, date.day, tzinfo=NEW_YORK)
    return (midnight - _EPOCH) // dt.timedelta(microseconds=1) * 1000


class EventMapper:
    """Locate -> symbol directory, symbol filter, and the generic message -> event mapping.

    ``symbols[locate]`` is the symbol, or None when the locate is filtered out or not yet named;
    ``known[locate]`` tells the two apart. Both are flat arrays so that the fast path reads them with one
    index.
    """

    def __init__(self, *, base_ns: int, wanted: frozenset[str] | None, venue: str, stats: ItchStats) -> None:
        self.base_ns = base_ns
        self.wanted = wanted
        self.venue = venue
        self.stats = stats
        self.symbols: list[str | None] = [None] * _LOCATES
        self.known = bytearray(_LOCATES)
        self.directory: dict[int, str] = {}

    def learn(self, locate: int, stock: str) -> str | None:
        self.known[locate] = 1
        self.directory[locate] = stock
        symbol = stock if self.wanted is None or stock in self.wanted else None
        self.symbols[locate] = symbol
        return symbol

    def symbol_for(self, msg: ItchMessage, *, name: str, offset: int, strict: bool) -> str | None:
        """The message's symbol, None when filtered out; a message naming its stock teaches its locate."""
        locate = msg.stock_locate
        if self.known[locate]:
            symbol = self.symbols[locate]
            if symbol is None:
                self.stats.filtered += 1
            return symbol
        stock = getattr(msg, "stock", None)
        if stock:
            symbol = self.learn(locate, stock)
            if symbol is None:
                self.stats.filtered += 1
            return symbol
        self.stats.unknown_locate += 1
        if strict:
            raise DataError(
                f"ITCH {type(msg).__name__} refers to stock locate {locate}, which no stock directory (R) "
                "or add order message named; the file probably does not start at the beginning of the day",
                path=name,
                offset=offset,
            )
        return None

    def event_for(self, msg: ItchMessage, *, name: str, offset: int, strict: bool) -> Event | None:
        """The tapeflow event for ``msg``; None when it has none, or is filtered out or unusable (counted)."""
        if isinstance(msg, ItchStockDirectory):
            self.learn(msg.stock_locate, msg.stock)
            return None
        if not isinstance(
            msg,
            ItchAddOrder
            | ItchAddOrderMpid
            | ItchOrderExecuted
            | ItchOrderExecutedWithPrice
            | ItchOrderCancel
            | ItchOrderDelete
            | ItchOrderReplace
            | ItchTrade
            | ItchCrossTrade
            | ItchStockTradingAction,
        ):
            return None
        if isinstance(msg, ItchCrossTrade) and msg.shares == 0:
            return None  # a cross that matched nothing: Nasdaq still reports its price
        symbol = self.symbol_for(msg, name=name, offset=offset, strict=strict)
        if symbol is None:
            return None
        ts = self.base_ns + msg.timestamp
        event: Event | None = None
        if isinstance(msg, ItchAddOrder | ItchAddOrderMpid):
            if msg.shares and msg.buy_sell_indicator in "BS":
                side = Side.BUY if msg.buy_sell_indicator == "B" else Side.SELL
                mpid = msg.attribution if isinstance(msg, ItchAddOrderMpid) else ""
                event = OrderAdded(
                    ts_event=ts,
                    ts_init=ts,
                    symbol=symbol,
                    order_id=msg.order_reference_number,
                    side=side,
                    price=msg.price,
                    size=msg.shares,
                    mpid=mpid,
                )
        elif isinstance(msg, ItchOrderExecuted):
            if msg.executed_shares:
                event = OrderExecuted(
                    ts_event=ts,
                    ts_init=ts,
                    symbol=symbol,
                    order_id=msg.order_reference_number,
                    size=msg.executed_shares,
                    trade_id=str(msg.match_number),
                )
        elif isinstance(msg, ItchOrderExecutedWithPrice):
            if msg.executed_shares:
                event = OrderExecuted(
                    ts_event=ts,
                    ts_init=ts,
                    symbol=symbol,
                    order_id=msg.order_reference_number,
                    size=msg.executed_shares,
                    price=msg.execution_price,
                    trade_id=str(msg.match_number),
                    printable=msg.printable == "Y",
                )
        elif isinstance(msg, ItchOrderCancel):
            if msg.cancelled_shares:
                event = OrderReduced(
                    ts_event=ts,
                    ts_init=ts,
                    symbol=symbol,
                    order_id=msg.order_reference_number,
                    size=msg.cancelled_shares,
                )
        elif isinstance(msg, ItchOrderDelete):
            event = OrderDeleted(ts_event=ts, ts_init=ts, symbol=symbol, order_id=msg.order_reference_number)
        elif isinstance(msg, ItchOrderReplace):
            if msg.shares:
                event = OrderReplaced(
                    ts_event=ts,
                    ts_init=ts,
                    symbol=symbol,
                    order_id=msg.original_order_reference_number,
                    new_order_id=msg.new_order_reference_number,
                    price=msg.price,
                    size=msg.shares,
                )
        elif isinstance(msg, ItchTrade):
            if msg.shares:
                event = Trade(
                    ts_event=ts,
                    ts_init=ts,
                    symbol=symbol,
                    price=msg.price,
                    size=msg.shares,
                    aggressor=Aggressor.UNKNOWN,
                    venue=self.venue,
                    trade_id=str(msg.match_number),
                )
        elif isinstance(msg, ItchCrossTrade):
            event = Trade(
                ts_event=ts,
                ts_init=ts,
                symbol=symbol,
                price=msg.cross_price,
                size=msg.shares,
                aggressor=Aggressor.UNKNOWN,
                venue=self.venue,
                trade_id=str(msg.match_number),
                conditions=("CROSS", msg.cross_type),
            )
        else:
            status = _STATUS.get(msg.trading_state)
            if status is not None:
                reason = msg.reason or ("PAUSED" if msg.trading_state == "P" else "")
                event = TradingStatus(
                    ts_event=ts, ts_init=ts, symbol=symbol, status=status, reason=reason, venue=self.venue
                )
        if event is None:
            self.stats.malformed += 1
            if strict:
                raise DataError(
                    f"ITCH message cannot be an event (zero shares or bad code): {msg!r}",
                    path=name,
                    offset=offset,
                )
        return event


def slow_event(frame: Frame, mapper: EventMapper, *, strict: bool, name: str) -> Event | None:
    """Decode one framed message generically and map it: the path for everything irregular or rare."""
    layout = check_frame(frame, mapper.stats, strict=strict, name=name)
    if layout is None:
        return None
    msg = decode_message(layout, frame.buf, frame.start)
    return mapper.event_for(msg, name=name, offset=frame.offset, strict=strict)
