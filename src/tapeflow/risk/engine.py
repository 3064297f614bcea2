"""The pre-trade risk engine: the only path from a strategy's command to a venue.

Strategies put ``SubmitOrder`` / ``ModifyOrder`` / ``CancelOrder`` on the queue; this engine is their only
subscriber. A submit or modify runs through the rules in order (cheapest first) and stops at the first failure,
which becomes a ``RiskRejected`` event for the strategy; a command that passes every rule goes to the execution
engine. A modify is checked as the order it would become. Cancels are never blocked: reducing risk must always be
possible (the message-rate throttle counts them all the same).

The kill switch is checked before any rule. When it engages (by hand: ``kill``, a ``SetKillSwitch`` event, the
signal file; or by a trip rule: runaway, repeated rejects, loss) the engine records a ``KillSwitchChanged`` event
and sends a ``CancelOrder`` for every open order straight to the execution engine; while it stays engaged those
orders are chased until they close (``tapeflow.risk.kill_cancels``: a cancel refused, or one their venue could not
take while down, is sent again). Limits change at run time only through ``UpdateRiskLimit`` events, answered by
``RiskLimitsChanged``.

One new order passes an engaged kill switch, skipping the rules too: a market order of ``FLATTEN_STRATEGY`` that
brings its symbol's position exactly to zero, the only one in flight (``closes_position``): it can only reduce.

Why this module is long: the kill switch (engage, persist, reset, the flatten exception) overrides the pipeline, so
it sits beside it rather than behind another layer of calls.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from tapeflow.execution.venue import Command
from tapeflow.model.enums import MarketStatus, OrderType, Side
from tapeflow.model.events import TimerFired, TradingStatus
from tapeflow.model.market import Bar, Quote
from tapeflow.model.orders import (
    CancelOrder,
    ModifyOrder,
    OrderCancelled,
    OrderCommand,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderUpdated,
    RiskRejected,
    SubmitOrder,
)
from tapeflow.model.risk_events import (
    FLATTEN_STRATEGY,
    KillSwitchChanged,
    KillSwitchPersistFailed,
    RiskLimitsChanged,
    SetKillSwitch,
    UpdateRiskLimit,
)
from tapeflow.risk.context import RiskContext, proposed_order
from tapeflow.risk.fast import compile_check, compile_modify_check
from tapeflow.risk.kill_cancels import DEFAULT_TIMING, ChaseTiming, KillCancels
from tapeflow.risk.killswitch import INVALID, KillSwitch, describe
from tapeflow.risk.order_rules import MaxOrderQuantity
from tapeflow.risk.rules import FLOW, RiskRule, TripRule, Violation
from tapeflow.risk.venue_rules import VenueConnectivity

if TYPE_CHECKING:
    from tapeflow.engine.kernel import Kernel
    from tapeflow.execution.engine import OrderRoute

# enum members bound once: reading one through its class (``Side.BUY``) took about 0.1 us on CPython 3.11 here,
# a plain class attribute 0.03, and the rules compare against them on every order (issue 19)
_BUY = Side.BUY
_MARKET = OrderType.MARKET
_TRADING = MarketStatus.TRADING


__all__ = ["MaxOrderQuantity", "RiskEngine", "RiskRule", "TripRule", "Violation"]

KILL_SWITCH = "kill_switch"
log = logging.getLogger(__name__)
_REPORTS = (OrderFilled, OrderCancelled, OrderExpired, OrderRejected, OrderUpdated)


class RiskEngine:
    def __init__(
        self,
        execution: OrderRoute,
        rules: Sequence[RiskRule] = (),
        *,
        context: RiskContext | None = None,
        kill_switch: KillSwitch | None = None,
        trips: Sequence[TripRule] = (),
        fused: bool = True,
        chase: ChaseTiming = DEFAULT_TIMING,
        queued: Collection[str] = (),
    ) -> None:
        """``queued``: the venues whose ``send`` only queues a command for a sender that posts ``CancelSent`` as a
        cancel leaves (``tapeflow.execution.venue.reports_cancel_sent``): the kill switch's chase waits for the
        venue's answer from there (``tapeflow.risk.kill_cancels``)."""
        self._execution = execution
        self.rules = list(rules)
        self.context = context if context is not None else RiskContext(orders=execution)
        self.kill_switch = kill_switch if kill_switch is not None else KillSwitch()
        self.trips = list(trips)
        self._open_entries = self.context.ledger.entries()
        self.fused = fused
        """False runs every submit rule by rule (the reference the fused path is tested against)."""
        self._kernel: Kernel | None = None
        self.recompile()
        self.passed = 0
        self.rejected = 0
        self.rejections_by_rule: dict[str, int] = {}
        self.kill_events: list[KillSwitchChanged] = []
        self.persist_failures = 0
        """Kill switch states that could not be written (each one a ``KillSwitchPersistFailed`` alarm)."""
        self.kill_cancels = KillCancels(execution, self._pass_cancel, self._venue_up, chase, queued)
        """The engaged switch's cancels, chased until their orders close."""
        self._chasing = self.kill_cancels.chasing

    def recompile(self) -> None:
        """Rebuild what is derived from the rules: the fused check, commit and cancel hooks, the trip plan.

        Called at construction and after every accepted limit change; call it after changing ``rules`` or a
        rule's limits by hand (limits are meant to change only through ``UpdateRiskLimit``).
        """
        self._commits = [r.commit for r in self.rules if hasattr(r, "commit")]
        self._cancel_hooks = [r.on_cancel for r in self.rules if hasattr(r, "on_cancel")]
        execute = self._execution.execute
        self._check, self._rest = compile_check(self.rules, self.trips, self.context, self, execute)
        self._check_modify, self._rest_modify = compile_modify_check(
            self.rules, self.trips, self.context, self, execute
        )

    # -- component ----------------------------------------------------------------------------------------------

    def attach(self, kernel: Kernel) -> None:
        self._kernel = kernel
        kernel.subscribe(OrderCommand, self.on_command)  # type: ignore[arg-type]  # each OrderCommand is a Command
        kernel.subscribe(TradingStatus, self.on_status)
        kernel.subscribe(SetKillSwitch, self.on_set_kill_switch)
        kernel.subscribe(UpdateRiskLimit, self.on_update_limit)
        for report in _REPORTS:
            kernel.subscribe(report, self.on_report)
        for moves_a_mark in (OrderFilled, Quote, Bar):
            kernel.subscribe(moves_a_mark, self.context.moved.append)
        self.kill_cancels.attach(kernel)

    def on_start(self) -> None:
        kernel = self.kernel
        self.context.begin(kernel.now, False)
        self.context.daily_loss()  # the day's baseline equity
        state = self.kill_switch.state
        if self.kill_switch.restored:
            if state.source == INVALID:
                log.error("%s", state.reason)
            self._announce(state.reason, "restored", state.rule, self._cancel_all())
        ks = self.kill_switch
        if ks.signal_file is not None:
            kernel.set_timer("risk.kill_signal", interval=ks.check_ns, callback=self._on_signal_timer)

    def on_stop(self) -> None:
        return None

    @property
    def kernel(self) -> Kernel:
        assert self._kernel is not None, "RiskEngine used before it was added to a kernel"
        return self._kernel

    # -- commands -----------------------------------------------------------------------------------------------

    def on_command(self, command: Command) -> None:
        kernel = self._kernel
        assert kernel is not None, "RiskEngine used before it was added to a kernel"
        now = kernel.now  # not through the ``kernel`` property: one call less on every command
        ks = self.kill_switch
        if ks.signal_file is not None and now >= ks.next_check and ks.signalled(now):
            self.kill(f"signal file {ks.signal_file} present", source="signal_file")
        if (
            type(command) is SubmitOrder
            and self.fused
            and not ks.state.engaged
            and self._check(command, now)
            and (not self._rest or self._pass_fused(command, now))
        ):
            return
        if type(command) is ModifyOrder and self.fused and not ks.state.engaged:
            # the single rule path for a modify too, checked as the order it would leave working; an unknown or
            # closed order (None) goes on below, unchecked, as before
            proposed = proposed_order(command, self._execution.order(command.client_order_id))
            if (
                proposed is not None
                and self._check_modify(proposed, now, command)
                and (not self._rest_modify or self._pass_fused(proposed, now, command))
            ):
                return
        if type(command) is CancelOrder:
            # the message bucket refills to the cancel's own time before it spends: from the time of the last
            # order it would spend from the bucket as it was before a pause, and the refill after the pause
            # (capped at the burst) would erase that spend, letting a burst plus a cancel through at once
            self.context.now = now
            for hook in self._cancel_hooks:
                hook(command)
            if self._chasing:  # only while the kill switch chases an order: its cancel is working now
                self.kill_cancels.sent(command.client_order_id)
            self.passed += 1
            self._execution.execute(command)
            return
        ctx = self.context
        order: SubmitOrder
        if type(command) is ModifyOrder:
            proposed = proposed_order(command, self._execution.order(command.client_order_id))
            if proposed is None:  # unknown or closed: nothing to check, the venue answers with a reject
                self.passed += 1
                self._execution.execute(command)
                return
            order = proposed
            ctx.begin(now, True)
        else:
            order = command  # type: ignore[assignment]
            ctx.begin(now, False)
        violation: Violation | None = None
        failed: Any = None
        if ks.state.engaged:
            if not self.closes_position(order):
                violation = Violation(reason=f"kill switch engaged: {ks.state.reason}", value=ks.state.source)
        else:
            for rule in self.rules:
                violation = rule.check(order)
                if violation is not None:
                    failed = rule
                    break
        if violation is None:
            for commit in self._commits:
                commit(order)
            self.passed += 1
            ctx.ledger.add(
                order.strategy_id, order.client_order_id, order.symbol, order.side, order.quantity, ctx.ref_price(order)
            )
            self._execution.execute(command)
        elif failed is None:
            self._reject(order, KILL_SWITCH, FLOW, violation)
        else:
            self._reject(order, failed.name, failed.stage, violation)
        if self.trips and not ks.state.engaged:
            for trip in self.trips:
                reason = trip.observe(order, violation is not None, ctx)
                if reason is not None:
                    self.kill(reason, source="rule", rule=trip.name)
                    break

    def closes_position(self, order: SubmitOrder) -> bool:
        """A marked market order for the full position, opposite side, none other in flight: it can only reduce."""
        held = self.context.portfolio.quantity(order.symbol) if self.context.portfolio is not None else 0
        signed = order.quantity if order.side is _BUY else -order.quantity
        if order.strategy_id != FLATTEN_STRATEGY or order.order_type is not _MARKET or held + signed or not held:
            return False
        return next(self._execution.open_orders(order.symbol, FLATTEN_STRATEGY), None) is None

    def _pass_fused(self, order: SubmitOrder, now: int, modify: ModifyOrder | None = None) -> bool:
        """A submit (or the order a ``modify`` would leave) the fused check passed, with rules it does not know:
        those rules, then what a pass does.

        False when one of them refuses: nothing has been spent, the ordered pipeline decides (and names it).
        """
        ctx = self.context
        ctx.begin(now, modify is not None)
        for rule in self._rest if modify is None else self._rest_modify:
            if rule.check(order) is not None:
                return False
        for commit in self._commits:
            commit(order)
        self.passed += 1
        ctx.ledger.add(
            order.strategy_id, order.client_order_id, order.symbol, order.side, order.quantity, ctx.ref_price(order)
        )
        self._execution.execute(order if modify is None else modify)
        if self.trips and not self.kill_switch.state.engaged:
            self.observe_pass(order, ctx)
        return True

    def observe_pass(self, order: SubmitOrder, ctx: RiskContext) -> None:
        """The trip rules after a passed submit, in their order (the fast path's, when a trip has no fast part)."""
        for trip in self.trips:
            reason = trip.observe(order, False, ctx)
            if reason is not None:
                self.kill(reason, source="rule", rule=trip.name)
                return

    def _reject(self, command: SubmitOrder, rule: str, stage: str, violation: Violation) -> None:
        self.rejected += 1
        self.rejections_by_rule[rule] = self.rejections_by_rule.get(rule, 0) + 1
        now = self.kernel.now
        self.kernel.emit(
            RiskRejected(
                ts_event=now,
                ts_init=now,
                strategy_id=command.strategy_id,
                client_order_id=command.client_order_id,
                symbol=command.symbol,
                stage=stage,
                rule=rule,
                reason=violation.reason,
                limit=violation.limit,
                value=violation.value,
            )
        )

    # -- kill switch --------------------------------------------------------------------------------------------

    def kill(self, reason: str, *, source: str = "manual", rule: str = "") -> bool:
        """Engage the kill switch: stop new orders, cancel every open order, record, then persist.

        False when it was already on. In that order so that nothing waits on the disk: a state that cannot be
        written (read-only path, full disk) leaves the switch engaged and raises an alarm
        (``KillSwitchPersistFailed``, logged at error) instead of stopping the run before the cancels.
        """
        ks = self.kill_switch
        if not ks.engage(reason, source, self.kernel.now, rule):
            return False
        self._announce(reason, source, rule, self._cancel_all())
        error = ks.persist()
        if error is not None:
            self._persist_failed(error, "engage")
        return True

    def reset_kill_switch(self, reason: str) -> bool:
        """Release the kill switch on purpose (persisted first, recorded); a release that cannot be written
        does not happen (it stays engaged, with a ``KillSwitchPersistFailed`` alarm)."""
        try:
            released = self.kill_switch.reset(reason, self.kernel.now)
        except OSError as exc:
            self._persist_failed(exc, "reset")
            return False
        if not released:
            return False
        self.kill_cancels.release()
        now = self.kernel.now
        event = KillSwitchChanged(ts_event=now, ts_init=now, engaged=False, reason=reason, source="reset")
        self.kill_events.append(event)
        self.kernel.emit(event)
        return True

    def _persist_failed(self, error: OSError, action: str) -> None:
        ks = self.kill_switch
        path = str(ks.state_file)
        text = describe(error)
        self.persist_failures += 1
        log.error(
            "kill switch state not written to %s (%s, on %s): the switch stays %s; fix the path and engage again",
            path,
            text,
            action,
            "engaged" if ks.engaged else "off",
        )
        now = self.kernel.now
        self.kernel.emit(
            KillSwitchPersistFailed(
                ts_event=now, ts_init=now, path=path, error=text, action=action, engaged=ks.state.engaged
            )
        )

    def _cancel_all(self) -> int:
        return self.kill_cancels.engage()

    def _pass_cancel(self, cancel: CancelOrder) -> None:
        """A kill-switch cancel, straight to execution: it skips the rules and hooks (reducing risk always passes)."""
        self.passed += 1
        self._execution.execute(cancel)

    def _venue_up(self, venue: str) -> bool:
        """Whether the node holds ``venue``'s session up: the connectivity rule's view, when one is wired (only for
        venues that can disconnect); a venue nobody guards cannot go down."""
        for rule in self.rules:
            if type(rule) is VenueConnectivity:
                return venue not in rule.down
        return True

    def _announce(self, reason: str, source: str, rule: str, cancelled: int) -> None:
        now = self.kernel.now
        event = KillSwitchChanged(
            ts_event=now,
            ts_init=now,
            engaged=True,
            reason=reason,
            source=source,
            rule=rule,
            cancelled_orders=cancelled,
        )
        self.kill_events.append(event)
        self.kernel.emit(event)

    def _on_signal_timer(self, event: TimerFired) -> None:
        ks = self.kill_switch
        if not ks.engaged and ks.signalled(event.ts_init):
            self.kill(f"signal file {ks.signal_file} present", source="signal_file")

    def on_set_kill_switch(self, event: SetKillSwitch) -> None:
        if event.engaged:
            self.kill(event.reason, source=event.source)
        else:
            self.reset_kill_switch(event.reason)

    # -- events -------------------------------------------------------------------------------------------------

    def on_status(self, event: TradingStatus) -> None:
        status = self.context.status
        if event.status is _TRADING:
            status.pop(event.symbol, None)
        else:
            status[event.symbol] = event.status

    def on_report(self, event: Any) -> None:
        cid: str = event.client_order_id
        if cid in self._open_entries:  # the ledger's live mapping: a dict lookup, not ``__contains__``'s frame
            self.context.ledger.update(cid, self._execution.order(cid))

    def on_update_limit(self, event: UpdateRiskLimit) -> None:
        rule = next((r for r in self.rules if r.name == event.rule), None)
        accepted, old, why = False, None, event.reason
        if rule is None or not hasattr(rule, "set_limit"):
            why = f"no rule named {event.rule!r} with updatable limits"
        else:
            try:
                old = rule.set_limit(event.field, event.value, event.symbol)
                accepted = True
            except ValueError as exc:
                why = str(exc)
            self.recompile()
        now = self.kernel.now
        self.kernel.emit(
            RiskLimitsChanged(
                ts_event=now,
                ts_init=now,
                rule=event.rule,
                field=event.field,
                symbol=event.symbol,
                old=old,
                new=event.value if accepted else old,
                accepted=accepted,
                reason=why,
            )
        )

    def stats(self) -> dict[str, Any]:
        state = self.kill_switch.state
        return {
            "passed": self.passed,
            "rejected": self.rejected,
            "rejections_by_rule": dict(sorted(self.rejections_by_rule.items())),
            "kill_switch": {
                "engaged": state.engaged,
                "reason": state.reason,
                "source": state.source,
                "ts": state.ts,
                "persist_failures": self.persist_failures,
                "cancels_resent": self.kill_cancels.resent,
                "cancel_alarms": self.kill_cancels.alarms,
                "cancels_unanswered": self.kill_cancels.unanswered,
            },
        }
