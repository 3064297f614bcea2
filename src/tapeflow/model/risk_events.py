"""Risk events: the kill switch and run-time limit changes, as records on the same queue as orders.

A risk decision that is not an event cannot be audited: a compliance officer reading the log must see when the
kill switch went on and why, and every change of a limit with its old and new value. Requests (``SetKillSwitch``,
``UpdateRiskLimit``) are events too, so that an operator's action is recorded before its effect.
"""

from __future__ import annotations

from tapeflow.model.events import Event

LimitValue = int | float | str | None


class SetKillSwitch(Event, frozen=True, kw_only=True):
    """Ask the risk engine to engage (or, deliberately, reset) the kill switch."""

    engaged: bool
    reason: str
    source: str = "manual"


class KillSwitchChanged(Event, frozen=True, kw_only=True):
    """The kill switch changed state (or was found engaged at start: ``source="restored"``).

    ``rule`` names the rule that tripped it when a rule did; ``cancelled_orders`` is how many open orders the
    engine sent cancels for when it engaged.
    """

    engaged: bool
    reason: str
    source: str
    rule: str = ""
    cancelled_orders: int = 0


class UpdateRiskLimit(Event, frozen=True, kw_only=True):
    """Ask the risk engine to change one limit of one rule (for one symbol when ``symbol`` is set).

    Limits change only this way at run time, never by mutating a configuration object, so the log shows who
    changed what and when. ``value`` None removes the limit (or the per-symbol override).
    """

    rule: str
    field: str
    value: LimitValue
    symbol: str = ""
    reason: str = ""


class RiskLimitsChanged(Event, frozen=True, kw_only=True):
    """The answer to ``UpdateRiskLimit``: applied (``accepted``) with the old and new value, or refused and why."""

    rule: str
    field: str
    old: LimitValue
    new: LimitValue
    accepted: bool
    reason: str
    symbol: str = ""


class KillSwitchPersistFailed(Event, frozen=True, kw_only=True):
    """The kill switch state could not be written (read-only path, full disk): an alarm, not a release.

    The switch stays as it was in memory (engaged, when the failed write was an engage or a reset): new orders
    stay refused and open orders were already cancelled. A restart may then find the older state on disk, so
    whoever reads this must fix the path and engage again (``tapeflow kill``). ``action`` is what was being
    written: ``"engage"`` or ``"reset"``.
    """

    path: str
    error: str
    action: str
    engaged: bool = True


class KillSwitchCancelFailed(Event, frozen=True, kw_only=True):
    """An alarm: the kill switch's cancel of one order was refused ``attempts`` times in a row while its venue was
    up (``reason``: the last refusal's), so that order may still be working at the venue.

    The switch stays engaged; the risk engine stops retrying this order until the venue next comes up or reports
    the order accepted (then it cancels again), so whoever reads this should look at the venue and cancel the order
    there by hand.
    """

    strategy_id: str
    client_order_id: str
    symbol: str
    venue: str
    attempts: int
    reason: str = ""


class KillSwitchCancelUnanswered(Event, frozen=True, kw_only=True):
    """An alarm: the kill switch's working cancel of one order has had no answer (no cancel report, no refusal, no
    fill closing the order) for ``waited_ns`` of event time while its venue was up, so that order may still be
    working at the venue. Raised once per order.

    ``sent`` False: the cancel never left the node (still queued for a venue adapter's sender, which handed over
    none of the switch's waiting cancels for the chase's ``unsent_ns``); ``waited_ns`` then counts from the queueing.
    True: the venue had it (``CancelSent``, or at once for a venue that does not queue) and ``waited_ns`` counts
    from there.

    Nothing is sent again for it (a second cancel for one order is not sent while one may be working: see
    ``tapeflow.risk.kill_cancels``); whoever reads this should look at the venue and cancel the order there by hand.
    """

    strategy_id: str
    client_order_id: str
    symbol: str
    venue: str
    waited_ns: int
    sent: bool = True


FLATTEN_STRATEGY = "flatten"
"""The strategy id of the market orders that close positions after a kill (``FlattenPositions``): the one kind of
new order the risk engine lets through an engaged kill switch, and only when it brings a position exactly to zero."""


class FlattenPositions(Event, frozen=True, kw_only=True):
    """Ask the node to close every position with market orders, once its open orders are cancelled.

    Only with the kill switch engaged (``tapeflow kill --flatten`` engages it first): flattening while strategies
    still trade would be undone by their next order. ``source`` ties the request to its answer."""

    reason: str
    source: str = "manual"


class PositionsFlattened(Event, frozen=True, kw_only=True):
    """The answer to ``FlattenPositions``: ``flat`` when every position is zero, ``orders`` market orders sent;
    ``reason`` says what was left open and why when it is not flat."""

    flat: bool
    orders: int
    reason: str = ""
    source: str = ""


class OperatorCommand(Event, frozen=True, kw_only=True):
    """A command an operator sent to a running node (control socket, signal), recorded before its effect.

    Refusals are recorded too (``accepted`` false: a wrong token, a malformed line), so the audit trail shows who
    tried what. ``origin`` is where it came from (``unix``, ``tcp:127.0.0.1:PORT``, ``signal:SIGTERM``)."""

    command: str
    origin: str
    accepted: bool
    detail: str = ""
