"""Alpaca's market data API v2 for stocks over HTTP: latest and historical trades, quotes and bars of the tape.

The paths, parameters and shapes alpaca-py's ``StockHistoricalDataClient`` uses (``/v2/stocks/trades?symbols=``:
``{"trades": {"AAPL": [...]}, "next_page_token": ...}``) and the single-symbol forms Alpaca documents
(``/v2/stocks/AAPL/trades``: ``{"symbol", "trades": [...], "next_page_token"}``), answered from a
``TapeHistory`` the node fills as it dispatches: nothing after ``venue.now`` is ever served, whatever ``end`` says.

Items are written as the data stream writes them (``data_wire.event_message``, without ``T`` and ``S``): prices
are JSON numbers with the exact decimal of the 1/10,000-dollar int, times RFC 3339 with nanoseconds. A multi-symbol
page holds ``limit`` items in all, symbol by symbol in name order (as Alpaca pages); ``page_token`` is opaque
(base64 of the symbol, time and rank of the next item). Bad parameters are 422 ``{"code", "message"}``; the key
pair is checked as on the trading routes.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any, Final

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tapeflow.model.errors import RequestError
from tapeflow.model.market import Quote, Trade
from tapeflow.model.prices import price_to_str
from tapeflow.paper.alpaca_orders import parse_time
from tapeflow.paper.auth import Check
from tapeflow.paper.data_wire import WireFormat, event_message, rfc3339_ns
from tapeflow.paper.market_history import DAY, HOUR_NS, MINUTE_NS, BarRow, Cursor, TapeHistory, ny_midnight, page
from tapeflow.paper.rest import Endpoint, guarded
from tapeflow.paper.venue import PaperVenue

INVALID: Final = 42210000
NOT_FOUND: Final = 40410000
MAX_LIMIT: Final = 10_000
DEFAULT_LIMIT: Final = 1_000
FEEDS: Final = frozenset({"iex", "sip", "delayed_sip", "boats", "overnight", "otc"})
_TIMEFRAME: Final = re.compile(r"(\d+)(Min|T|Hour|H|Day|D)")
_SYMBOL: Final = re.compile(r"[A-Z][A-Z0-9.\-/]{0,20}")
_ENCODER: Final = msgspec.json.Encoder()


def _bad(message: str) -> RequestError:
    return RequestError(422, INVALID, message)


def json_response(content: Any) -> Response:
    """msgspec's encoder, so the ``msgspec.Raw`` prices go out as the exact decimals they are."""
    return Response(_ENCODER.encode(content), media_type="application/json")


def _price(units: int) -> msgspec.Raw:
    return msgspec.Raw(price_to_str(units).encode())


def _vwap(row: BarRow) -> msgspec.Raw | None:
    """The VWAP rounded half up to 1/1,000,000 dollar (Alpaca's precision), from the exact sum of price x size."""
    if row.pv is None or not row.volume:
        return None
    micro = (Fraction(row.pv * 100, row.volume) + Fraction(1, 2)).__floor__()
    whole, frac = divmod(micro, 1_000_000)
    return msgspec.Raw(f"{whole}.{frac:06d}".rstrip("0").rstrip(".").encode())


def trade_json(trade: Trade) -> dict[str, Any]:
    message = event_message(trade, WireFormat.JSON)
    del message["T"], message["S"]
    return message


def quote_json(quote: Quote) -> dict[str, Any]:
    message = event_message(quote, WireFormat.JSON)
    del message["T"], message["S"]
    return message


def bar_json(row: BarRow) -> dict[str, Any]:
    return {
        "t": rfc3339_ns(row.t),
        "o": _price(row.open),
        "h": _price(row.high),
        "l": _price(row.low),
        "c": _price(row.close),
        "v": row.volume,
        "n": row.trades,
        "vw": _vwap(row),
    }


def timeframe(text: str) -> int:
    """Alpaca's ``timeframe`` (``1Min``..``59Min``, ``1Hour``..``23Hour``, ``1Day``) as a width in ns or ``DAY``."""
    match = _TIMEFRAME.fullmatch(text)
    if match is None:
        raise _bad(f"invalid timeframe: {text!r}")
    amount, unit = int(match.group(1)), match.group(2)
    if unit in ("Min", "T") and 1 <= amount <= 59:
        return amount * MINUTE_NS
    if unit in ("Hour", "H") and 1 <= amount <= 23:
        return amount * HOUR_NS
    if unit in ("Day", "D") and amount == 1:
        return DAY
    raise _bad(f"invalid timeframe: {text!r} (the paper venue serves 1-59Min, 1-23Hour and 1Day)")


def symbols_param(params: Any, path_symbol: str | None) -> list[str]:
    raw = path_symbol if path_symbol is not None else params.get("symbols", "")
    symbols = sorted({s.strip().upper() for s in raw.split(",") if s.strip()})
    if not symbols:
        raise _bad("missing symbols")
    for symbol in symbols:
        if _SYMBOL.fullmatch(symbol) is None:
            raise _bad(f"invalid symbol: {symbol!r}")
    return symbols


def _encode_token(symbol: str, cursor: Cursor) -> str:
    return base64.urlsafe_b64encode(f"{symbol}|{cursor[0]}|{cursor[1]}".encode()).decode()


def _decode_token(token: str) -> tuple[str, Cursor]:
    try:
        symbol, ts, rank = base64.urlsafe_b64decode(token.encode()).decode().split("|")
        return symbol, (int(ts), int(rank))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _bad("invalid page_token") from exc


class Query:
    """The parameters every historical route shares, checked; ``end`` never after the venue's time."""

    def __init__(self, params: Any, now: int) -> None:
        feed = params.get("feed")
        if feed is not None and feed not in FEEDS:
            raise _bad(f"invalid feed: {feed!r}")
        self.sort = params.get("sort", "asc")
        if self.sort not in ("asc", "desc"):
            raise _bad(f"invalid sort: {self.sort!r} (asc or desc)")
        try:
            self.limit = int(params.get("limit") or DEFAULT_LIMIT)
        except ValueError as exc:
            raise _bad("invalid limit") from exc
        if not 1 <= self.limit <= MAX_LIMIT:
            raise _bad(f"invalid limit: {self.limit} (1 to {MAX_LIMIT})")
        self.start = parse_time(params["start"], "start") if params.get("start") else ny_midnight(now)
        end = parse_time(params["end"], "end") if params.get("end") else now
        if end < self.start:
            raise _bad("end should not be before start")
        self.end = min(end, now)
        token = params.get("page_token")
        self.resume = _decode_token(token) if token else None


def _series(
    symbols: Sequence[str], query: Query, items_of: Callable[[str], Sequence[Any]], write: Callable[[Any], Any]
) -> tuple[dict[str, list[Any]], str | None]:
    """One page over ``symbols`` in name order: ``limit`` items in all, and the token of the next page."""
    out: dict[str, list[Any]] = {}
    left = query.limit
    for symbol in symbols:
        cursor = None
        if query.resume is not None:
            if symbol < query.resume[0]:
                continue
            if symbol == query.resume[0]:
                cursor = query.resume[1]
        items, after = page(items_of(symbol), _key, query.start, query.end, left, query.sort == "desc", cursor)
        if items:
            out[symbol] = [write(item) for item in items]
            left -= len(items)
        if after is not None:
            return out, _encode_token(symbol, after)
        if left == 0:
            rest = [s for s in symbols if s > symbol and _has(items_of(s), query)]
            return out, (
                _encode_token(rest[0], (query.end if query.sort == "desc" else query.start, 0)) if rest else None
            )
    return out, None


def _key(item: Any) -> int:
    return int(item.ts_event)


def _has(items: Sequence[Any], query: Query) -> bool:
    return bool(page(items, _key, query.start, query.end, 1, False, None)[0])


def market_routes(venue: PaperVenue, check: Check, history: TapeHistory | None = None) -> list[Route]:
    """The market data routes of ``venue``, answered from ``history`` (default: the venue's own, which has recorded
    every trade, quote and bar since the venue was made)."""
    tape = history if history is not None else venue.history

    def historical(kind: str) -> Endpoint:
        async def handler(request: Request) -> Response:
            single = request.path_params.get("symbol")
            symbols = symbols_param(request.query_params, single)
            with venue.lock:
                query = Query(request.query_params, venue.now)
                if kind == "bars":
                    width = timeframe(request.query_params.get("timeframe", ""))
                    rows = {s: tape.bars_of(s, width, query.start, query.end, venue.now) for s in symbols}
                    data, token = _series(symbols, query, lambda s: rows[s], bar_json)
                elif kind == "trades":
                    data, token = _series(symbols, query, lambda s: tape.trades.get(s, []), trade_json)
                else:
                    data, token = _series(symbols, query, lambda s: tape.quotes.get(s, []), quote_json)
            if single is not None:
                return json_response({"symbol": symbols[0], kind: data.get(symbols[0], []), "next_page_token": token})
            return json_response({kind: data, "next_page_token": token})

        return handler

    def latest(kind: str) -> Endpoint:
        async def handler(request: Request) -> Response:
            single = request.path_params.get("symbol")
            symbols = symbols_param(request.query_params, single)
            feed = request.query_params.get("feed")
            if feed is not None and feed not in FEEDS:
                raise _bad(f"invalid feed: {feed!r}")
            with venue.lock:
                found = {s: item for s in symbols if (item := _latest(tape, kind, s, venue.now)) is not None}
            if single is not None:
                if symbols[0] not in found:
                    raise RequestError(404, NOT_FOUND, f"no {kind} found for {symbols[0]}")
                return json_response({"symbol": symbols[0], kind[:-1]: found[symbols[0]]})
            return json_response({kind: found})

        return handler

    table: list[tuple[str, Endpoint]] = [
        ("/v2/stocks/trades/latest", latest("trades")),
        ("/v2/stocks/quotes/latest", latest("quotes")),
        ("/v2/stocks/bars/latest", latest("bars")),
        ("/v2/stocks/trades", historical("trades")),
        ("/v2/stocks/quotes", historical("quotes")),
        ("/v2/stocks/bars", historical("bars")),
        ("/v2/stocks/{symbol}/trades/latest", latest("trades")),
        ("/v2/stocks/{symbol}/quotes/latest", latest("quotes")),
        ("/v2/stocks/{symbol}/bars/latest", latest("bars")),
        ("/v2/stocks/{symbol}/trades", historical("trades")),
        ("/v2/stocks/{symbol}/quotes", historical("quotes")),
        ("/v2/stocks/{symbol}/bars", historical("bars")),
    ]
    return [Route(path, guarded(check, handler), methods=["GET"]) for path, handler in table]


def _latest(tape: TapeHistory, kind: str, symbol: str, now: int) -> dict[str, Any] | None:
    """The last trade, quote or minute bar known at ``now`` (the minute bar may still be forming)."""
    if kind == "trades":
        trades = tape.trades.get(symbol)
        return trade_json(trades[-1]) if trades else None
    if kind == "quotes":
        quotes = tape.quotes.get(symbol)
        return quote_json(quotes[-1]) if quotes else None
    known = [items[-1].ts_event for items in (tape.trades.get(symbol), tape.bars.get(symbol)) if items]
    if not known:
        return None
    rows = tape.bars_of(symbol, MINUTE_NS, max(known) - 2 * MINUTE_NS, now, now)  # the last minute's prints only
    return bar_json(rows[-1]) if rows else None
