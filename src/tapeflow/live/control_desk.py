"""The kernel side of the control socket: answers kill requests once the node has handled them, flattens
positions after a kill, and reads the node's state for ``status``.

The socket (``tapeflow.live.control``) never touches the node: it puts events into the inbox
(``SetKillSwitch`` with ``source="control#N"``, ``FlattenPositions``) and waits for this component to report what
happened. That keeps every operator action on the kernel's queue, in order with market data and order reports, and
in the audit trail.

How a kill is answered: the node assembly adds extra components after the risk engine, so this component sees a
``SetKillSwitch`` after the engine has acted on it. It then schedules its answer at the same event time; the
engine's ``KillSwitchChanged`` (and ``KillSwitchPersistFailed``, if the state file could not be written) were
emitted before, so they are dispatched, and seen here, before the answer is settled. No ``KillSwitchChanged`` with
our source means the switch was already engaged: the answer says so, with 0 orders cancelled.

How flattening works: once no order of any strategy but ``FLATTEN_STRATEGY`` is open (the kill's cancels are
acknowledged), one market order per non-zero position, for its full size on the opposite side. Each report
re-examines: a position that is still open when its order closed gets another order (a partial fill, a venue
reject, a market order the book had no liquidity for), until ``MAX_ROUNDS`` orders in a row for a symbol filled
nothing; then ``PositionsFlattened`` says whether every position is zero. An order that filled something starts the
count again: the position shrank, so this ends. After an order that filled nothing the next waits ``RETRY_NS`` of
event time, doubling: sent at once it meets the same empty book (a market order the venue cancelled for want of
liquidity), and the rounds ran out within a quarter of a second. The risk engine checks each such order itself
(``RiskEngine.closes_position``): this component cannot pass anything else through the kill switch.

A venue may refuse a kill's cancel while the order works on (one that reached it before the order did, a cancel
during a replace). This desk sends no cancel of its own: the orders a flatten waits for are exactly the ones the
kill switch's chase covers (``tapeflow.risk.kill_cancels``: every order open at the engage; an engaged switch lets
no other order through but the flatten's own, which nobody cancels), and the chase sends them again (after a
backoff, at the venue's accept, when it comes back up) and raises ``KillSwitchCancelFailed`` when the venue keeps
refusing. So the flatten never gives up on such an order while the switch is engaged: it waits for it to close
(the control socket answers "still under way" meanwhile).

A reset of the switch stops a flatten in flight. The operator has handed the orders back to their strategies:
nothing cancels the kill's orders again (the chase is released), so waiting for them to close could last the rest
of the run, and a flatten order sent after the reset would close a position the strategies now trade. From the
reset on the flatten sends nothing (a symbol waiting for its next round is dropped), but a flatten order already
sent is followed to its end (its fill or close, or its refusal by risk when it had not reached risk before the
reset): the answer is given, and ``PositionsFlattened`` emitted, only once none is left in flight, so no order this
desk sent goes untracked and the answer's ``orders`` counts every one. Its ``reason`` says the flatten was stopped
by the reset (and names the positions still open); a warning is logged at the reset, and ``snapshot`` (the control
socket's ``status``) shows ``flatten_stopped`` with that reason while the last orders are awaited.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tapeflow.model.enums import OrderType, Side
from tapeflow.model.events import Event
from tapeflow.model.orders import OrderReport, RiskRejected, SubmitOrder
from tapeflow.model.risk_events import (
    FLATTEN_STRATEGY,
    FlattenPositions,
    KillSwitchChanged,
    KillSwitchPersistFailed,
    PositionsFlattened,
    SetKillSwitch,
)

if TYPE_CHECKING:
    from tapeflow.engine.kernel import Kernel
    from tapeflow.node.assembly import TradingNode

MAX_ROUNDS = 5
"""Flatten orders in a row per symbol that may fill nothing: a venue that keeps refusing them is not asked forever."""

RETRY_NS = 1_000_000_000
"""Event time between a flatten order that filled nothing and the next one for its symbol, doubled after each
further one (1, 2, 4, 8 s): a simulated book takes our own earlier fills off its visible level until it moves."""

Reply = dict[str, Any]
Answer = Callable[[Reply], None]

log = logging.getLogger(__name__)


class _Kill:
    __slots__ = ("answer", "changed", "persist_error")

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.changed: KillSwitchChanged | None = None
        self.persist_error = ""


class _Flatten:
    __slots__ = ("answer", "held", "inflight", "orders", "rounds", "source", "stopped", "waited", "waiting")

    def __init__(self, source: str, answer: Answer | None) -> None:
        self.source = source
        self.answer = answer
        self.orders = 0
        self.rounds: dict[str, int] = {}
        """symbol -> flatten orders in a row that filled nothing (or are in flight)."""
        self.held: dict[str, int] = {}
        """symbol -> the position when its last flatten order was sent (a smaller one now: that order filled)."""
        self.inflight: dict[str, str] = {}
        """symbol -> client order id of its flatten order not yet closed (or not yet seen by the execution engine)."""
        self.waiting: set[str] = set()
        """Symbols whose next flatten order waits ``RETRY_NS`` (the last one filled nothing)."""
        self.waited: set[str] = set()
        """Symbols whose wait is over: their next order goes out at once."""
        self.stopped = ""
        """Why the flatten was stopped (a reset of the kill switch): it sends nothing more and ends once the orders
        in ``inflight`` have closed."""


class ControlDesk:
    """A kernel component (pass it in ``extra=``), then ``bind`` it to the built node.

    ``expect_kill``/``expect_flatten`` register an answer callback for a request the socket is about to put into the
    inbox; callbacks run on the kernel's thread (the event loop, for a live node), each exactly once."""

    def __init__(self) -> None:
        self._node: TradingNode | None = None
        self._kernel: Kernel | None = None
        self._kills: dict[str, _Kill] = {}
        self._flatten_answers: dict[str, Answer] = {}
        self._job: _Flatten | None = None
        self._settling: _Kill | None = None
        self.flattened: list[PositionsFlattened] = []

    def bind(self, node: TradingNode) -> None:
        """The node whose kill switch, orders and positions this desk reads (``LiveNode(...).node``)."""
        self._node = node

    @property
    def ready(self) -> bool:
        """On a kernel and bound to its node: requests can be answered."""
        return self._kernel is not None and self._node is not None

    @property
    def node(self) -> TradingNode:
        assert self._node is not None, "ControlDesk used before bind(node)"
        return self._node

    # -- component ----------------------------------------------------------------------------------------------

    def attach(self, kernel: Kernel) -> None:
        self._kernel = kernel
        kernel.subscribe(SetKillSwitch, self._on_set)
        kernel.subscribe(KillSwitchChanged, self._on_changed)
        kernel.subscribe(KillSwitchPersistFailed, self._on_persist_failed)
        kernel.subscribe(FlattenPositions, self._on_flatten)
        kernel.subscribe(OrderReport, self._on_report)
        kernel.subscribe(RiskRejected, self._on_report)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        """A run that ends with requests unanswered answers them: the node will not handle them any more."""
        for token in list(self._kills):
            self._kills.pop(token).answer({"ok": False, "error": "the node stopped before it handled the kill"})
        for token in list(self._flatten_answers):
            answer = self._flatten_answers.pop(token)
            answer({"done": False, "flat": False, "orders": 0, "reason": "the node stopped"})

    @property
    def kernel(self) -> Kernel:
        assert self._kernel is not None, "ControlDesk used before it was added to a kernel"
        return self._kernel

    # -- requests (the socket's side, on the kernel's thread) -----------------------------------------------------

    def expect_kill(self, source: str, answer: Answer) -> None:
        self._kills[source] = _Kill(answer)

    def expect_flatten(self, source: str, answer: Answer) -> None:
        self._flatten_answers[source] = answer

    def forget(self, source: str) -> None:
        """The asker gave up waiting: drop its callbacks (the request itself still takes effect)."""
        self._kills.pop(source, None)
        self._flatten_answers.pop(source, None)

    # -- kill -----------------------------------------------------------------------------------------------------

    def _on_set(self, event: SetKillSwitch) -> None:
        kill = self._kills.get(event.source)
        if kill is not None and event.engaged:
            self.kernel.call_at(self.kernel.now, self._settle, event.source)
            self._settling = kill

    def _on_changed(self, event: KillSwitchChanged) -> None:
        kill = self._kills.get(event.source)
        if kill is not None:
            kill.changed = event
        job = self._job
        if not event.engaged and job is not None and not job.stopped:
            self._stop(job, event.reason)

    def _on_persist_failed(self, event: KillSwitchPersistFailed) -> None:
        if self._settling is not None:
            self._settling.persist_error = f"{event.error} ({event.path})"

    def _settle(self, source: str) -> None:
        self._settling = None
        kill = self._kills.pop(source, None)
        if kill is None:
            return
        state = self.node.risk.kill_switch
        changed = kill.changed
        kill.answer(
            {
                "ok": True,
                "engaged": state.engaged,
                "already_engaged": changed is None,
                "cancelled_orders": 0 if changed is None else changed.cancelled_orders,
                "reason": state.state.reason,
                "source": state.state.source,
                "state_file": None if state.state_file is None else str(state.state_file),
                "persisted": state.state_file is not None and not kill.persist_error,
                "persist_error": kill.persist_error or None,
            }
        )

    # -- flatten --------------------------------------------------------------------------------------------------

    def _on_flatten(self, event: FlattenPositions) -> None:
        if self._job is not None:
            busy = "a flatten stopped by a reset still waits for its orders in flight" if self._job.stopped else ""
            self._finish(event.source, False, 0, busy or "a flatten is already running")
            return
        if not self.node.risk.kill_switch.engaged:
            self._finish(event.source, False, 0, "the kill switch is not engaged: flatten only after a kill")
            return
        self._job = _Flatten(event.source, self._flatten_answers.pop(event.source, None))
        self._advance()

    def _on_report(self, event: Event) -> None:
        if self._job is not None:
            # only our own order's refusal frees its symbol: a strategy's order refused by the kill switch is on
            # the same symbol, and taking it for ours sent a second flatten order while the first was in flight
            # (which risk refuses, and the rounds ran out before the first one's fill came back)
            if isinstance(event, RiskRejected) and self._job.inflight.get(event.symbol) == event.client_order_id:
                del self._job.inflight[event.symbol]
            self._advance()

    def _advance(self) -> None:
        job = self._job
        assert job is not None
        node = self.node
        execution = node.execution
        for symbol, cid in list(job.inflight.items()):
            order = execution.order(cid)
            if order is not None and not order.is_open:
                del job.inflight[symbol]
        if job.stopped:
            if not job.inflight:  # every order sent is over: only now is the answer complete
                self._end_stopped(job)
            return
        if any(o.strategy_id != FLATTEN_STRATEGY for o in execution.open_orders()):
            return  # the kill's cancels are not all acknowledged yet: a fill may still change a position
        left: list[str] = []
        for view in node.portfolio.positions():
            symbol = view.symbol
            if view.quantity == 0 or symbol in job.inflight or symbol in job.waiting:
                continue
            rounds = job.rounds.get(symbol, 0)
            progress = abs(view.quantity) < abs(job.held.get(symbol, view.quantity))
            if progress:
                rounds = 0  # the last order filled something
            if rounds >= MAX_ROUNDS:
                left.append(f"{symbol} {view.quantity:+d}")
                continue
            if rounds and not progress and symbol not in job.waited:
                job.waiting.add(symbol)
                self.kernel.call_at(self.kernel.now + (RETRY_NS << (rounds - 1)), self._retry, (job, symbol))
                continue
            job.waited.discard(symbol)
            job.rounds[view.symbol] = rounds + 1
            job.held[view.symbol] = view.quantity
            job.inflight[view.symbol] = self._send(view.symbol, view.quantity, job.source)
            job.orders += 1
        if job.inflight or job.waiting:
            return
        why = f"still open after {MAX_ROUNDS} orders in a row that filled nothing: {', '.join(left)}" if left else ""
        self._job = None
        self._finish(job.source, not left, job.orders, why, job.answer)

    def _stop(self, job: _Flatten, reason: str) -> None:
        """The switch was reset: send nothing more, wait only for the flatten orders already sent (docstring)."""
        job.stopped = f"the kill switch was reset ({reason})"
        job.waiting.clear()  # their retry timers find the flatten stopped and do nothing
        pending = ", ".join(f"{cid} ({symbol})" for symbol, cid in sorted(job.inflight.items()))
        log.warning(
            "flatten %s stopped: %s; %s",
            job.source,
            job.stopped,
            f"waiting for its orders still in flight: {pending}" if pending else "no order of it in flight",
        )
        self._advance()

    def _end_stopped(self, job: _Flatten) -> None:
        left = [f"{view.symbol} {view.quantity:+d}" for view in self.node.portfolio.positions() if view.quantity]
        why = f"stopped: {job.stopped}" + (f"; still open: {', '.join(left)}" if left else "")
        self._job = None
        self._finish(job.source, not left, job.orders, why, job.answer)

    def _retry(self, item: tuple[_Flatten, str]) -> None:
        job, symbol = item
        if self._job is not job or job.stopped:
            return  # that flatten is over, or stopped by a reset
        job.waiting.discard(symbol)
        job.waited.add(symbol)
        self._advance()

    def _send(self, symbol: str, held: int, source: str) -> str:
        node = self.node
        cid = node.order_ids.next(FLATTEN_STRATEGY)
        now = self.kernel.now
        self.kernel.emit(
            SubmitOrder(
                ts_event=now,
                ts_init=now,
                strategy_id=FLATTEN_STRATEGY,
                client_order_id=cid,
                symbol=symbol,
                side=Side.SELL if held > 0 else Side.BUY,
                order_type=OrderType.MARKET,
                quantity=abs(held),
                reason=f"flatten after kill ({source})",
            )
        )
        return cid

    def _finish(self, source: str, flat: bool, orders: int, why: str, answer: Answer | None = None) -> None:
        now = self.kernel.now
        event = PositionsFlattened(ts_event=now, ts_init=now, flat=flat, orders=orders, reason=why, source=source)
        self.flattened.append(event)
        self.kernel.emit(event)
        answer = answer if answer is not None else self._flatten_answers.pop(source, None)
        if answer is not None:
            answer({"done": True, "flat": flat, "orders": orders, "reason": why or None})

    # -- status ---------------------------------------------------------------------------------------------------

    def snapshot(self) -> Reply:
        """The kill switch, open orders and positions as plain JSON values (prices in 1/10,000 dollar)."""
        node = self.node
        state = node.risk.kill_switch.state
        orders = [
            {
                "client_order_id": o.client_order_id,
                "strategy_id": o.strategy_id,
                "symbol": o.symbol,
                "side": o.side.value,
                "quantity": o.quantity,
                "filled": o.filled_quantity,
                "price": o.price,
                "status": o.status.value,
            }
            for o in node.execution.open_orders()
        ]
        positions = [
            {"symbol": p.symbol, "quantity": p.quantity, "realized": p.realized, "unrealized": p.unrealized}
            for p in node.portfolio.positions()
            if p.quantity
        ]
        return {
            "kill_switch": {
                "engaged": state.engaged,
                "reason": state.reason,
                "source": state.source,
                "ts": state.ts,
            },
            "open_orders": orders,
            "positions": positions,
            "flattening": self._job is not None,
            "flatten_stopped": (self._job.stopped or None) if self._job is not None else None,
            "risk": {"passed": node.risk.passed, "rejected": node.risk.rejected},
        }
