"""Alpaca's trading API v2 over HTTP, the subset real clients use, answered by a ``PaperVenue``.

Same paths, fields, types, statuses and error bodies (``{"code", "message"}``) as Alpaca's, because the point is
that an unmodified client (alpaca-py, ours) cannot tell the difference. Request bodies are decoded with JSON
floats as ``Decimal``, so a client's price becomes 1/10,000 dollar units exactly or is refused.

Every route checks the key pair first (``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY``; missing or wrong: 401
40110000, as Alpaca). ``POST /tapeflow/step`` advances a stepped venue; it is not Alpaca's, lives outside /v2, and
answers only callers on the loopback interface, with a key pair like the rest.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tapeflow.model.errors import RequestError
from tapeflow.paper.alpaca_orders import (
    INVALID,
    SIDES,
    invalid,
    order_json,
    parse_order,
    parse_time,
    price,
    quantity,
    rfc3339,
)
from tapeflow.paper.auth import LOOPBACK_CLIENTS, Check
from tapeflow.paper.venue import PaperVenue

UNAUTHORIZED: Final = 40110000
Endpoint = Callable[[Request], Awaitable[Response]]


def error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def guarded(check: Check, handler: Endpoint) -> Endpoint:
    """``handler`` behind the key check, with ``RequestError`` answered as Alpaca's error body."""

    async def endpoint(request: Request) -> Response:
        key = request.headers.get("APCA-API-KEY-ID", "")
        secret = request.headers.get("APCA-API-SECRET-KEY", "")
        if not key or not secret or not check(key, secret):
            return error(401, UNAUTHORIZED, "request is not authorized")
        try:
            return await handler(request)
        except RequestError as exc:
            return error(exc.status, exc.code, exc.message)

    return endpoint


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}", parse_float=Decimal)
    except ValueError as exc:
        raise RequestError(400, 40010000, "request body format is invalid") from exc
    if not isinstance(body, dict):
        raise RequestError(400, 40010000, "request body format is invalid")
    return body


def _order_filter(venue: PaperVenue, params: Any) -> list[dict[str, Any]]:
    """``GET /v2/orders``: status open (default), closed or all; symbols, side, after/until (submission time,
    exclusive), direction (desc by default) and limit (50 by default, at most 500)."""
    status = params.get("status", "open")
    if status not in ("open", "closed", "all"):
        raise invalid(f"invalid status: {status!r} (one of open, closed, all)")
    try:
        limit = int(params.get("limit", 50))
    except ValueError as exc:
        raise invalid("limit must be an integer") from exc
    if not 0 < limit <= 500:
        raise invalid("limit must be between 1 and 500")
    direction = params.get("direction", "desc")
    if direction not in ("asc", "desc"):
        raise invalid(f"invalid direction: {direction!r}")
    symbols = {s.strip().upper() for s in params.get("symbols", "").split(",") if s.strip()}
    side = params.get("side")
    if side is not None and side not in SIDES:
        raise invalid(f"invalid side: {side!r}")
    after = parse_time(params["after"], "after") if "after" in params else None
    until = parse_time(params["until"], "until") if "until" in params else None
    chosen = []
    for order in venue.orders():
        if status != "all" and order.is_open != (status == "open"):
            continue
        if (symbols and order.symbol not in symbols) or (side is not None and order.side != side):
            continue
        if (after is not None and order.created_at <= after) or (until is not None and order.created_at >= until):
            continue
        chosen.append(order)
    if direction == "desc":
        chosen.reverse()
    return [order_json(order) for order in chosen[:limit]]


def routes(venue: PaperVenue, check: Check) -> list[Route]:
    """The REST routes of ``venue``, each behind ``check``."""

    async def account(request: Request) -> Response:
        return JSONResponse(venue.account())

    async def submit(request: Request) -> Response:
        order = venue.submit(parse_order(await _body(request)))
        return JSONResponse(order_json(order))

    async def list_orders(request: Request) -> Response:
        with venue.lock:
            return JSONResponse(_order_filter(venue, request.query_params))

    async def get_order(request: Request) -> Response:
        with venue.lock:
            return JSONResponse(order_json(venue.order(request.path_params["order_id"])))

    async def by_client_id(request: Request) -> Response:
        cid = request.query_params.get("client_order_id", "")
        if not cid:
            raise invalid("client_order_id is required")
        with venue.lock:
            return JSONResponse(order_json(venue.order_by_client_id(cid)))

    async def replace(request: Request) -> Response:
        body = await _body(request)
        tif = body.get("time_in_force")
        if tif is not None:
            with venue.lock:
                current = venue.order(request.path_params["order_id"]).time_in_force
            if tif != current:
                raise invalid("time_in_force cannot be changed by the paper venue yet: cancel and submit a new order")
        if body.get("trail") is not None:
            raise invalid("trail applies to trailing_stop orders, which the paper venue does not support yet")
        new = venue.replace(
            request.path_params["order_id"],
            qty=quantity(body["qty"]) if body.get("qty") is not None else None,
            limit_price=price(body["limit_price"], "limit_price") if body.get("limit_price") is not None else None,
            stop_price=price(body["stop_price"], "stop_price") if body.get("stop_price") is not None else None,
            client_id=str(body.get("client_order_id") or ""),
        )
        return JSONResponse(order_json(new))

    async def cancel(request: Request) -> Response:
        venue.cancel(request.path_params["order_id"])
        return Response(status_code=204)

    async def cancel_all(request: Request) -> Response:
        asked = venue.cancel_all()
        return JSONResponse([{"id": o.id, "status": 200, "body": order_json(o)} for o in asked], status_code=207)

    async def positions(request: Request) -> Response:
        return JSONResponse(venue.positions())

    async def position(request: Request) -> Response:
        return JSONResponse(venue.position(request.path_params["symbol"].upper()))

    async def close(request: Request) -> Response:
        return JSONResponse(order_json(venue.close_position(request.path_params["symbol"].upper())))

    async def clock(request: Request) -> Response:
        return JSONResponse(venue.clock())

    async def asset(request: Request) -> Response:
        return JSONResponse(venue.asset(request.path_params["symbol"].upper()))

    async def step(request: Request) -> Response:
        if request.client is None or request.client.host not in LOOPBACK_CLIENTS:
            return error(403, 40310000, "stepping is allowed from the loopback interface only")
        body = await _body(request)
        if ("until" in body) == ("events" in body):
            raise invalid('give exactly one of "until" (ns since the epoch) or "events" (a count)')
        value = body.get("until", body.get("events"))
        if not isinstance(value, int) or isinstance(value, bool):
            raise RequestError(422, INVALID, "until and events are integers")
        count = venue.step(value) if "until" in body else venue.step_events(value)
        return JSONResponse({"events": count, "now": rfc3339(venue.now), "now_ns": venue.now, "done": venue.done})

    table: list[tuple[str, Endpoint, list[str]]] = [
        ("/v2/account", account, ["GET"]),
        ("/v2/orders", submit, ["POST"]),
        ("/v2/orders", list_orders, ["GET"]),
        ("/v2/orders", cancel_all, ["DELETE"]),
        ("/v2/orders:by_client_order_id", by_client_id, ["GET"]),
        ("/v2/orders/{order_id}", get_order, ["GET"]),
        ("/v2/orders/{order_id}", replace, ["PATCH"]),
        ("/v2/orders/{order_id}", cancel, ["DELETE"]),
        ("/v2/positions", positions, ["GET"]),
        ("/v2/positions/{symbol}", position, ["GET"]),
        ("/v2/positions/{symbol}", close, ["DELETE"]),
        ("/v2/clock", clock, ["GET"]),
        ("/v2/assets/{symbol}", asset, ["GET"]),
        ("/tapeflow/step", step, ["POST"]),
    ]
    return [Route(path, guarded(check, handler), methods=methods) for path, handler, methods in table]
