"""Surveillance over the audit trail: the manipulative patterns an automated strategy can fall into by accident.

Three patterns, each producing alerts with the evidence a reviewer needs (orders, times, sizes, prices):

- **Spoofing and layering**: our order, large relative to the displayed size at the touch of its side and not
  marketable (at or away from the touch), cancelled unfilled within a short time, while the firm traded on the
  other side of the same symbol (from placement until shortly after the cancel). Several such orders of one
  strategy on one side at different prices, alive together, are layering. Market ``LargeOrderPulled`` events in
  the same span are listed as evidence (how often the book saw such pulls then).
- **Marking the close**: in the last minutes before a session's close, our orders or fills in one direction large
  relative to the name's usual volume in that window, that were aggressive (at or through the far touch) or were
  followed by the closing price moving their way.
- **Wash trades that got through**: a buy and a sell of ours in the same symbol, same price and size, executed
  together (same trade id, or the same exchange time within ``wash_window_ns``), under the same beneficial account.

Thresholds are in ``SurveillanceConfig`` (the ``[surveillance]`` table of a run's TOML). The review runs over any
iterable of stored rows, so it works on a finished trail and on a live one read while the writer appends.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from tapeflow.compliance.audit import OrderCause, decode_row
from tapeflow.compliance.chain import Row
from tapeflow.model.book_events import LargeOrderPulled
from tapeflow.model.compliance_events import CloseWindowVolume
from tapeflow.model.enums import OrderType, Side
from tapeflow.model.orders import OrderCancelled, OrderFilled, SubmitOrder
from tapeflow.model.prices import NO_PRICE, price_to_str
from tapeflow.model.sessions import calendar_for

NEW_YORK = ZoneInfo("America/New_York")
NS = 1_000_000_000


class SurveillanceConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    spoof_min_book_ratio: float = 3.0
    """An order is large when its size is at least this many times the displayed size at the touch of its side."""
    spoof_max_lifetime_ns: int = 2 * NS
    spoof_other_side_window_ns: int = 5 * NS
    """How long after the cancel a fill on the other side still counts."""
    layering_min_orders: int = 2
    calendar: str = "XNYS"
    """Exchange calendar giving each session's close (13:00 on half days; no close on holidays); "fixed" is 16:00."""
    close_time_ns: int | None = None
    """Override: the close as ns after New York midnight on every day. None: the calendar's close."""
    close_window_ns: int = 10 * 60 * NS
    close_min_volume_ratio: float = 0.2
    """Our shares in one direction in the window, as a fraction of the usual market volume in it, that is large."""
    usual_close_volume: dict[str, int] = {}
    """Shares usually traded in the window, by symbol; otherwise the median of the trail's ``CloseWindowVolume``."""
    wash_window_ns: int = 1_000_000
    accounts: dict[str, str] = {}
    """Beneficial account by strategy id; strategies not listed share the firm's one account."""


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    symbol: str
    ts: int
    strategy_id: str
    summary: str
    evidence: list[dict[str, Any]]


class _Order:
    __slots__ = ("cancel_ts", "cause", "cmd", "filled", "fills", "submit_ts")

    def __init__(self, cmd: SubmitOrder, cause: OrderCause | None, ts: int) -> None:
        self.cmd = cmd
        self.cause = cause
        self.submit_ts = ts
        self.cancel_ts: int | None = None
        self.filled = 0
        self.fills: list[OrderFilled] = []


def _order_evidence(o: _Order) -> dict[str, Any]:
    c = o.cmd
    out: dict[str, Any] = {
        "order": c.client_order_id,
        "strategy": c.strategy_id,
        "side": c.side.value,
        "price": price_to_str(c.price) if c.price != NO_PRICE else "market",
        "quantity": c.quantity,
        "submitted_ns": o.submit_ts,
        "filled": o.filled,
    }
    if o.cancel_ts is not None:
        out["cancelled_ns"] = o.cancel_ts
        out["lifetime_ns"] = o.cancel_ts - o.submit_ts
    if o.cause is not None and o.cause.book:
        out["touch_size"] = o.cause.bid_size if c.side is Side.BUY else o.cause.ask_size
        out["bid"] = price_to_str(o.cause.bid_price) if o.cause.bid_price else ""
        out["ask"] = price_to_str(o.cause.ask_price) if o.cause.ask_price else ""
    if c.reason:
        out["reason"] = c.reason
    return out


def _fill_evidence(f: OrderFilled) -> dict[str, Any]:
    return {
        "fill_of": f.client_order_id,
        "strategy": f.strategy_id,
        "side": f.side.value,
        "price": price_to_str(f.price),
        "quantity": f.quantity,
        "ts_ns": f.ts_event,
        "liquidity": f.liquidity_side.value,
        "trade_id": f.trade_id,
    }


class Surveillance:
    """Feed stored rows in order (``feed``), then read ``alerts()``. ``review(rows)`` does both."""

    def __init__(self, config: SurveillanceConfig | None = None) -> None:
        self.config = config or SurveillanceConfig()
        self._sessions = calendar_for(self.config.calendar, "surveillance.calendar")
        self._sessions.check()
        self._orders: dict[str, _Order] = {}
        """The latest order of each client order id, for its fills and cancel: a second run into the same trail
        reuses ids, and its reports (which follow its own submit) belong to its own order."""
        self._all: list[_Order] = []
        """Every order, in trail order (an earlier run's order of a reused id included)."""
        self._fills: list[OrderFilled] = []
        self._pulls: list[LargeOrderPulled] = []
        self._windows: list[CloseWindowVolume] = []

    def review(self, rows: Iterable[Row]) -> list[Alert]:
        for row in rows:
            self.feed(row)
        return self.alerts()

    def feed(self, row: Row) -> None:
        kind = row.kind
        if kind not in ("SubmitOrder", "OrderFilled", "OrderCancelled", "LargeOrderPulled", "CloseWindowVolume"):
            return
        event, cause = decode_row(row)
        if isinstance(event, SubmitOrder):
            submitted = self._orders[event.client_order_id] = _Order(event, cause, row.ts)
            self._all.append(submitted)
        elif isinstance(event, OrderFilled):
            self._fills.append(event)
            order = self._orders.get(event.client_order_id)
            if order is not None:
                order.filled += event.quantity
                order.fills.append(event)
        elif isinstance(event, OrderCancelled):
            order = self._orders.get(event.client_order_id)
            if order is not None and order.cancel_ts is None:
                order.cancel_ts = event.ts_event
        elif isinstance(event, LargeOrderPulled):
            self._pulls.append(event)
        elif isinstance(event, CloseWindowVolume):
            self._windows.append(event)

    def alerts(self) -> list[Alert]:
        found = [*self._spoofing(), *self._marking_the_close(), *self._wash_trades()]
        found.sort(key=lambda a: (a.ts, a.kind, a.symbol))
        return found

    def _account(self, strategy_id: str) -> str:
        return self.config.accounts.get(strategy_id, "firm")

    # -- spoofing and layering ----------------------------------------------------------------------------------

    def _suspect(self, o: _Order) -> bool:
        cfg = self.config
        c = o.cmd
        if o.cancel_ts is None or o.filled or c.order_type is not OrderType.LIMIT or o.cause is None:
            return False
        if o.cancel_ts - o.submit_ts > cfg.spoof_max_lifetime_ns or not o.cause.book:
            return False
        cause = o.cause
        if c.side is Side.BUY:
            marketable = cause.ask_price != NO_PRICE and c.price >= cause.ask_price
            touch = cause.bid_size
        else:
            marketable = cause.bid_price != NO_PRICE and c.price <= cause.bid_price
            touch = cause.ask_size
        return not marketable and c.quantity >= cfg.spoof_min_book_ratio * max(touch, 1)

    def _spoofing(self) -> list[Alert]:
        cfg = self.config
        groups: dict[tuple[str, str, Side], list[_Order]] = {}
        for o in self._all:
            if self._suspect(o):
                groups.setdefault((o.cmd.strategy_id, o.cmd.symbol, o.cmd.side), []).append(o)
        alerts = []
        for (sid, symbol, side), orders in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2].value)):
            orders.sort(key=lambda o: o.submit_ts)
            clusters: list[list[_Order]] = []
            for o in orders:  # orders alive together form one episode
                if clusters and o.submit_ts <= max(x.cancel_ts or 0 for x in clusters[-1]):
                    clusters[-1].append(o)
                else:
                    clusters.append([o])
            account = self._account(sid)
            for cluster in clusters:
                start = cluster[0].submit_ts
                end = max(o.cancel_ts or 0 for o in cluster) + cfg.spoof_other_side_window_ns
                other = [
                    f
                    for f in self._fills
                    if f.symbol == symbol
                    and f.side is side.opposite
                    and start <= f.ts_event <= end
                    and self._account(f.strategy_id) == account
                ]
                if not other:
                    continue
                prices = {o.cmd.price for o in cluster}
                layering = len(cluster) >= cfg.layering_min_orders and len(prices) > 1
                kind = "layering" if layering else "spoofing"
                shares = sum(o.cmd.quantity for o in cluster)
                traded = sum(f.quantity for f in other)
                pulls = [p for p in self._pulls if p.symbol == symbol and start <= p.ts_event <= end]
                alerts.append(
                    Alert(
                        kind=kind,
                        symbol=symbol,
                        ts=start,
                        strategy_id=sid,
                        summary=(
                            f"{len(cluster)} large {side.value} order(s), {shares} shares at {len(prices)} price(s), "
                            f"cancelled unfilled within {cfg.spoof_max_lifetime_ns} ns while we traded {traded} "
                            f"shares on the {side.opposite.value} side"
                        ),
                        evidence=[
                            *(_order_evidence(o) for o in cluster),
                            *(_fill_evidence(f) for f in other),
                            *(
                                {
                                    "market_pull": p.order_id,
                                    "side": p.side.value,
                                    "size": p.pulled_size,
                                    "price": price_to_str(p.price),
                                    "ts_ns": p.ts_event,
                                }
                                for p in pulls
                            ),
                        ],
                    )
                )
        return alerts

    # -- marking the close --------------------------------------------------------------------------------------

    def _close_of(self, ts: int) -> tuple[str, int | None]:
        """The New York date of ``ts`` and that session's close; None when the exchange did not trade that day."""
        day = dt.datetime.fromtimestamp(ts // NS, NEW_YORK).date()
        if self.config.close_time_ns is not None:
            midnight = int(dt.datetime(day.year, day.month, day.day, tzinfo=NEW_YORK).timestamp()) * NS
            return day.isoformat(), midnight + self.config.close_time_ns
        session = self._sessions.session(day)
        return day.isoformat(), None if session is None else session.close

    def _usual(self, symbol: str) -> int | None:
        usual = self.config.usual_close_volume.get(symbol)
        if usual is not None:
            return usual
        volumes = [w.volume for w in self._windows if w.symbol == symbol]
        return int(statistics.median(volumes)) if volumes else None

    def _marking_the_close(self) -> list[Alert]:
        cfg = self.config
        acts: dict[tuple[str, str, str, Side], list[_Order]] = {}
        for o in self._all:
            session, close = self._close_of(o.submit_ts)
            if close is not None and close - cfg.close_window_ns <= o.submit_ts <= close:
                acts.setdefault((session, o.cmd.symbol, o.cmd.strategy_id, o.cmd.side), []).append(o)
        windows = {(w.session_date, w.symbol): w for w in self._windows}
        alerts = []
        for (session, symbol, sid, side), orders in sorted(acts.items(), key=lambda kv: (*kv[0][:3], kv[0][3].value)):
            usual = self._usual(symbol)
            if not usual:
                continue
            ordered = sum(o.cmd.quantity for o in orders)
            filled = sum(o.filled for o in orders)
            if max(ordered, filled) < cfg.close_min_volume_ratio * usual:
                continue
            aggressive = [o for o in orders if self._aggressive(o)]
            window = windows.get((session, symbol))
            moved = False
            if window is not None and window.reference_price and window.last_price:
                moved = (window.last_price - window.reference_price) * side.sign > 0
            if not aggressive and not moved:
                continue
            move = ""
            if window is not None and window.reference_price:
                move = f"; price {price_to_str(window.reference_price)} -> {price_to_str(window.last_price)} at close"
            alerts.append(
                Alert(
                    kind="marking_the_close",
                    symbol=symbol,
                    ts=orders[0].submit_ts,
                    strategy_id=sid,
                    summary=(
                        f"{side.value} {ordered} shares ordered, {filled} filled in the last "
                        f"{cfg.close_window_ns // NS} s before the {session} close, against a usual {usual} shares "
                        f"in that window; {len(aggressive)} of {len(orders)} orders at or through the far touch{move}"
                    ),
                    evidence=[*(_order_evidence(o) for o in orders), {"usual_window_volume": usual}],
                )
            )
        return alerts

    @staticmethod
    def _aggressive(o: _Order) -> bool:
        c = o.cmd
        if c.order_type is OrderType.MARKET:
            return True
        cause = o.cause
        if cause is None or not cause.book:
            return False
        if c.side is Side.BUY:
            return cause.ask_price != NO_PRICE and c.price >= cause.ask_price
        return cause.bid_price != NO_PRICE and c.price <= cause.bid_price

    # -- wash trades --------------------------------------------------------------------------------------------

    def _wash_trades(self) -> list[Alert]:
        window = self.config.wash_window_ns
        buys = [f for f in self._fills if f.side is Side.BUY]
        sells = [f for f in self._fills if f.side is Side.SELL]
        used: set[int] = set()
        alerts = []
        for b in buys:
            for i, s in enumerate(sells):
                if i in used or s.symbol != b.symbol or s.price != b.price or s.quantity != b.quantity:
                    continue
                if self._account(s.strategy_id) != self._account(b.strategy_id):
                    continue
                same_trade = bool(b.trade_id) and b.trade_id == s.trade_id
                if not same_trade and abs(s.ts_event - b.ts_event) > window:
                    continue
                used.add(i)
                alerts.append(
                    Alert(
                        kind="wash_trade",
                        symbol=b.symbol,
                        ts=min(b.ts_event, s.ts_event),
                        strategy_id=b.strategy_id,
                        summary=(
                            f"we bought ({b.client_order_id}) and sold ({s.client_order_id}) {b.quantity} shares at "
                            f"{price_to_str(b.price)} together, under account {self._account(b.strategy_id)!r}"
                        ),
                        evidence=[_fill_evidence(b), _fill_evidence(s)],
                    )
                )
                break
        return alerts


def review(rows: Iterable[Row], config: SurveillanceConfig | None = None) -> list[Alert]:
    return Surveillance(config).review(rows)


__all__ = ["Alert", "Surveillance", "SurveillanceConfig", "review"]
