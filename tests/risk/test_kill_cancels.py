"""The kill switch always halts: its cancels are chased until every order it covers is closed, and an order whose
cancel goes unanswered is named.

Each test drives a kernel with the connectivity rule and the risk engine over a scripted venue that can be down
(refusing every command at once, as ``AlpacaVenue`` does), refuse cancels while up, take a cancel and never answer
it (a lost stream message), or hold an order in flight.
"""

from __future__ import annotations

import logging

import pytest

from tapeflow.engine.kernel import Kernel
from tapeflow.execution.engine import ExecutionEngine
from tapeflow.execution.venue import Command, refusal
from tapeflow.model import CancelOrder, Event, OrderType, Side, SubmitOrder
from tapeflow.model.orders import CancelRejected, CancelSent, OrderAccepted, OrderCancelled
from tapeflow.model.risk_events import FLATTEN_STRATEGY, KillSwitchCancelFailed, KillSwitchCancelUnanswered
from tapeflow.model.venue_events import VenueConnected, VenueDisconnected, VenueReconnected
from tapeflow.risk.engine import RiskEngine
from tapeflow.risk.kill_cancels import DEFAULT_TIMING, RETRY_NS, UNANSWERED_NS, UNSENT_NS, ChaseTiming
from tapeflow.risk.venue_rules import VenueConnectivity
from tests.risk.helpers import BID, MS, SYM, T0

VENUE = "PAPER"
LATENCY = 1 * MS
NOT_NAMED = "the venue has no order under this client order id"


class ScriptedVenue:
    """A venue that can disconnect: down, it refuses every command at once; up, it answers after ``LATENCY``."""

    name = VENUE
    always_connected = False

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.up = False
        self.sent: list[tuple[int, Command]] = []
        self.refuse_cancels = 0
        """Cancels to refuse while up (-1: all of them)."""
        self.hold_accepts = False
        """Submits stay in flight (no accept) until ``accept`` is called: a cancel meanwhile is refused."""
        self.named: set[str] = set()
        self.working: set[str] = set()
        self.cancel_latency = LATENCY
        """How long a cancel the venue takes waits for its answer."""
        self.swallow_cancels = 0
        """Cancels to take while up and never answer, as a lost stream message leaves them (-1: all of them)."""

    def send(self, command: Command) -> None:
        now = self.kernel.now
        self.sent.append((now, command))
        cid = command.client_order_id
        if not self.up:
            self.kernel.emit(refusal(command, VENUE, "disconnected", now))
            return
        later = now + LATENCY
        if isinstance(command, SubmitOrder):
            self.working.add(cid)
            if not self.hold_accepts:
                self.accept(cid, at=later)
        elif isinstance(command, CancelOrder):
            if cid not in self.named:
                self.kernel.emit(refusal(command, VENUE, NOT_NAMED, later))
            elif self.refuse_cancels:
                self.refuse_cancels -= 1 if self.refuse_cancels > 0 else 0
                self.kernel.emit(refusal(command, VENUE, "503: service unavailable", later))
            elif self.swallow_cancels:
                self.swallow_cancels -= 1 if self.swallow_cancels > 0 else 0
            else:
                self.working.discard(cid)
                done = now + self.cancel_latency
                self.kernel.emit(
                    OrderCancelled(ts_event=done, ts_init=done, strategy_id="s", client_order_id=cid, symbol=SYM)
                )

    def accept(self, cid: str, *, at: int) -> None:
        self.named.add(cid)
        self.kernel.emit(
            OrderAccepted(ts_event=at, ts_init=at, strategy_id="s", client_order_id=cid, symbol=SYM, venue=VENUE)
        )

    def cancels(self, since: int = 0) -> list[tuple[int, str]]:
        return [(ts, c.client_order_id) for ts, c in self.sent if isinstance(c, CancelOrder) and ts >= since]


class QueuedVenue(ScriptedVenue):
    """A venue whose ``send`` only queues a cancel for a sender thread, as ``AlpacaVenue``'s does: while
    ``holding``, cancels wait in ``held`` (a sender busy or stuck); ``release`` lets them leave one by one, each
    announced by ``CancelSent`` before the venue sees it, as the adapter posts it before the request's write."""

    reports_cancel_sent = True

    def __init__(self, kernel: Kernel) -> None:
        super().__init__(kernel)
        self.holding = False
        self.held: list[CancelOrder] = []

    def send(self, command: Command) -> None:
        if self.up and isinstance(command, CancelOrder):
            if self.holding:
                self.held.append(command)
            else:
                self._leave(command)
            return
        super().send(command)

    def release(self, start: int, every: int) -> None:
        """The held cancels leave in their order, the first at ``start``, then one every ``every`` ns."""
        held, self.held, self.holding = self.held, [], False
        for i, command in enumerate(held):
            self.kernel.call_at(start + i * every, self._leave, command)

    def _leave(self, command: CancelOrder) -> None:
        now = self.kernel.now
        self.kernel.emit(
            CancelSent(
                ts_event=now,
                ts_init=now,
                strategy_id=command.strategy_id,
                client_order_id=command.client_order_id,
                symbol=command.symbol,
                venue=VENUE,
            )
        )
        super().send(command)


class Node:
    """Kernel, execution, the connectivity rule (first, as the node wires it) and the risk engine; ``queued``: over
    a ``QueuedVenue``, which the risk engine is told queues its cancels (as the node's assembly tells it)."""

    def __init__(self, chase: ChaseTiming = DEFAULT_TIMING, *, queued: bool = False) -> None:
        self.kernel = Kernel()
        self.venue = QueuedVenue(self.kernel) if queued else ScriptedVenue(self.kernel)
        self.execution = ExecutionEngine([self.venue])  # type: ignore[list-item]
        self.connectivity = VenueConnectivity([VENUE], VENUE)
        self.risk = RiskEngine(self.execution, [self.connectivity], chase=chase, queued=[VENUE] if queued else ())
        self.seen: list[Event] = []
        self.kernel.subscribe(Event, self.seen.append)
        self.kernel.add(self.execution)
        self.kernel.add(self.connectivity)
        self.kernel.add(self.risk)
        self.kernel.start(at=T0)
        self.n = 0

    def at(self, ts: int, *events: Event) -> None:
        """Deliver ``events`` at ``ts`` and everything scheduled up to it."""
        self.kernel.advance(ts)
        if events:
            self.kernel.run(list(events))
        self.kernel.advance(ts)

    def connect(self, ts: int, *, again: bool = False) -> None:
        self.venue.up = True
        kind = VenueReconnected if again else VenueConnected
        self.at(ts, kind(ts_event=ts, ts_init=ts, venue=VENUE))

    def disconnect(self, ts: int) -> None:
        self.venue.up = False
        self.at(ts, VenueDisconnected(ts_event=ts, ts_init=ts, venue=VENUE, reason="stream dropped"))

    def submit(self, ts: int, *, strategy: str = "s", side: Side = Side.BUY, market: bool = False) -> str:
        self.n += 1
        cid = f"o{self.n}"
        order = SubmitOrder(
            ts_event=ts,
            ts_init=ts,
            strategy_id=strategy,
            client_order_id=cid,
            symbol=SYM,
            side=side,
            order_type=OrderType.MARKET if market else OrderType.LIMIT,
            quantity=100,
            price=0 if market else BID,
        )
        self.at(ts, order)
        return cid

    def open_ids(self) -> list[str]:
        return sorted(o.client_order_id for o in self.execution.open_orders())

    def alarms(self) -> list[KillSwitchCancelFailed]:
        return [e for e in self.seen if isinstance(e, KillSwitchCancelFailed)]

    def silences(self) -> list[KillSwitchCancelUnanswered]:
        return [e for e in self.seen if isinstance(e, KillSwitchCancelUnanswered)]


def _one_order_working(chase: ChaseTiming = DEFAULT_TIMING) -> tuple[Node, str]:
    """The venue up and one order of ours working there (accepted, named) at ``T0 + 5 ms``."""
    node = Node(chase)
    node.connect(T0)
    cid = node.submit(T0 + 1 * MS)
    node.at(T0 + 5 * MS)
    assert node.open_ids() == [cid] and node.venue.named == {cid}
    return node, cid


def _three_orders_then_down() -> tuple[Node, list[str]]:
    node = Node()
    node.connect(T0)
    cids = [node.submit(T0 + i * MS) for i in range(1, 4)]
    node.at(T0 + 10 * MS)
    assert node.open_ids() == cids and node.venue.named == set(cids)
    node.disconnect(T0 + 20 * MS)
    return node, cids


def test_cancels_refused_while_the_venue_is_down_are_sent_again_once_each_when_it_comes_back() -> None:
    node, cids = _three_orders_then_down()
    assert node.risk.kill("reconciliation found an order nobody sent")
    node.at(T0 + 30 * MS)
    refused = [e for e in node.seen if isinstance(e, CancelRejected)]
    assert sorted(e.client_order_id for e in refused) == cids  # every engage cancel refused: the venue is down
    assert node.open_ids() == cids
    node.at(T0 + 60_000 * MS)  # no retry while down: nothing could take it
    assert len(node.venue.cancels()) == 3

    up = T0 + 61_000 * MS
    node.connect(up, again=True)
    node.at(up + 10_000 * MS)
    assert sorted(cid for _, cid in node.venue.cancels(since=up)) == cids  # each exactly once after the up
    assert all(ts == up for ts, _ in node.venue.cancels(since=up))
    assert node.open_ids() == [] and node.venue.working == set()
    cancelled = [e.client_order_id for e in node.seen if isinstance(e, OrderCancelled)]
    assert sorted(cancelled) == cids
    assert node.alarms() == [] and node.risk.kill_cancels.chasing == {}


def test_a_first_connect_after_a_restored_kill_cancels_the_restored_orders() -> None:
    """Engaged before the venue ever came up (a start reconciliation's finding): ``VenueConnected`` sends them."""
    node, cids = _three_orders_then_down()
    node.risk.kill("start reconciliation: a position our fills cannot explain")
    node.at(T0 + 30 * MS)
    node.connect(T0 + 40 * MS)  # the first-up event counts as an up too
    node.at(T0 + 100 * MS)
    assert sorted(cid for _, cid in node.venue.cancels(since=T0 + 40 * MS)) == cids
    assert node.open_ids() == []


def test_an_order_in_flight_at_the_engage_is_cancelled_as_soon_as_the_venue_accepts_it() -> None:
    node = Node()
    node.connect(T0)
    node.venue.hold_accepts = True
    cid = node.submit(T0 + 1 * MS)
    node.risk.kill("operator")
    node.at(T0 + 5 * MS)
    [refused] = [e for e in node.seen if isinstance(e, CancelRejected)]
    assert refused.reason == NOT_NAMED and node.open_ids() == [cid]
    accepted_at = T0 + 20 * MS  # before the first retry would be due (engage + latency + RETRY_NS)
    assert accepted_at < T0 + 1 * MS + LATENCY + RETRY_NS
    node.venue.accept(cid, at=accepted_at)
    node.at(accepted_at + 5 * MS)
    assert node.venue.cancels(since=accepted_at) == [(accepted_at, cid)]  # at the accept, not on a timer
    assert node.open_ids() == []
    node.at(T0 + 10_000 * MS)
    assert len(node.venue.cancels()) == 2  # the retry that was due finds the order closed: nothing more


@pytest.mark.parametrize(
    "chase",
    [ChaseTiming(), ChaseTiming(retry_ns=30 * MS, max_retry_ns=50 * MS, max_attempts=4)],
    ids=["defaults", "configured-and-capped"],
)
def test_a_cancel_refused_while_the_venue_is_up_is_retried_with_backoff_then_raises_the_alarm(
    caplog: pytest.LogCaptureFixture, chase: ChaseTiming
) -> None:
    node, cid = _one_order_working(chase)
    node.venue.refuse_cancels = -1
    engage = T0 + 10 * MS
    node.at(engage)
    with caplog.at_level(logging.ERROR, logger="tapeflow.risk.kill_cancels"):
        node.risk.kill("runaway")
        node.at(engage + 120_000 * MS)
    times = [ts - engage for ts, _ in node.venue.cancels()]
    # each refusal comes back after LATENCY; the wait doubles from the first, up to the longest
    expected = [0]
    for n in range(chase.max_attempts - 1):
        expected.append(expected[-1] + LATENCY + min(chase.retry_ns << n, chase.max_retry_ns))
    assert times == expected and len(times) == chase.max_attempts
    [alarm] = node.alarms()
    assert (alarm.client_order_id, alarm.symbol, alarm.venue, alarm.attempts) == (cid, SYM, VENUE, chase.max_attempts)
    assert alarm.reason == "503: service unavailable"
    assert alarm.ts_init == engage + expected[-1] + LATENCY
    assert [r.message for r in caplog.records if cid in r.message], "the alarm is logged, naming the order"
    counters = node.risk.stats()["kill_switch"]
    assert (counters["cancels_resent"], counters["cancel_alarms"]) == (chase.max_attempts - 1, 1)
    assert node.open_ids() == [cid]

    # the next up tries again, and this time the venue takes it
    node.venue.refuse_cancels = 0
    node.disconnect(engage + 130_000 * MS)
    up = engage + 131_000 * MS
    node.connect(up, again=True)
    node.at(up + 10 * MS)
    assert node.venue.cancels(since=up) == [(up, cid)]
    assert node.open_ids() == [] and len(node.alarms()) == 1


def test_a_refused_cancel_waits_for_the_venue_when_it_went_down_meanwhile() -> None:
    node, cid = _one_order_working()
    node.venue.refuse_cancels = 1
    node.risk.kill("operator")
    node.disconnect(T0 + 5 * MS + LATENCY // 2)  # the refusal arrives after the drop
    node.at(T0 + 60_000 * MS)
    assert len(node.venue.cancels()) == 1  # no retry into a venue that is down
    node.connect(T0 + 61_000 * MS, again=True)
    node.at(T0 + 62_000 * MS)
    assert node.open_ids() == [] and len(node.venue.cancels()) == 2 and node.alarms() == []
    assert node.venue.cancels()[-1][1] == cid


def test_orders_sent_after_the_engage_are_never_chased() -> None:
    """The flatten orders an engaged switch lets through must work: only the orders open at the engage are
    cancelled again (here one whose cancels the venue keeps refusing, so the chase is still on)."""
    node, cid = _one_order_working()
    node.venue.refuse_cancels = -1
    node.risk.kill("operator")
    node.at(T0 + 10 * MS)
    flatten = SubmitOrder(
        ts_event=T0 + 10 * MS,
        ts_init=T0 + 10 * MS,
        strategy_id=FLATTEN_STRATEGY,
        client_order_id="flat-1",
        symbol=SYM,
        side=Side.SELL,
        order_type=OrderType.MARKET,
        quantity=100,
    )
    node.execution.execute(flatten)  # as the engine passes it (closes_position), without a portfolio to ask
    node.at(T0 + 20 * MS)  # its accept is heard while the chase is on
    node.disconnect(T0 + 30 * MS)
    up = T0 + 40 * MS
    node.connect(up, again=True)
    node.at(up)
    assert node.venue.cancels(since=up) == [(up, cid)]
    node.at(T0 + 60_000 * MS)
    assert node.open_ids() == ["flat-1", cid]
    assert all(c != "flat-1" for _, c in node.venue.cancels())


def test_a_reset_stops_the_chase() -> None:
    node, cids = _three_orders_then_down()
    node.risk.kill("operator")
    node.at(T0 + 30 * MS)
    assert node.risk.reset_kill_switch("post-mortem done")
    node.connect(T0 + 40 * MS, again=True)
    node.at(T0 + 10_000 * MS)
    assert node.open_ids() == cids and len(node.venue.cancels()) == 3


def test_without_a_kill_the_chase_never_subscribes_anything_into_action() -> None:
    node, _ = _one_order_working()
    node.disconnect(T0 + 10 * MS)
    node.connect(T0 + 20 * MS, again=True)
    node.at(T0 + 1_000 * MS)
    assert node.venue.cancels() == [] and node.risk.kill_cancels.chasing == {}


def test_a_cancel_sent_through_risk_by_another_component_is_the_working_one_no_second_is_sent() -> None:
    """The strategy may cancel a refused order again at once: the chase's retry then waits for that cancel's answer
    instead of putting a second cancel out for the same order."""
    node, cid = _one_order_working()
    node.venue.refuse_cancels = 1
    node.risk.kill("operator")
    node.at(T0 + 5 * MS + LATENCY)  # refused: a retry is due RETRY_NS later
    node.venue.cancel_latency = 2 * RETRY_NS  # the next cancel is still working when that retry comes due
    again = T0 + 20 * MS
    node.at(again, CancelOrder(ts_event=again, ts_init=again, strategy_id="s", client_order_id=cid, symbol=SYM))
    node.at(T0 + 10_000 * MS)
    assert [ts for ts, _ in node.venue.cancels()] == [T0 + 5 * MS, again]
    assert node.open_ids() == [] and node.risk.kill_cancels.resent == 0


# -- after the refusal alarm, an accept starts over -------------------------------------------------------------

SHORT = ChaseTiming(retry_ns=30 * MS, max_retry_ns=50 * MS, max_attempts=3)
"""Three refusals to the alarm, so a test sees two rounds quickly."""


def _in_flight_until_the_alarm() -> tuple[Node, str]:
    """An order the venue holds in flight at the engage: each cancel is refused ("no order under this id") until the
    refusal alarm, 1 s of event time ago at most."""
    node = Node(SHORT)
    node.connect(T0)
    node.venue.hold_accepts = True
    cid = node.submit(T0 + 1 * MS)
    node.risk.kill("operator")
    node.at(T0 + 1_000 * MS)
    [alarm] = node.alarms()
    assert alarm.reason == NOT_NAMED and alarm.attempts == SHORT.max_attempts
    assert len(node.venue.cancels()) == SHORT.max_attempts and node.open_ids() == [cid]
    return node, cid


def test_after_the_refusal_alarm_an_accept_sends_a_cancel_and_retries_it_up_to_a_second_alarm() -> None:
    """The venue names the order only after the alarm and then refuses its cancels too (503): the accept's cancel is
    retried with the backoff as after an up, and a second alarm names the order; nothing more until the next up or
    accept. (Before, a refusal after the alarm was dropped: one cancel at the accept, then none.)"""
    node, cid = _in_flight_until_the_alarm()
    node.venue.refuse_cancels = -1
    accepted = node.kernel.now + 10 * MS
    node.venue.accept(cid, at=accepted)
    node.at(accepted + 60_000 * MS)
    times = [ts - accepted for ts, _ in node.venue.cancels(since=accepted)]
    assert times == [0, LATENCY + 30 * MS, 2 * LATENCY + 30 * MS + 50 * MS]  # the same backoff as the first round
    first, second = node.alarms()
    assert first.reason == NOT_NAMED and first.ts_init < accepted
    assert (second.attempts, second.reason) == (SHORT.max_attempts, "503: service unavailable")
    assert second.ts_init == accepted + times[-1] + LATENCY
    counters = node.risk.stats()["kill_switch"]
    assert (counters["cancels_resent"], counters["cancel_alarms"]) == (2 * SHORT.max_attempts - 1, 2)
    assert node.open_ids() == [cid]


def test_after_the_refusal_alarm_an_accept_whose_cancel_the_venue_takes_closes_the_order() -> None:
    node, cid = _in_flight_until_the_alarm()
    accepted = node.kernel.now + 10 * MS
    node.venue.accept(cid, at=accepted)
    node.at(accepted + 60_000 * MS)
    assert node.venue.cancels(since=accepted) == [(accepted, cid)]
    assert node.open_ids() == [] and len(node.alarms()) == 1 and node.risk.kill_cancels.chasing == {}


def test_an_accept_before_the_alarm_starts_the_count_of_refusals_again() -> None:
    """Two refusals of an order the venue did not name, then its accept: the venue refuses the named order's
    cancels too, and the alarm comes after ``max_attempts`` of those, not one refusal after the accept."""
    node = Node(SHORT)
    node.connect(T0)
    node.venue.hold_accepts = True
    cid = node.submit(T0 + 1 * MS)
    node.risk.kill("operator")
    node.at(T0 + 1 * MS + LATENCY + 30 * MS + LATENCY)  # the engage's cancel and its first retry, both refused
    assert len(node.venue.cancels()) == 2 and node.alarms() == []
    node.venue.refuse_cancels = -1
    accepted = node.kernel.now + 1 * MS
    node.venue.accept(cid, at=accepted)
    node.at(accepted + 60_000 * MS)
    assert len(node.venue.cancels(since=accepted)) == SHORT.max_attempts
    [alarm] = node.alarms()
    assert (alarm.attempts, alarm.reason) == (SHORT.max_attempts, "503: service unavailable")


# -- a cancel that is never answered -----------------------------------------------------------------------------


def test_a_kill_cancel_never_answered_raises_the_no_answer_alarm_once_and_is_not_sent_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    node, cid = _one_order_working()
    node.venue.swallow_cancels = -1
    engage = T0 + 10 * MS
    node.at(engage)
    with caplog.at_level(logging.ERROR, logger="tapeflow.risk.kill_cancels"):
        node.risk.kill("operator")
        node.at(engage + UNANSWERED_NS - 1)
        assert node.silences() == []  # not a nanosecond early
        node.at(engage + 10 * UNANSWERED_NS)
    [silence] = node.silences()
    assert (silence.client_order_id, silence.symbol, silence.venue, silence.strategy_id) == (cid, SYM, VENUE, "s")
    assert silence.ts_init == engage + UNANSWERED_NS and silence.waited_ns == UNANSWERED_NS
    assert [r.message for r in caplog.records if cid in r.message and "no answer" in r.message]
    assert node.venue.cancels() == [(engage, cid)]  # one working cancel: none sent again
    counters = node.risk.stats()["kill_switch"]
    assert (counters["cancels_unanswered"], counters["cancel_alarms"], counters["cancels_resent"]) == (1, 0, 0)
    assert node.alarms() == [] and node.open_ids() == [cid]

    # the next up sends it again (the session that took the first is gone); swallowed too, it alarms no more
    node.disconnect(engage + 11 * UNANSWERED_NS)
    up = engage + 12 * UNANSWERED_NS
    node.connect(up, again=True)
    node.at(up + 10 * UNANSWERED_NS)
    assert node.venue.cancels(since=up) == [(up, cid)]
    assert len(node.silences()) == 1 and node.risk.kill_cancels.unanswered == 1


def test_the_no_answer_wait_is_the_configured_one_and_runs_from_the_last_cancel_sent() -> None:
    """The engage's cancel is refused, its retry swallowed: the wait runs from the retry, as configured."""
    wait = 700 * MS
    node, cid = _one_order_working(ChaseTiming(unanswered_ns=wait))
    node.venue.refuse_cancels = 1
    node.venue.swallow_cancels = 1
    engage = T0 + 10 * MS
    node.at(engage)
    node.risk.kill("operator")
    node.at(engage + 60_000 * MS)
    first, retry = node.venue.cancels()
    assert first == (engage, cid) and retry == (engage + LATENCY + RETRY_NS, cid)
    [silence] = node.silences()
    assert silence.ts_init == retry[0] + wait and silence.waited_ns == wait


@pytest.mark.parametrize("answer", ["cancelled", "refused", "venue down"])
def test_a_cancel_answered_or_lost_with_its_venue_raises_no_no_answer_alarm(answer: str) -> None:
    node, cid = _one_order_working()
    node.venue.refuse_cancels = -1 if answer == "refused" else 0
    node.venue.swallow_cancels = 1 if answer == "venue down" else 0
    node.risk.kill("operator")
    if answer == "venue down":
        node.disconnect(node.kernel.now + 1 * MS)  # before any answer: the cancel is lost with the session
    node.at(node.kernel.now + 10 * UNANSWERED_NS)
    assert node.silences() == [] and node.risk.kill_cancels.unanswered == 0
    assert node.open_ids() == ([] if answer == "cancelled" else [cid])
    assert len(node.alarms()) == (1 if answer == "refused" else 0)


def test_a_reset_or_a_close_drops_the_no_answer_watch_so_a_live_node_is_not_woken_for_it() -> None:
    for end in ("reset", "cancelled"):
        node, cid = _one_order_working()
        node.venue.swallow_cancels = -1
        node.risk.kill("operator")
        node.at(node.kernel.now)  # the engage's events
        assert node.kernel.next_due() == node.kernel.now + UNANSWERED_NS  # the watch of the engage's cancel
        now = node.kernel.now + 1 * MS
        if end == "reset":
            node.kernel.advance(now)
            assert node.risk.reset_kill_switch("false alarm")
            node.at(now)  # the reset's event
        else:
            closed = OrderCancelled(ts_event=now, ts_init=now, strategy_id="s", client_order_id=cid, symbol=SYM)
            node.at(now, closed)
            assert node.open_ids() == []
        assert node.kernel.next_due() is None, end
        node.at(now + 2 * UNANSWERED_NS)
        assert node.silences() == []


# -- a venue that queues its cancels (a network adapter's REST thread) ------------------------------------------


def _many_orders_working(n: int, chase: ChaseTiming = DEFAULT_TIMING) -> tuple[Node, list[str]]:
    """A queued venue up, ``n`` orders of ours working there, every cancel swallowed and the sender held back."""
    node = Node(chase, queued=True)
    node.connect(T0)
    cids = [node.submit(T0 + 1 * MS) for _ in range(n)]
    node.at(T0 + 10 * MS)
    assert node.open_ids() == sorted(cids) and node.venue.named == set(cids)
    node.venue.swallow_cancels = -1
    node.venue.holding = True
    return node, cids


def test_a_large_kill_waiting_in_the_venues_sender_is_watched_for_an_answer_only_from_when_each_cancel_leaves() -> None:
    """The sender is held back five times the no-answer wait (a large kill queued behind one REST thread): no
    alarm while the cancels wait in the node, then exactly one per order, ``wait`` after that order's cancel left."""
    wait, every, n = 1_000 * MS, 10 * MS, 40
    node, cids = _many_orders_working(n, ChaseTiming(unanswered_ns=wait))
    engage = T0 + 20 * MS
    node.at(engage)
    assert node.risk.kill("operator") and len(node.venue.held) == n
    held_until = engage + 5 * wait
    node.at(held_until)
    assert node.silences() == [], "alarmed for cancels the venue never had"
    assert node.venue.cancels() == [] and len(node.venue.held) == n

    node.venue.release(held_until, every)
    node.at(held_until + n * every + 10 * wait)
    left = {cid: ts for ts, cid in node.venue.cancels()}
    assert sorted(left) == sorted(cids) and len(node.venue.cancels()) == n  # one cancel each, none sent again
    silences = node.silences()
    assert sorted(e.client_order_id for e in silences) == sorted(cids)  # one alarm each
    assert all(e.sent and e.waited_ns == wait and e.ts_init == left[e.client_order_id] + wait for e in silences)
    assert node.risk.stats()["kill_switch"]["cancels_unanswered"] == n


def test_a_cancel_stuck_in_the_node_is_named_once_by_the_senders_own_rule(caplog: pytest.LogCaptureFixture) -> None:
    """The sender hands nothing over: at ``unsent_ns`` after the kill every waiting cancel is named (``sent``
    False), not a nanosecond early, and once per order: leaving later and going unanswered adds no second alarm."""
    node, cids = _many_orders_working(3)
    engage = T0 + 20 * MS
    node.at(engage)
    with caplog.at_level(logging.ERROR, logger="tapeflow.risk.kill_cancels"):
        node.risk.kill("operator")
        node.at(engage + UNSENT_NS - 1)
        assert node.silences() == []
        node.at(engage + UNSENT_NS)
    silences = node.silences()
    assert sorted(e.client_order_id for e in silences) == sorted(cids)
    assert all(not e.sent and e.waited_ns == UNSENT_NS and e.ts_init == engage + UNSENT_NS for e in silences)
    assert all(any(cid in r.message and "in the node" in r.message for r in caplog.records) for cid in cids)
    node.venue.release(engage + 2 * UNSENT_NS, 1 * MS)
    node.at(engage + 10 * UNSENT_NS)
    assert len(node.venue.cancels()) == 3 and len(node.silences()) == 3


def test_a_sender_that_keeps_handing_cancels_over_never_trips_the_senders_rule() -> None:
    """One cancel leaves every ``unsent_ns`` less a millisecond: the last waits about four times that in the node,
    yet the sender never stalled, so no cancel is named unsent; each is named once its own answer is overdue. With
    a gap one millisecond longer than ``unsent_ns``, the four still waiting behind the first are named unsent."""
    for gap, unsent in ((UNSENT_NS - 1 * MS, 0), (UNSENT_NS + 1 * MS, 4)):
        node, cids = _many_orders_working(5)
        engage = T0 + 20 * MS
        node.at(engage)
        node.risk.kill("operator")
        node.venue.release(engage + 1 * MS, gap)
        node.at(engage + 20 * UNSENT_NS)
        silences = node.silences()
        assert sorted(e.client_order_id for e in silences) == sorted(cids), gap
        assert sum(not e.sent for e in silences) == unsent, gap
