"""Bracket, OCO and trailing-stop orders, emulated on the strategy side (as NautilusTrader's OrderEmulator does).

Why here and not at the venue. Contingency is a relation between orders, and every order must pass risk: a
bracket's two exits sent to a venue at once are two sells against one long position, which the risk engine must
count as if both filled (a short it has no locate for). So stop-type legs (stop-loss, trailing stop) are held here,
watching the market the strategy sees, and only reach risk and the venue when they trigger, as a market order
(a limit order for a stop-limit) with the same client order id. Limit legs (take-profit) rest at the venue like any
order. Each child is a plain ``SubmitOrder`` on the kernel queue, so risk sees it like any other; a refusal comes
back as ``RiskRejected`` to the strategy. A venue adapter with native brackets (Alpaca's ``order_class``
bracket/oco, ``trailing_stop``) can map a ``Leg`` pair one to one later; the simulated exchange needs nothing new.

A leg, its state and its group are ``legs``. The rules (each tested in ``tests/venues/test_contingent.py``):

- **Bracket**: the children activate when the entry is done (filled, or cancelled/expired/rejected after a
  partial fill), sized to the filled quantity; an entry that ends with nothing filled never activates them. A
  partially filled entry still working leaves its shares unprotected until it ends: cancel it to protect them.
  The children share the position (one-cancels-other with reduction): a take-profit fill shrinks the stop by the
  same shares, and its last share cancels the stop. A triggered stop first cancels the take-profit and sends its
  market order when the venue confirms, for what the take-profit did not close; it never sells shares the
  take-profit sold meanwhile (fail closed: the price of that is one round trip to the venue).
- **OCO**: both legs activate at once; the first fill of either, even partial, cancels the other. A stop leg that
  triggers first cancels the other and is released when that cancel is confirmed; if the other leg fills before,
  it wins and the stop is cancelled.
- **Trailing stop**: the stop follows the best favourable reference (best bid for a sell, best ask for a buy, as
  the book shows after each quote or book update; the price of each print; a bar's high, or low, after its
  opposite extreme was checked against the old stop) at a fixed offset or a percentage in basis points, and never
  moves back. It triggers when the reference reaches the stop and goes out as a market order, so a gap through
  the stop fills at the market, not at the stop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from tapeflow.execution.legs import HELD, Group, Leg, LegState, LegStatus
from tapeflow.model.enums import OrderType, Side, TimeInForce
from tapeflow.model.errors import ConfigError
from tapeflow.model.events import Event
from tapeflow.model.market import (
    Bar,
    BookDelta,
    BookSnapshot,
    OrderAdded,
    OrderDeleted,
    OrderExecuted,
    OrderReduced,
    OrderReplaced,
    Quote,
    Trade,
)
from tapeflow.model.orders import (
    CancelOrder,
    ContingentUpdate,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    RiskRejected,
    SubmitOrder,
)
from tapeflow.model.prices import NO_PRICE

if TYPE_CHECKING:
    from tapeflow.book.keeper import AnyBook
    from tapeflow.engine.kernel import Kernel

_BOOK_EVENTS: Final = (BookDelta, BookSnapshot, OrderAdded, OrderExecuted, OrderReduced, OrderDeleted, OrderReplaced)
_REPORTS: Final = (OrderFilled, OrderCancelled, OrderExpired, OrderRejected, RiskRejected)


class OrderEmulator:
    """Holds one strategy's contingent orders; sends their children through the kernel queue (so through risk).

    Commands go on the kernel queue stamped now; ``book_of`` reads the book the strategy sees. Reports are subscribed
    when the strategy is attached (before the strategy's own handlers: a child is on its way before the strategy
    hears of the fill that released it); market data only once a stop is armed.
    """

    def __init__(self, strategy_id: str, book_of: Callable[[str], AnyBook | None]) -> None:
        self.strategy_id = strategy_id
        self._book_of = book_of
        self._kernel: Kernel | None = None
        self._legs: dict[str, LegState] = {}
        self._entries: dict[str, Group] = {}
        """Brackets whose entry is still working, by the entry's id."""
        self._groups: dict[str, Group] = {}
        """Every bracket and OCO registered, by id; never emptied. Only ``bracket`` and ``oco`` add entries or legs,
        and each adds its group here, so while this is empty there is nothing a report could concern."""
        self._armed: dict[str, list[LegState]] = {}
        self._watching = False

    def attach(self, kernel: Kernel) -> None:
        self._kernel = kernel
        # heard only once a bracket or OCO exists (``_groups``, see there): most strategies never make one, and
        # every fill of theirs would cost a call that finds nothing (issue 19; the compiled kernel tests the dict)
        for report in _REPORTS:
            kernel.subscribe_while(report, self.on_report, self._groups)

    @property
    def kernel(self) -> Kernel:
        assert self._kernel is not None, "the order emulator is used before its strategy was added to a kernel"
        return self._kernel

    # -- requests from the strategy -----------------------------------------------------------------------------

    def bracket(self, entry: str, symbol: str, children: list[tuple[str, Leg]]) -> Group:
        """Register a bracket whose entry (id ``entry``) the strategy sends itself; children wait for it to end."""
        group = Group(entry, symbol, entry=entry, reduce=True)
        for cid, leg in children:
            self._add(group, cid, leg)
        self._entries[entry] = group
        self._groups[group.gid] = group
        return group

    def oco(self, symbol: str, legs: list[tuple[str, Leg]]) -> Group:
        group = Group(legs[0][0], symbol)
        self._groups[group.gid] = group
        for cid, leg in legs:
            self._add(group, cid, leg)
        for state in group.legs:
            self._activate(state, state.quantity)
        return group

    def hold(self, symbol: str, cid: str, leg: Leg) -> Group:
        """A lone emulated stop (a trailing stop): a group of one."""
        return self.oco(symbol, [(cid, leg)])

    def cancel(self, cid: str) -> bool:
        """Cancel a leg held here (True); False when the order is not held here (the venue decides)."""
        state = self._legs.get(cid)
        if state is None or state.status not in HELD:
            return False
        self._drop(state, "cancelled by the strategy")
        return True

    def modify(self, cid: str, quantity: int, stop_price: int) -> bool:
        """Change a held leg's size or stop (``NO_PRICE``: keep it), say so (``UPDATED``); False when the order is
        not held here (the venue decides; a triggered stop is on its way there). A trailing stop trails on from the
        new stop. A bracket child still waiting for its entry is sized by the entry's fills when it activates."""
        state = self._legs.get(cid)
        if state is None or state.status not in (LegStatus.WAITING, LegStatus.ARMED):
            return False
        if quantity <= 0:
            raise ConfigError(
                f"modify {cid}: quantity {quantity} must be a positive number of shares", field="quantity"
            )
        state.quantity = quantity
        if stop_price != NO_PRICE:
            state.stop = stop_price
        state.reason = "modified by the strategy"
        self._update(state, "UPDATED")
        return True

    def held(self, symbol: str | None = None) -> list[str]:
        """Ids of the legs held here (waiting, armed or triggered), not at a venue: what ``cancel`` ends locally."""
        return [
            cid
            for cid, state in self._legs.items()
            if state.status in HELD and (symbol is None or state.group.symbol == symbol)
        ]

    def leg(self, cid: str) -> LegState | None:
        return self._legs.get(cid)

    def group(self, gid: str) -> Group | None:
        """The bracket or OCO of an entry or leg id."""
        state = self._legs.get(gid)
        return self._groups.get(gid) or (state.group if state is not None else None)

    # -- internals ----------------------------------------------------------------------------------------------

    def _add(self, group: Group, cid: str, leg: Leg) -> None:
        state = LegState(cid, leg, group)
        group.legs.append(state)
        self._legs[cid] = state

    def _activate(self, state: LegState, quantity: int) -> None:
        state.quantity = quantity
        if not state.leg.emulated:
            self._send(state)
            return
        state.status = LegStatus.ARMED
        book = self._book_of(state.group.symbol)
        if state.leg.trailing and book is not None:
            ref = book.best_bid if state.side is Side.SELL else book.best_ask
            if ref:
                state.follow(ref)
        self._armed.setdefault(state.group.symbol, []).append(state)
        self._watch()
        self._update(state, "ARMED")

    def _watch(self) -> None:
        if self._watching:
            return
        self._watching = True
        kernel = self.kernel
        kernel.subscribe(Quote, self._on_book)
        kernel.subscribe(Trade, self._on_trade)
        kernel.subscribe(Bar, self._on_bar)
        for t in _BOOK_EVENTS:
            kernel.subscribe(t, self._on_book)

    def _disarm(self, state: LegState) -> None:
        armed = self._armed.get(state.group.symbol)
        if armed is not None and state in armed:
            armed.remove(state)

    def _drop(self, state: LegState, reason: str) -> None:
        """End a leg that is not at a venue (waiting, armed or triggered) and say so."""
        self._disarm(state)
        state.status = LegStatus.DONE
        state.reason = reason
        self._update(state, "CANCELLED")

    def _end(self, state: LegState, reason: str) -> None:
        """Stop the leg wherever it is: locally, or by a cancel through the venue."""
        if state.status is LegStatus.SENT:
            if state.cancel_sent:
                return
            state.cancel_sent = True
            now = self.kernel.now
            state.reason = reason
            self.kernel.emit(
                CancelOrder(
                    ts_event=now,
                    ts_init=now,
                    strategy_id=self.strategy_id,
                    client_order_id=state.cid,
                    symbol=state.group.symbol,
                )
            )
        elif state.status is not LegStatus.DONE:
            self._drop(state, reason)

    def _send(self, state: LegState) -> None:
        leg = state.leg
        if leg.emulated:  # a triggered stop goes out as a market order (a limit one for a stop-limit)
            order_type, price = (OrderType.LIMIT, leg.price) if leg.price != NO_PRICE else (OrderType.MARKET, NO_PRICE)
        else:
            order_type, price = OrderType.LIMIT, leg.price
        state.status = LegStatus.SENT
        now = self.kernel.now
        self.kernel.emit(
            SubmitOrder(
                ts_event=now,
                ts_init=now,
                strategy_id=self.strategy_id,
                client_order_id=state.cid,
                symbol=state.group.symbol,
                side=leg.side,
                order_type=order_type,
                quantity=state.quantity,
                price=price,
                time_in_force=leg.time_in_force if order_type is OrderType.LIMIT else TimeInForce.DAY,
                reason=f"{'stop' if leg.emulated else 'limit'} leg of {state.group.gid}",
            )
        )

    def _update(self, state: LegState, status: str) -> None:
        now = self.kernel.now
        self.kernel.emit(
            ContingentUpdate(
                ts_event=now,
                ts_init=now,
                strategy_id=self.strategy_id,
                client_order_id=state.cid,
                symbol=state.group.symbol,
                status=status,
                quantity=state.quantity,
                stop_price=state.stop,
                group_id=state.group.gid,
                reason=state.reason,
            )
        )

    # -- reports ------------------------------------------------------------------------------------------------

    def on_report(self, event: Event) -> None:
        cid: str = event.client_order_id  # type: ignore[attr-defined]
        group = self._entries.get(cid)
        if group is not None:
            self._on_entry(group, event)
            return
        state = self._legs.get(cid)
        if state is None or state.status is not LegStatus.SENT:
            return
        if isinstance(event, OrderFilled):
            state.filled += event.quantity
            if event.leaves_quantity == 0:
                state.status = LegStatus.DONE
            self._on_leg_fill(state, event.quantity)
        elif isinstance(event, (OrderCancelled, OrderExpired, OrderRejected, RiskRejected)):
            state.status = LegStatus.DONE
            state.reason = state.reason or type(event).__name__
            self._release_waiting(state.group)

    def _on_entry(self, group: Group, event: Event) -> None:
        if isinstance(event, OrderFilled):
            group.entry_filled += event.quantity
            if event.leaves_quantity:
                return
        elif not isinstance(event, (OrderCancelled, OrderExpired, OrderRejected, RiskRejected)):
            return
        del self._entries[group.entry]  # the entry is done: nothing it reports later changes the children
        live = [state for state in group.legs if state.status is not LegStatus.DONE]  # the strategy may cancel one
        if group.entry_filled == 0:
            for state in live:
                self._drop(state, f"entry {group.entry} ended unfilled ({type(event).__name__})")
            return
        for state in live:
            self._activate(state, group.entry_filled)

    def _on_leg_fill(self, state: LegState, shares: int) -> None:
        other = state.group.other(state)
        if other is None or other.status is LegStatus.DONE:
            return
        if not state.group.reduce:
            self._end(other, f"OCO: {state.cid} filled")
            return
        if other.status is LegStatus.TRIGGERED:
            if state.status is LegStatus.DONE:  # the take-profit closed it all while the stop waited
                self._release_waiting(state.group)
            return  # else the stop waits for this leg's cancel, and then sends only what is left
        other.quantity -= min(shares, other.quantity)
        if other.quantity == 0:
            self._drop(other, f"bracket: {state.cid} filled the position")

    def _release_waiting(self, group: Group) -> None:
        """A sibling ended: a stop that triggered and waited for it goes out now, for what is left to close."""
        for state in group.legs:
            if state.status is not LegStatus.TRIGGERED:
                continue
            if group.reduce:
                other = group.other(state)
                state.quantity = max(0, group.entry_filled - (other.filled if other is not None else 0))
            elif any(o.filled for o in group.legs if o is not state):
                self._drop(state, "OCO: the other leg filled first")
                continue
            if state.quantity == 0:
                self._drop(state, "nothing left to close")
            else:
                self._send(state)

    # -- market -------------------------------------------------------------------------------------------------

    def _on_book(self, event: Event) -> None:
        armed = self._armed.get(event.symbol)  # type: ignore[attr-defined]
        if not armed:
            return
        book = self._book_of(event.symbol)  # type: ignore[attr-defined]
        if book is None:
            return
        bid, ask = book.best_bid, book.best_ask
        for state in list(armed):
            ref = bid if state.side is Side.SELL else ask
            if ref:
                self._observe(state, ref, ref)

    def _on_trade(self, trade: Trade) -> None:
        armed = self._armed.get(trade.symbol)
        if armed:
            for state in list(armed):
                self._observe(state, trade.price, trade.price)

    def _on_bar(self, bar: Bar) -> None:
        armed = self._armed.get(bar.symbol)
        if armed:
            for state in list(armed):
                sell = state.side is Side.SELL
                # the order of a bar's extremes is unknown: the adverse one is checked against the stop as it
                # stood, the favourable one only moves the stop for later bars
                self._observe(state, bar.high if sell else bar.low, bar.low if sell else bar.high)

    def _observe(self, state: LegState, favourable: int, adverse: int) -> None:
        if state.reached(adverse):
            self._trigger(state)
        elif state.leg.trailing:
            state.follow(favourable)

    def _trigger(self, state: LegState) -> None:
        self._disarm(state)
        state.status = LegStatus.TRIGGERED
        self._update(state, "TRIGGERED")
        other = state.group.other(state)
        if other is not None and other.status is LegStatus.SENT:
            self._end(other, f"{state.cid} triggered")  # released when the venue confirms (``_release_waiting``)
            return
        if other is not None and other.status is not LegStatus.DONE:
            self._drop(other, f"{state.cid} triggered")
        self._send(state)


__all__ = ["Group", "Leg", "LegState", "LegStatus", "OrderEmulator"]
