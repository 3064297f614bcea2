"""The kill switch's cancels, kept going until every order they cover is closed.

One cancel per open order at the engage is not enough on a network venue: a venue that is down answers it with a
refusal (``tapeflow.execution.venue.refusal``), a REST call can fail after every retry, and an order still in
flight (the venue has not named it yet) cannot be cancelled yet. Each of those left the order working at the venue
while the switch said engaged. So while the switch is engaged, every order it covers (open at the engage, or at a
restart found engaged) that is still open gets a cancel whenever that can change:

- at the engage (exactly the cancels sent before this module existed);
- when its venue comes (back) up (``VenueConnected`` / ``VenueReconnected``): the cancels sent before the drop
  were answered or lost with the session (an adapter reconciles before it announces the up), so every such order
  at that venue gets a new one, unless one went out after the drop and is still unanswered (an adapter that was
  up a moment before it said so took it);
- when a report shows it open (``OrderAccepted``: an order in flight at the engage that the venue has now taken)
  and no cancel of ours is working;
- when one of its cancels is refused while the venue is up: again on a kernel timer, the wait doubling from
  ``retry_ns`` up to ``max_retry_ns``; after ``max_attempts`` refusals in a row a ``KillSwitchCancelFailed`` alarm
  (and an error log) names the order, and the retries stop until the venue next comes up or accepts the order.
  The timing is a ``ChaseTiming``, from ``[risk.kill_switch]`` in a node's configuration.

An up and an accept are the two reports that the venue's view of the order changed, so each starts the count of
refusals again, before the alarm and after it: the refusals counted were of a session now gone or of an order the
venue did not name yet (the usual cause of the alarm: "no order under this id" while the order was in flight), and
a cancel of an order the venue now holds is the one most likely to be taken. After the alarm an accept therefore
sends a cancel (if none is working: the one-working-cancel rule holds) and, refused again, retries it with the same
backoff up to another alarm, as after an up; an order the venue keeps refusing is then named again, never chased
without end (each round needs a new up or accept).

At most one cancel is working per order (a refusal ends it, a drop of its venue's session ends it; a cancel
another component sends through risk for the order counts as the working one); an order that closes is forgotten.
Only kernel time is used, so a replay decides the same. Its handlers are gated on there being an order to chase
(``Kernel.subscribe_while``): a run whose switch never engages pays nothing, and one whose venue takes every cancel
(any backtest on the simulated exchange that refuses none) sends exactly the engage's.
Orders sent after the engage (the flatten orders an engaged switch lets through) are never chased.

A cancel that is never answered (no report, no refusal, its venue up) is not sent again on a timer: it may still
be working (the live adapter refuses a cancel whose REST call failed; one the venue took is answered on the order
stream), and a second would be two cancels out for one order, whose refusal ("already pending cancel") names the
order, not the cancel, so it would end the wrong one here. What can lose an answer is a lost stream message, and
that is the reconciliation's to find (after every reconnect, and when the stream shows a change only REST
describes); its next venue up sends it again here. Instead, once a working cancel (ours, or another component's
counted as ours) has had no answer for ``unanswered_ns`` of event time with its venue up, a
``KillSwitchCancelUnanswered`` alarm (and an error log) names the order, once per order: the operator learns that
an order the switch covers may still be working, which no refusal would have said. The watch is a callback-only
kernel timer per working cancel (cancelled by its refusal, the drop of its venue, its order's close or a reset, so
a live node is not woken for it; dropped at the end of a backtest like every timer), so a replay alarms at the same
event time.

The wait for an answer starts when the venue can answer, i.e. when the cancel leaves the node. For a venue whose
``send`` hands the cancel over at once (the simulated exchange) that is the send; a network adapter's ``send`` only
queues it for its REST thread, which writes one request at a time, so a large kill's last cancels wait there for
all those ahead of them. Such a venue (``reports_cancel_sent``, given here as ``queued``) posts ``CancelSent`` as
each cancel leaves, and the watch starts then: cancels still queued raise no no-answer alarm, however long the kill.
A cancel stuck in the node is not silent either, by a rule of its own: when the venue's sender has handed over none
of the switch's waiting cancels (no ``CancelSent`` of that venue) for ``unsent_ns``, every cancel of ours still
waiting there gets the no-answer alarm with ``sent=False`` (once per order, like the other), ``waited_ns`` counting
from its queueing. Progress, not age, is the test: a long kill on a sender that keeps writing never alarms, a sender
that hangs (or whose requests keep failing and being retried) does. The rule's timer is one per venue, armed while a
cancel waits and looked at again only when it comes due. A ``CancelSent`` is matched to the order's working cancel
by the order's id: one for a cancel that went out before a drop of the venue and was queued before a new one could
be sent after the up starts the new one's wait a little early (the old one is ahead of it in the same queue).

This is the one place that cancels a kill's orders again: the control desk's flatten (``tapeflow.live.control_desk``)
waits for these same orders to close and sends no cancel of its own. A cancel another component does send for a
chased order (its strategy's) passes risk, which tells ``sent`` so: it is then the order's working cancel.

Why this module is long: every rule above (resend, retry, the two alarms) reads and changes the one record per
order, ``Chase``, at the same transitions (sent, refused, dropped, closed); split, each half would reach into the
other's records.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from tapeflow.model.orders import (
    CancelOrder,
    CancelRejected,
    CancelSent,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderReport,
)
from tapeflow.model.risk_events import KillSwitchCancelFailed, KillSwitchCancelUnanswered
from tapeflow.model.venue_events import VenueConnected, VenueDisconnected, VenueReconnected

if TYPE_CHECKING:
    from tapeflow.engine.kernel import Kernel
    from tapeflow.engine.timers import Timer
    from tapeflow.execution.engine import OrderRoute
    from tapeflow.execution.orders import Order

log = logging.getLogger(__name__)

RETRY_NS: Final = 100_000_000
"""First wait before a refused kill-switch cancel is sent again (0.1 s of event time)."""
MAX_RETRY_NS: Final = 5_000_000_000
"""Longest wait between two tries (5 s): the doubling stops there."""
MAX_ATTEMPTS: Final = 5
"""Refusals in a row, while the venue is up, before the alarm (and the pause until the venue next comes up)."""
UNANSWERED_NS: Final = 10_000_000_000
"""How long a working cancel may go without an answer, its venue up, before the ``KillSwitchCancelUnanswered``
alarm (10 s of event time: a venue answers a cancel within a second; a reconnect's reconciliation, which finds a
lost answer, takes a few)."""
UNSENT_NS: Final = 30_000_000_000
"""How long a venue's sender may hand over none of the switch's waiting cancels before each is named by the
no-answer alarm with ``sent=False`` (30 s of event time: a REST cancel takes well under a second, a request retried
after every failure of ``tapeflow.live.order_sender``'s backoff a few seconds, a hung one far longer)."""


@dataclass(frozen=True, slots=True)
class ChaseTiming:
    """How the chase retries a refused cancel and how long it waits for an answer before the alarm
    (``[risk.kill_switch] cancel_*`` in a node's configuration).

    Checked here, where it is built, so a configuration and a hand-made engine are held to the one rule; the config
    loader turns the ``ValueError`` into its one-line ``ConfigError``."""

    retry_ns: int = RETRY_NS
    max_retry_ns: int = MAX_RETRY_NS
    max_attempts: int = MAX_ATTEMPTS
    unanswered_ns: int = UNANSWERED_NS
    unsent_ns: int = UNSENT_NS

    def __post_init__(self) -> None:
        if self.retry_ns <= 0 or self.max_retry_ns < self.retry_ns or self.max_attempts < 1:
            raise ValueError(
                f"kill-switch cancel retries need 0 < first wait ({self.retry_ns} ns) <= longest wait "
                f"({self.max_retry_ns} ns) and at least 1 refusal before the alarm (got {self.max_attempts})"
            )
        if self.unanswered_ns <= 0 or self.unsent_ns <= 0:
            raise ValueError(
                f"the waits for a kill-switch cancel's answer ({self.unanswered_ns} ns) and for its venue's sender "
                f"({self.unsent_ns} ns) must be positive"
            )


@dataclass(slots=True)
class Chase:
    """One order the switch must see closed: where its cancel stands."""

    venue: str
    working: bool = False
    """A cancel of ours was sent and has not been refused (nor lost with its venue's session)."""
    refusals: int = 0
    """Cancels refused in a row while the venue was up (reset when the venue comes up)."""
    retry_at: int = 0
    """Event time of the pending retry (0: none); a timer firing at another time is stale."""
    gave_up: bool = False
    """The alarm was raised: no more retries until the venue next comes up or accepts the order."""
    watch: Timer | None = None
    """The timer that raises the no-answer alarm if the working cancel is still unanswered when it comes due."""
    unanswered: bool = False
    """The no-answer alarm was raised for this order (once per order)."""
    sent: bool = False
    """The working cancel has left the node (``CancelSent``, or handed to a venue that does not queue): the venue
    can answer it, so the no-answer watch runs."""
    queued_at: int = 0
    """Event time the working cancel was handed to its venue client."""


DEFAULT_TIMING: Final = ChaseTiming()
"""The chase's timing when none is configured."""


class KillCancels:
    """Chases the kill switch's cancels (see the module docstring); owned by the risk engine.

    ``send`` hands a cancel on (the engine counts it and routes it); ``is_up(venue)`` says whether the node holds
    that venue's session up (a venue that never disconnects always is); ``timing`` how refusals are retried;
    ``queued`` the venues whose ``send`` only queues a cancel and that post ``CancelSent`` when it leaves.
    """

    def __init__(
        self,
        route: OrderRoute,
        send: Callable[[CancelOrder], None],
        is_up: Callable[[str], bool],
        timing: ChaseTiming = DEFAULT_TIMING,
        queued: Collection[str] = (),
    ) -> None:
        self._route = route
        self._send = send
        self._is_up = is_up
        self.retry_ns = timing.retry_ns
        self.max_retry_ns = timing.max_retry_ns
        self.max_attempts = timing.max_attempts
        self.unanswered_ns = timing.unanswered_ns
        self.unsent_ns = timing.unsent_ns
        self.queued = frozenset(queued)
        """The venues that queue their cancels and report each leaving with ``CancelSent``."""
        self._stalls: dict[str, Timer] = {}
        """Venue -> the timer of its sender's rule (module docstring), armed while a cancel of ours may wait there."""
        self._handed: dict[str, int] = {}
        """Venue -> event time of its last ``CancelSent`` (the sender's last progress)."""
        self.chasing: dict[str, Chase] = {}
        """Client order id -> its chase, for orders the switch covers that may still be open."""
        self.resent = 0
        """Cancels sent after the engage's (on a venue up, an accept, a retry)."""
        self.alarms = 0
        """``KillSwitchCancelFailed`` alarms raised."""
        self.unanswered = 0
        """``KillSwitchCancelUnanswered`` alarms raised, sent or not. The three counters are in ``RiskEngine.stats()
        ["kill_switch"]`` (``cancels_resent``, ``cancel_alarms``, ``cancels_unanswered``), hence in a node's stats,
        the live snapshot, console and dashboard, and ``tapeflow backtest``'s engine table."""
        self._kernel: Kernel | None = None

    def attach(self, kernel: Kernel) -> None:
        self._kernel = kernel
        chasing = self.chasing
        kernel.subscribe_while(CancelRejected, self.on_refused, chasing)
        kernel.subscribe_while(OrderAccepted, self.on_accepted, chasing)
        kernel.subscribe_while(CancelSent, self.on_handed, chasing)
        kernel.subscribe_while(VenueConnected, self.on_up, chasing)
        kernel.subscribe_while(VenueReconnected, self.on_up, chasing)
        kernel.subscribe_while(VenueDisconnected, self.on_down, chasing)
        for closing in (OrderCancelled, OrderFilled, OrderExpired, OrderRejected):
            kernel.subscribe_while(closing, self.on_report, chasing)

    @property
    def kernel(self) -> Kernel:
        assert self._kernel is not None, "KillCancels used before its risk engine was added to a kernel"
        return self._kernel

    # -- from the engine ----------------------------------------------------------------------------------------

    def engage(self) -> int:
        """A cancel for every open order, each chased from now on; how many."""
        orders = list(self._route.open_orders())
        for order in orders:
            chase = self.chasing[order.client_order_id] = Chase(order.venue)
            self._cancel(order, chase)
        return len(orders)

    def sent(self, client_order_id: str) -> None:
        """A cancel for ``client_order_id`` passed risk from elsewhere (its strategy's): it is the one working, and
        the pending retry waits for its answer instead of sending a second."""
        chase = self.chasing.get(client_order_id)
        if chase is not None:
            chase.retry_at = 0
            self._working(client_order_id, chase)

    def release(self) -> None:
        """The switch was reset: stop chasing (pending retries find nothing and do nothing)."""
        for chase in self.chasing.values():
            self._answered(chase)  # no answer is awaited any more: a live node need not wake for the watch
        self.chasing.clear()
        for stall in self._stalls.values():
            stall.cancel()
        self._stalls.clear()

    # -- events -------------------------------------------------------------------------------------------------

    def on_refused(self, event: CancelRejected) -> None:
        cid = event.client_order_id
        chase, order = self._open(cid)
        if chase is None or order is None:
            return
        self._answered(chase)
        if not self._is_up(chase.venue) or chase.gave_up or chase.retry_at:
            return  # down: its next up sends one; a retry is already due
        chase.refusals += 1
        if chase.refusals >= self.max_attempts:
            self._alarm(order, chase, event.reason)
            return
        now = self.kernel.now
        chase.retry_at = now + min(self.retry_ns << (chase.refusals - 1), self.max_retry_ns)
        self.kernel.call_at(chase.retry_at, self._retry, cid)

    def on_accepted(self, event: OrderAccepted) -> None:
        chase, order = self._open(event.client_order_id)
        if chase is not None and order is not None and not chase.working and self._is_up(chase.venue):
            self._start_over(chase)  # the venue holds the order now: earlier refusals no longer count (docstring)
            self._cancel(order, chase, again=True)

    def on_up(self, event: VenueConnected | VenueReconnected) -> None:
        venue = event.venue
        for cid in [cid for cid, chase in self.chasing.items() if chase.venue == venue]:
            chase, order = self._open(cid)
            if chase is None or order is None:
                continue
            self._start_over(chase)
            if not chase.working:  # one working now was sent after the drop, into the session just come up
                self._cancel(order, chase, again=True)

    def on_down(self, event: VenueDisconnected) -> None:
        for chase in self.chasing.values():
            if chase.venue == event.venue:
                self._answered(chase)  # lost with the session, or answered before the up: the up sends again

    def on_handed(self, event: CancelSent) -> None:
        """A queued cancel leaves for the venue: its sender moved on, and the venue can answer it from now."""
        now = self.kernel.now
        self._handed[event.venue] = now
        cid = event.client_order_id
        chase, order = self._open(cid)
        if chase is not None and order is not None and chase.working and not chase.sent:
            chase.sent = True
            self._watch(cid, chase)

    def on_report(self, event: OrderReport) -> None:
        self._open(event.client_order_id)  # forgets it when closed

    # -- inside -------------------------------------------------------------------------------------------------

    def _open(self, cid: str) -> tuple[Chase | None, Order | None]:
        """The chase of ``cid`` and its order while both exist and the order is open; forgets a closed one."""
        chase = self.chasing.get(cid)
        if chase is None:
            return None, None
        order = self._route.order(cid)
        if order is None or not order.is_open:
            self._answered(chase)
            del self.chasing[cid]
            return None, None
        return chase, order

    @staticmethod
    def _start_over(chase: Chase) -> None:
        """The venue's view of the order changed (an up, an accept): a new round of tries, the alarm re-armed."""
        chase.refusals, chase.gave_up, chase.retry_at = 0, False, 0

    @staticmethod
    def _answered(chase: Chase) -> None:
        """Nothing to wait for: its working cancel is over (refused, lost with the venue's session), its order
        closed, or the chase was released."""
        chase.working = chase.sent = False
        if chase.watch is not None:
            chase.watch.cancel()
            chase.watch = None

    def _working(self, cid: str, chase: Chase) -> None:
        """A cancel for ``cid`` was just handed to its venue client: its wait for an answer starts now, or, at a
        venue that queues it, when it leaves (``on_handed``), the venue's sender watched meanwhile."""
        chase.working = True
        venue = chase.venue
        if venue not in self.queued:
            chase.sent = True
            self._watch(cid, chase)
            return
        chase.sent = False
        chase.queued_at = now = self.kernel.now
        if chase.watch is not None:  # the last cancel's wait is over; this one's starts when it leaves
            chase.watch.cancel()
            chase.watch = None
        if venue not in self._stalls:
            self._stalls[venue] = self.kernel.set_timer(
                "risk.kill_cancel_sender", at=now + self.unsent_ns, tick=partial(self._stalled, venue)
            )

    def _stalled(self, venue: str, now: int) -> None:
        """The sender rule's timer came due: alarm for the cancels still waiting if the sender handed none over
        for ``unsent_ns``, else look again ``unsent_ns`` after its last hand-over."""
        del self._stalls[venue]
        waiting = [cid for cid, c in self.chasing.items() if c.venue == venue and c.working and not c.sent]
        if not waiting:
            return
        last = self._handed.get(venue)
        if last is not None and last + self.unsent_ns > now:
            self._stalls[venue] = self.kernel.set_timer(
                "risk.kill_cancel_sender", at=last + self.unsent_ns, tick=partial(self._stalled, venue)
            )
            return
        if not self._is_up(venue):
            return  # its drop ended them (and its up sends new ones): kept for a venue whose drop is not heard yet
        for cid in waiting:
            chase, order = self._open(cid)
            if chase is not None and order is not None and not chase.unanswered:
                self._silent(order, chase, now - chase.queued_at, sent=False)

    def _watch(self, cid: str, chase: Chase) -> None:
        """Wait ``unanswered_ns`` for the answer to the cancel just sent (the last one sent is the one watched)."""
        if chase.unanswered:
            return  # alarmed once for this order already
        if chase.watch is not None:
            chase.watch.cancel()
        kernel = self.kernel
        chase.watch = kernel.set_timer(
            "risk.kill_cancel_answer", at=kernel.now + self.unanswered_ns, tick=partial(self._unanswered, cid)
        )

    def _unanswered(self, cid: str, _now: int) -> None:
        chase, order = self._open(cid)
        if chase is None or order is None:
            return  # closed (or released) meanwhile
        chase.watch = None
        if not chase.working or not chase.sent or chase.unanswered or not self._is_up(chase.venue):
            return
        self._silent(order, chase, self.unanswered_ns, sent=True)

    def _silent(self, order: Order, chase: Chase, waited_ns: int, *, sent: bool) -> None:
        """The no-answer alarm, once per order: the venue did not answer the cancel it had (``sent``), or the
        cancel never left the node."""
        chase.unanswered = True
        self.unanswered += 1
        where = (
            "has had no answer for %d ms while the venue was up"
            if sent
            else "has waited %d ms in the node for the venue's sender, which handed over none of the kill's cancels"
        )
        log.error(
            "kill switch: the cancel of order %s (%s at %s) "
            + where
            + "; the order may still be working: check it at the venue and cancel it by hand (no second cancel is "
            "sent while one may be working)",
            order.client_order_id,
            order.symbol,
            chase.venue,
            waited_ns // 1_000_000,
        )
        self._emit_alarm(KillSwitchCancelUnanswered, order, chase, waited_ns=waited_ns, sent=sent)

    def _retry(self, cid: str) -> None:
        chase, order = self._open(cid)
        if chase is None or order is None or chase.retry_at != self.kernel.now:
            return  # closed, released, or replaced by a later decision
        chase.retry_at = 0
        if not chase.working and self._is_up(chase.venue):
            self._cancel(order, chase, again=True)

    def _cancel(self, order: Order, chase: Chase, *, again: bool = False) -> None:
        if again:
            self.resent += 1
        self._working(order.client_order_id, chase)
        self._send(order.cancel_at(self.kernel.now))

    def _alarm(self, order: Order, chase: Chase, reason: str) -> None:
        chase.gave_up = True
        self.alarms += 1
        log.error(
            "kill switch: the cancel of order %s (%s at %s) was refused %d times while the venue was up (last: %s); "
            "the order may still be working: cancel it at the venue by hand; tried again when the venue next "
            "comes up or accepts the order",
            order.client_order_id,
            order.symbol,
            chase.venue,
            chase.refusals,
            reason,
        )
        self._emit_alarm(KillSwitchCancelFailed, order, chase, attempts=chase.refusals, reason=reason)

    def _emit_alarm(
        self,
        kind: type[KillSwitchCancelFailed | KillSwitchCancelUnanswered],
        order: Order,
        chase: Chase,
        **detail: Any,
    ) -> None:
        """Either alarm, naming the order the same way: ``detail`` is what the kind adds."""
        now = self.kernel.now
        self.kernel.emit(
            kind(
                ts_event=now,
                ts_init=now,
                strategy_id=order.strategy_id,
                client_order_id=order.client_order_id,
                symbol=order.symbol,
                venue=chase.venue,
                **detail,
            )
        )
