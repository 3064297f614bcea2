"""The node's view of its Alpaca account compared with the venue's, over REST: at start and after every reconnect.

Our own calls (``OrderSender.call``: the same thread, connection and backoff as the orders), not alpaca-py's
``TradingClient``: the reconciliation must run in turn with the commands (a reconcile queued after a submit sees
its effect), and the venue's numbers must stay exact decimal strings, where alpaca-py parses them as floats.

- ``start``: the venue's clock (where "after" starts for the later reconciliations), cash, positions and open
  orders, as the ``VenueState`` the node restores (``LiveNode.restore``), taken when the positions read before
  and after the open orders agree (no fill landed between the reads). An open order whose client order id is
  a tapeflow id of one of the node's strategies (``{strategy}-{run}-{n}``, any earlier run) is taken over; any
  other open order is a disagreement.
- ``reconcile``: every order since the start (``GET /v2/orders?status=all&after=...``, oldest first, paged), and
  each order taken over at start that the ledger still holds open (``GET /v2/orders/{id}``: created before the
  start, the "after" query never lists it, and a fill of it missed by the stream would stay missed). Each
  record of ours goes through the ledger, which posts the fills, cancels and expiries the stream did not deliver,
  once. A record that is not ours, or a position (``GET /v2/positions``) that the fills applied do not make, is a
  disagreement; a position is judged only once it stays unexplained with the orders read again before it (the
  venue trades on between two reads: a fill in between is in the position, not in the orders read first).
  Every run ends with one ``Reconciled`` event; disagreements also engage the kill switch
  (``SetKillSwitch(engaged=True, source="reconcile")``): the node stops trading rather than trade on a view of the
  account it cannot explain.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from decimal import Decimal, InvalidOperation
from typing import Any, Final
from urllib.parse import quote

from tapeflow.engine.inbox import InboxLike
from tapeflow.live.order_ledger import OrderLedger, venue_order
from tapeflow.live.order_sender import OrderSender
from tapeflow.live.order_wire import (
    WireOrder,
    base_client_id,
    format_time,
    parse_json,
    parse_order,
    parse_shares,
    parse_time,
)
from tapeflow.model.errors import DataError, ValueRangeError, VenueError
from tapeflow.model.prices import price_from_decimal
from tapeflow.model.risk_events import SetKillSwitch
from tapeflow.model.venue_events import Reconciled
from tapeflow.model.venue_state import VenueOrder, VenuePosition, VenueState

PAGE: Final = 500
"""Alpaca's largest page of orders."""
POSITION_READS: Final = 3
"""How many times ``reconcile`` reads the orders and then the positions before a position the orders do not explain
counts as a disagreement: the venue may fill between the two reads (seen under load: the kill switch engaged by a
restarted node's first reconciliation, the fill of a taken-over order read in the position but not in its record)."""


def strategy_of(client_order_id: str, strategies: Collection[str]) -> str | None:
    """The strategy of a tapeflow client order id ``{strategy}-{run}-{n}`` (None when it is not one of ours)."""
    parts = base_client_id(client_order_id).rsplit("-", 2)
    if len(parts) != 3 or not parts[2].isdigit() or not parts[1]:
        return None
    return parts[0] if parts[0] in strategies else None


def _money(value: object, field: str) -> int:
    """Dollars (a decimal string) as exact 1/10,000 dollar units; money with more decimals is rounded away from
    nothing: it is refused."""
    try:
        return price_from_decimal(Decimal(str(value)))
    except (InvalidOperation, ValueRangeError) as exc:
        raise DataError(f"{field} is not exact money: {value!r}") from exc


class Reconciler:
    """Compares ``ledger`` with the venue reached through ``sender``; results go to ``inbox``."""

    def __init__(
        self,
        venue: str,
        sender: OrderSender,
        ledger: OrderLedger,
        inbox: InboxLike,
        *,
        strategies: Collection[str],
        clock: Callable[[], int],
    ) -> None:
        self.venue = venue
        self._sender = sender
        self._ledger = ledger
        self._inbox = inbox
        self._strategies = frozenset(strategies)
        self._clock = clock
        self.since = 0
        """Venue time of the start: orders created after it are this run's concern."""
        self._carried: list[str] = []
        """Client order ids of the orders taken over at start: created before ``since``, so the "after" query of
        ``reconcile`` never lists them; each is read by its own id while the ledger holds it open."""
        self.runs = 0
        self._reported: set[str] = set()
        """Findings a kill switch was already asked for: a standing disagreement asks once, a new one again (an
        operator who reset the switch hears of the next problem, not the same one at every reconnect)."""
        self.kill_switches = 0

    # -- REST -----------------------------------------------------------------------------------------------------

    def _get(self, path: str, **params: str) -> Any:
        response = self._sender.get(path, **params)
        if response is None:
            raise VenueError(f"GET {path} failed after every retry")
        if response.status != 200:
            raise VenueError(f"GET {path} answered {response.status}: {response.body[:200]!r}")
        return parse_json(response.body)

    def _positions(self) -> dict[str, tuple[int, int]]:
        """symbol -> (signed shares, signed cost basis in units)."""
        held: dict[str, tuple[int, int]] = {}
        rows = self._get("/v2/positions")
        if not isinstance(rows, list):
            raise DataError("GET /v2/positions is not a list")
        for row in rows:
            if not isinstance(row, dict) or not isinstance(row.get("symbol"), str):
                raise DataError(f"a position is not an object with a symbol: {row!r}")
            qty_text = str(row.get("qty", ""))
            short = qty_text.startswith("-") or row.get("side") == "short"
            qty = parse_shares(qty_text.lstrip("-"), "qty")
            cost = abs(_money(row.get("cost_basis", "0"), "cost_basis"))
            held[row["symbol"]] = (-qty, -cost) if short else (qty, cost)
        return held

    def _orders(self, status: str, after: int | None) -> list[WireOrder]:
        out: list[WireOrder] = []
        while True:
            params = {"status": status, "direction": "asc", "limit": str(PAGE)}
            if after is not None:
                params["after"] = format_time(after)
            page = self._get("/v2/orders", **params)
            if not isinstance(page, list):
                raise DataError("GET /v2/orders is not a list")
            orders = [parse_order(obj) for obj in page]
            out.extend(orders)
            if len(orders) < PAGE:
                return out
            after = orders[-1].created_at  # the next page: strictly later submissions

    # -- start ----------------------------------------------------------------------------------------------------

    def start(self) -> VenueState:
        """What the node restores from (see the module docstring); posts ``Reconciled`` (and a kill switch).

        The positions, cash and open orders are separate reads of a venue that may trade on between them (an
        earlier run's orders still work): an order that fills between the positions read and the orders read is
        in neither the position nor the open orders, and its fill would be lost to the node. So the positions are
        read again after the orders, and the three reads taken only when the positions did not move, up to
        ``POSITION_READS`` times; a venue that never holds still for them is a disagreement (fail closed)."""
        clock = self._get("/v2/clock")
        if not isinstance(clock, dict):
            raise DataError("GET /v2/clock is not an object")
        self.since = parse_time(clock.get("timestamp"), "timestamp")
        findings: list[str] = []
        for _ in range(POSITION_READS):
            held = self._positions()
            account = self._get("/v2/account")
            if not isinstance(account, dict):
                raise DataError("GET /v2/account is not an object")
            cash = _money(account.get("cash"), "cash")
            wires = self._orders("open", None)
            if self._positions() == held:
                break
        else:
            findings.append(f"the positions moved during each of {POSITION_READS} reads of the open orders")
        restored: list[VenueOrder] = []
        for wire in wires:
            strategy = strategy_of(wire.client_order_id, self._strategies)
            if strategy is None:
                findings.append(f"open order {wire.id} ({wire.client_order_id}) was not sent by this node")
                continue
            order = venue_order(wire, strategy, base_client_id(wire.client_order_id))
            self._ledger.restored(order)
            restored.append(order)
            self._carried.append(order.client_order_id)
        for symbol, (qty, _) in held.items():
            self._ledger.set_position(symbol, qty)
        positions = tuple(VenuePosition(symbol=s, quantity=q, cost_basis=c) for s, (q, c) in sorted(held.items()))
        self._report(len(restored), 0, 0, findings)
        return VenueState(venue=self.venue, ts=self.since, cash=cash, positions=positions, open_orders=tuple(restored))

    # -- after a reconnect (or whenever asked) --------------------------------------------------------------------

    def reconcile(self) -> Reconciled:
        """Apply what the stream missed and report what nothing explains (see the module docstring).

        The orders and the positions are two reads of a venue that keeps trading: a fill between them is in the
        position but not in the orders read before it, which is no disagreement. So a position the orders do not
        explain is read again, with the orders before it, up to ``POSITION_READS`` times: a fill that landed
        between two reads is applied by the next (once, as every record is), while a position nothing explains
        stays unexplained at every read and is reported."""
        fills = ends = 0
        for _ in range(POSITION_READS):
            orders = self._orders("all", self.since - 1 if self.since else None)
            orders.extend(self._carried_orders({wire.id for wire in orders}))
            findings: list[str] = []
            for wire in orders:
                applied = self._ledger.apply_record(wire)
                if applied is None and self._ended_before_start(wire):
                    continue
                if applied is None:
                    findings.append(
                        f"order {wire.id} ({wire.client_order_id}, {wire.status}) was not sent by this node"
                    )
                    continue
                fills += applied.fills
                ends += applied.ends
            unexplained = self._unexplained(self._positions())
            if not unexplained:
                break
        return self._report(len(orders), fills, ends, findings + unexplained)

    def _ended_before_start(self, wire: WireOrder) -> bool:
        """An earlier run's order of ours that ended before the start read the open orders (it is not among those
        taken over), listed only because it was created at the start's very time: the "after" bound is the start
        less 1 ns, so that this run's first orders on a venue whose clock stood still are listed too. Its fills
        are in the positions the start read; it is not a disagreement. One still open is: nobody tracks it."""
        return (
            wire.created_at <= self.since
            and not wire.is_open
            and strategy_of(wire.client_order_id, self._strategies) is not None
        )

    def _unexplained(self, held: dict[str, tuple[int, int]]) -> list[str]:
        """The venue's positions ``held`` that the fills applied so far do not make."""
        ours = self._ledger.positions
        out: list[str] = []
        for symbol in sorted(set(held) | {s for s, q in ours.items() if q}):
            venue_qty = held.get(symbol, (0, 0))[0]
            if venue_qty != ours.get(symbol, 0):
                out.append(f"position {symbol}: venue {venue_qty}, our fills explain {ours.get(symbol, 0)}")
        return out

    def _carried_orders(self, listed: set[str]) -> list[WireOrder]:
        """The records of the orders taken over at start that the ledger still holds open, each by its id: a fill
        or cancel of one of them that the stream did not deliver (it came before the stream listened, or was
        lost at a drop) is otherwise never read again. Those the ledger has closed are no longer asked for."""
        out: list[WireOrder] = []
        still: list[str] = []
        for cid in self._carried:
            tracked = self._ledger.tracked(cid)
            if tracked is None or tracked.done:
                continue
            still.append(cid)
            if tracked.venue_order_id and tracked.venue_order_id not in listed:
                out.append(parse_order(self._get(f"/v2/orders/{quote(tracked.venue_order_id, safe='')}")))
        self._carried = still
        return out

    def _report(self, checked: int, fills: int, ends: int, findings: list[str]) -> Reconciled:
        self.runs += 1
        # never before the venue's time at start: a node on the venue's clock has no time of its own until the
        # state read here is restored (its clock read 0, and the start's report went to the audit trail at 1970)
        now = max(self._clock(), self.since)
        result = Reconciled(
            ts_event=now,
            ts_init=now,
            venue=self.venue,
            orders_checked=checked,
            fills_applied=fills,
            cancels_applied=ends,
            mismatches=len(findings),
            detail="; ".join(findings)[:2000],
        )
        self._inbox.put(result)
        new = [f for f in findings if f not in self._reported]
        if new:
            self._reported.update(new)
            self.kill_switches += 1
            self._inbox.put(
                SetKillSwitch(
                    ts_event=now,
                    ts_init=now,
                    engaged=True,
                    reason=f"reconciliation with {self.venue}: {new[0]}",
                    source="reconcile",
                )
            )
        return result
