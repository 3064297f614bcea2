"""Order events of an audit trail as FINRA CAT Industry Member events, one JSON object per line.

The mapping (see docs/COMPLIANCE.md for the field list and what is left to the firm):

- ``SubmitOrder`` -> ``MENO`` (new order: the firm originated a proprietary order);
- the same order sent on to the venue -> ``MEOR`` (order route), unless the risk engine or the self-trade gate
  stopped it first, with ``routeRejectedFlag`` when the venue refused it;
- ``OrderUpdated`` (a modification the venue applied) -> ``MEOM``;
- ``OrderCancelled`` / ``OrderExpired`` -> ``MEOC``;
- ``OrderFilled`` -> an execution record (``type: "EXECUTION"``, ``catReportable: false``): on an exchange the
  exchange reports the trade to CAT; the firm keeps it to reconcile.

Order ids: a run chooses its client order ids itself, and a second run into the same trail starts again at
``mom-1``, while CAT requires an ``orderID`` unique per firm and date. So ``orderID`` (and ``priorOrderID``) is
the client order id qualified by the run that sent it, ``R<run>.<client order id>``, the run being the one the trail
records (``audit_store``: each run's first record, signed into its checkpoints). ``routedOrderID`` stays what was
sent to the venue.

Timestamps are int ns since the epoch (UTC), prices decimal strings in dollars, as CAT accepts. Firm and account
identifiers come from ``CatConfig``; nothing is invented: a field the trail cannot know is left to the firm.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from tapeflow.compliance.audit import decode_row
from tapeflow.compliance.chain import Row, run_of
from tapeflow.model.enums import OrderType, Side, TimeInForce
from tapeflow.model.errors import DataError
from tapeflow.model.orders import (
    ModifyOrder,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderUpdated,
    SubmitOrder,
)
from tapeflow.model.prices import NO_PRICE, price_to_str

NEW_YORK = ZoneInfo("America/New_York")
_KINDS = frozenset(
    {"SubmitOrder", "ModifyOrder", "OrderUpdated", "OrderCancelled", "OrderExpired", "OrderFilled", "OrderRejected"}
)
_STOPPED = frozenset({"RiskRejected"})
_ORDER_TYPE = {OrderType.MARKET: "MKT", OrderType.LIMIT: "LMT", OrderType.STOP: "MKT", OrderType.STOP_LIMIT: "LMT"}


class CatConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The ``[cat]`` table: who reports, for which account, how the desk is described."""

    reporter_imid: str = "XXXX"
    """CATReporterIMID: the SRO-assigned identifier of the reporting firm."""
    firm_designated_id: str = "PROP1"
    """firmDesignatedID: the account's identifier as the firm assigns it."""
    account_holder_type: str = "P"
    """accountHolderType: P = other proprietary."""
    dept_type: str = "T"
    """deptType: T = trading desk."""
    handling_instructions: str = ""
    destination_type: str = "E"
    """destinationType of routes: E = exchange."""
    session: str = "REG"


def _date(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts // 1_000_000_000, NEW_YORK).strftime("%Y%m%d")


def _side(side: Side) -> str:
    return "B" if side is Side.BUY else "SL"  # short-sale marking needs the position: see docs/COMPLIANCE.md


def _tif(tif: TimeInForce, ts: int) -> str:
    return f"DAY={_date(ts)}" if tif is TimeInForce.DAY else tif.value


def _price(price: int) -> str | None:
    return price_to_str(price) if price != NO_PRICE else None


def export_cat(
    rows: Iterable[Row], config: CatConfig | None = None, *, runs: Sequence[tuple[int, int]]
) -> Iterator[dict[str, Any]]:
    """CAT events in trail order. Two passes over ``rows`` (a list, or a store's ``rows`` called twice). ``runs``
    are the trail's ``(run, first seq)`` (``AuditStore.runs``): order ids are qualified by them."""
    cfg = config or CatConfig()
    rows = list(rows)
    first_seqs = [first for _, first in runs]

    def run(row: Row) -> int:
        found = run_of(first_seqs, row.seq)
        if found == 0:
            raise DataError(
                f"record {row.seq} belongs to no run of the trail's run table; run `tapeflow audit verify` on it"
            )
        return found

    stopped = {(run(r), r.order_id) for r in rows if r.kind in _STOPPED}
    orders: dict[tuple[int, str], SubmitOrder] = {}
    modifies: dict[tuple[int, str], int] = {}
    common = {"actionType": "NEW", "CATReporterIMID": cfg.reporter_imid, "manualFlag": False}
    for row in rows:
        if row.kind not in _KINDS:
            continue
        event, _ = decode_row(row)
        key = f"{_date(row.ts)}_{row.seq}"
        r = run(row)
        if isinstance(event, SubmitOrder):
            orders[r, event.client_order_id] = event
            yield {**common, **_new_order(event, cfg, key, r)}
            if (r, event.client_order_id) not in stopped:
                yield {**common, **_route(event, cfg, f"{key}R", r)}
            continue
        if isinstance(event, ModifyOrder):
            modifies[r, event.client_order_id] = event.ts_init
            continue
        order = orders.get((r, getattr(event, "client_order_id", "")))
        if order is None:
            continue
        base = _ids(order, key, r)
        if isinstance(event, OrderUpdated):
            yield {
                **common,
                **base,
                "type": "MEOM",
                "eventTimestamp": modifies.get((r, order.client_order_id), event.ts_event),
                "priorOrderKeyDate": order.ts_event,
                "priorOrderID": base["orderID"],
                "side": _side(order.side),
                "price": _price(event.price or order.price),
                "quantity": event.quantity,
                "orderType": _ORDER_TYPE[order.order_type],
                "timeInForce": _tif(order.time_in_force, order.ts_event),
                "tradingSession": cfg.session,
                "initiator": "F",
                "venueConfirmedTimestamp": event.ts_event,
            }
        elif isinstance(event, OrderCancelled | OrderExpired):
            qty = event.cancelled_quantity if isinstance(event, OrderCancelled) else event.expired_quantity
            yield {
                **common,
                **base,
                "type": "MEOC",
                "eventTimestamp": event.ts_event,
                "cancelQty": qty,
                "leavesQty": 0,
                "initiator": "F",
                "reason": getattr(event, "reason", "") or type(event).__name__,
            }
        elif isinstance(event, OrderRejected):
            yield {
                **common,
                **base,
                "type": "MEOR",
                "eventTimestamp": order.ts_init,
                "routeRejectedFlag": True,
                "destination": event.venue,
                "routedOrderID": order.client_order_id,
                "reason": event.reason,
            }
        elif isinstance(event, OrderFilled):
            yield {
                **base,
                "type": "EXECUTION",
                "catReportable": False,
                "eventTimestamp": event.ts_event,
                "side": _side(event.side),
                "price": price_to_str(event.price),
                "quantity": event.quantity,
                "leavesQty": event.leaves_quantity,
                "tradeID": event.trade_id,
                "destination": event.venue,
                "liquidity": event.liquidity_side.value,
            }


def order_id(run: int, client_order_id: str) -> str:
    """The CAT ``orderID`` of a client order id sent by ``run``: unique across the runs of one trail."""
    return f"R{run}.{client_order_id}"


def _ids(order: SubmitOrder, key: str, run: int) -> dict[str, Any]:
    return {
        "firmROEID": key,
        "orderKeyDate": order.ts_event,
        "orderID": order_id(run, order.client_order_id),
        "symbol": order.symbol,
    }


def _new_order(o: SubmitOrder, cfg: CatConfig, key: str, run: int) -> dict[str, Any]:
    return {
        **_ids(o, key, run),
        "type": "MENO",
        "eventTimestamp": o.ts_event,
        "deptType": cfg.dept_type,
        "side": _side(o.side),
        "price": _price(o.price),
        "quantity": o.quantity,
        "orderType": _ORDER_TYPE[o.order_type],
        "timeInForce": _tif(o.time_in_force, o.ts_event),
        "tradingSession": cfg.session,
        "handlingInstructions": _handling(o, cfg),
        "custDspIntrFlag": False,
        "firmDesignatedID": cfg.firm_designated_id,
        "accountHolderType": cfg.account_holder_type,
        "affiliateFlag": False,
        "representativeInd": "N",
        "solicitationFlag": False,
        "strategyID": o.strategy_id,
    }


def _route(o: SubmitOrder, cfg: CatConfig, key: str, run: int) -> dict[str, Any]:
    return {
        **_ids(o, key, run),
        "type": "MEOR",
        "eventTimestamp": o.ts_init,
        "side": _side(o.side),
        "price": _price(o.price),
        "quantity": o.quantity,
        "orderType": _ORDER_TYPE[o.order_type],
        "timeInForce": _tif(o.time_in_force, o.ts_event),
        "tradingSession": cfg.session,
        "handlingInstructions": _handling(o, cfg),
        "destination": o.venue or "default",
        "destinationType": cfg.destination_type,
        "routedOrderID": o.client_order_id,
        "session": cfg.session,
        "routeRejectedFlag": False,
    }


def _handling(o: SubmitOrder, cfg: CatConfig) -> str:
    parts = [cfg.handling_instructions] if cfg.handling_instructions else []
    if o.stop_price != NO_PRICE:
        parts.append(f"STOP={price_to_str(o.stop_price)}")
    return "|".join(parts)
