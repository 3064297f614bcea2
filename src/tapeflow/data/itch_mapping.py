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
# The classes ``isinstance`` tests against, as tuples built once: ``A | B`` written in the call builds a new
# ``types.UnionType`` on every message (the generic path runs for every message the compiled core leaves to it).
_WITH_EVENTS: Final = (
    ItchAddOrder,
    ItchAddOrderMpid,
    ItchOrderExecuted,
    ItchOrderExecutedWithPrice,
    ItchOrderCancel,
    ItchOrderDelete,
    ItchOrderReplace,
    ItchTrade,
    ItchCrossTrade,
    ItchStockTradingAction,
)
_ADDS: Final = (ItchAddOrder, ItchAddOrderMpid)
_ORDER_EVENTS: Final = (OrderAdded, OrderDeleted, OrderExecuted, OrderReduced, OrderReplaced)
_ADDING: Final = (OrderAdded, OrderReplaced)
_LOCATES: Final = 1 << 16
INT64_MAX: Final = (1 << 63) - 1
"""The largest order reference an event may carry: ITCH sends uint64, every store downstream keeps int64."""


def midnight_utc_ns(date: dt.date) -> int:
    """Midnight of ``date`` in New York as ns since the Unix epoch: add an ITCH timestamp to get UTC."""
    midnight = dt.datetime(date.year, date.month, date.day, tzinfo=NEW_YORK)
    return (midnight - _EPOCH) // dt.timedelta(microseconds=1) * 1000


class EventMapper:
    """Locate -> symbol directory, symbol filter, and the generic message -> event mapping.

    ``symbols[locate]`` is the symbol, or None when the locate is filtered out or not yet named;
    ``known[locate]`` tells the two apart. Both are flat arrays so that the fast path reads them with one
    index.

    It also keeps what a reader must know to refuse impossible messages without a book: ``last_ts[locate]``,
    the time of the locate's last event (ITCH time never goes back within a stock), and, with
    ``track_orders``, ``live``: order reference -> shares still open, of the wanted symbols only (so it holds
    the open orders, not the day). ITCH reference numbers are unique for the day, so an add for a live
    reference is a duplicate (skipped); an execute, cancel, delete or replace of a reference that is not live
    is counted (the file may start mid-day) and passed on, for the book to decide. Tracking is a dict
    operation per order message on a dict as large as the open orders: it costs the hot loop about 30% of
    its speed (measured), so it is off unless asked for (``ItchReader(track_orders=True)``).
    """

    def __init__(
        self, *, base_ns: int, wanted: frozenset[str] | None, venue: str, stats: ItchStats, track_orders: bool = False
    ) -> None:
        self.base_ns = base_ns
        self.track_orders = track_orders
        self.wanted = wanted
        self.venue = venue
        self.stats = stats
        self.symbols: list[str | None] = [None] * _LOCATES
        self.known = bytearray(_LOCATES)
        self.directory: dict[int, str] = {}
        self.last_ts: list[int] = [0] * _LOCATES
        self.live: dict[int, int] = {}

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
        what = (
            f"ITCH {type(msg).__name__} refers to stock locate {locate}, which no stock directory (R) "
            "or add order message named; the file probably does not start at the beginning of the day"
        )
        self.stats.note(name, offset, what)
        if strict:
            raise DataError(what, path=name, offset=offset)
        return None

    def event_for(self, msg: ItchMessage, *, name: str, offset: int, strict: bool) -> Event | None:
        """The tapeflow event for ``msg``; None when it has none, or is filtered out or unusable (counted)."""
        if isinstance(msg, ItchStockDirectory):
            self.learn(msg.stock_locate, msg.stock)
            return None
        if not isinstance(msg, _WITH_EVENTS):
            return None
        if isinstance(msg, ItchCrossTrade) and msg.shares == 0:
            return None  # a cross that matched nothing: Nasdaq still reports its price
        symbol = self.symbol_for(msg, name=name, offset=offset, strict=strict)
        if symbol is None:
            return None
        ts = self.base_ns + msg.timestamp
        event: Event | None = None
        if isinstance(msg, _ADDS):
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
            what = f"ITCH message cannot be an event (zero shares or bad code): {msg!r}"
            self.stats.note(name, offset, what)
            if strict:
                raise DataError(what, path=name, offset=offset)
            return None
        return self._admit(event, msg.stock_locate, ts, name=name, offset=offset, strict=strict)

    def _admit(self, event: Event, locate: int, ts: int, *, name: str, offset: int, strict: bool) -> Event | None:
        """``event`` if its time and order reference are possible; None (counted) or ``DataError`` if not.

        The hot loop in ``itch_fast`` takes a message only when every check here would pass and then changes
        ``last_ts`` and ``live`` exactly as this does; everything else comes here to be decided and counted.
        """
        stats = self.stats
        if ts < self.last_ts[locate]:
            stats.out_of_order += 1
            return self._reject(
                f"time goes back within stock locate {locate}: {ts - self.base_ns} ns after midnight, "
                f"after a message at {self.last_ts[locate] - self.base_ns} ns; the message is skipped",
                name,
                offset,
                strict,
            )
        if isinstance(event, _ORDER_EVENTS):
            ref = event.order_id
            new = event.new_order_id if isinstance(event, OrderReplaced) else ref
            if ref > INT64_MAX or new > INT64_MAX:
                stats.malformed += 1
                return self._reject(
                    f"order reference {max(ref, new)} does not fit int64; the message is skipped", name, offset, strict
                )
            if self.track_orders and not self._track(event, ref, new, name=name, offset=offset, strict=strict):
                return None
        self.last_ts[locate] = ts
        return event

    def _track(
        self,
        event: OrderAdded | OrderDeleted | OrderExecuted | OrderReduced | OrderReplaced,
        ref: int,
        new: int,
        *,
        name: str,
        offset: int,
        strict: bool,
    ) -> bool:
        """Keep ``live`` up to date for ``event``; False (counted) for an add of a live reference."""
        live = self.live
        if isinstance(event, _ADDING):
            if new in live and (new != ref or isinstance(event, OrderAdded)):
                self.stats.duplicates += 1
                self._reject(
                    f"order reference {new} is added while an order with that reference is live "
                    "(references are unique for the day); the message is skipped",
                    name,
                    offset,
                    strict,
                )
                return False
            if isinstance(event, OrderReplaced) and live.pop(ref, None) is None:
                self._unknown_ref(ref, name, offset, strict)
            live[new] = event.size
        elif ref not in live:
            self._unknown_ref(ref, name, offset, strict)
        elif isinstance(event, OrderDeleted) or live[ref] <= event.size:
            del live[ref]
        else:
            live[ref] -= event.size
        return True

    def _unknown_ref(self, ref: int, name: str, offset: int, strict: bool) -> None:
        self.stats.unknown_refs += 1
        what = (
            f"order reference {ref} is not live (never added, or already gone); passed on to the book "
            "(a file that starts mid-day has many)"
        )
        self.stats.note(name, offset, what)
        if strict:
            raise DataError(what, path=name, offset=offset)

    def _reject(self, what: str, name: str, offset: int, strict: bool) -> Event | None:
        """None, after noting ``what`` (or raising it in strict mode): the caller's message is skipped."""
        self.stats.note(name, offset, what)
        if strict:
            raise DataError(what, path=name, offset=offset)
        return None


def slow_event(frame: Frame, mapper: EventMapper, *, strict: bool, name: str) -> Event | None:
    """Decode one framed message generically and map it: the path for everything irregular or rare."""
    layout = check_frame(frame, mapper.stats, strict=strict, name=name)
    if layout is None:
        return None
    msg = decode_message(layout, frame.buf, frame.start)
    return mapper.event_for(msg, name=name, offset=frame.offset, strict=strict)
