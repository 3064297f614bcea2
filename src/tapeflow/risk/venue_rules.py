"""No new order to a venue whose order session is down.

A venue adapter that loses its session answers what it is sent with rejects (``tapeflow.execution.venue``), but an
order refused by risk is refused before it costs anything: it is named (rule ``venue_connected``), counted, and the
strategy hears why in the same ``RiskRejected`` as any other refusal. Cancels are never blocked (risk lets every
cancel through; the venue answers it).

The rule keeps its own state from the connection events (``tapeflow.model.venue_events``), so it is a kernel
component as well as a rule; the node assembly adds it to the kernel and puts it first in the rule list, and only
for venues that can disconnect (a simulated exchange cannot, and a backtest pays nothing for this). A venue that can
disconnect counts as down until it announces ``VenueConnected``: failing closed, an order never goes to a session
nobody has seen come up.

It also follows the market data feeds (``FeedStale``/``FeedResumed``): an order decided on data that stopped
arriving is refused, whatever venue it is routed to (the data is the node's, not one venue's): every symbol while a
whole feed is stale, one symbol while that symbol's data is. A feed announces ``FeedResumed`` only once its gap is
backfilled (``tapeflow.live.market_feed``), so orders wait for the data to be whole again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from tapeflow.model.orders import SubmitOrder
from tapeflow.model.venue_events import FeedResumed, FeedStale, VenueConnected, VenueDisconnected, VenueReconnected
from tapeflow.risk.rules import ORDER, Rule, Violation

if TYPE_CHECKING:
    from tapeflow.engine.kernel import Kernel

NOT_CONNECTED = "not connected yet"


class VenueConnectivity(Rule):
    """Refuses a submit (or a modify) routed to a guarded venue that is down; ``default_venue`` stands for ``""``."""

    name = "venue_connected"
    stage = ORDER
    updatable = ()

    def __init__(self, venues: Iterable[str], default_venue: str) -> None:
        super().__init__()
        self.default_venue = default_venue
        self.down: dict[str, str] = dict.fromkeys(venues, NOT_CONNECTED)
        """Guarded venues that are down now, with the reason they gave."""
        self._guarded = frozenset(self.down)
        self.stale: dict[tuple[str, str], str] = {}
        """(feed venue, symbol) whose market data is stale now, with the reason; symbol "" is the whole feed."""

    # -- component ----------------------------------------------------------------------------------------------

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(VenueConnected, self.on_up)
        kernel.subscribe(VenueReconnected, self.on_up)
        kernel.subscribe(VenueDisconnected, self.on_down)
        kernel.subscribe(FeedStale, self.on_stale)
        kernel.subscribe(FeedResumed, self.on_resumed)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    def on_up(self, event: VenueConnected | VenueReconnected) -> None:
        self.down.pop(event.venue, None)

    def on_down(self, event: VenueDisconnected) -> None:
        if event.venue in self._guarded:
            self.down[event.venue] = event.reason or "no reason given"

    def on_stale(self, event: FeedStale) -> None:
        self.stale[(event.venue, event.symbol)] = event.reason or "no reason given"

    def on_resumed(self, event: FeedResumed) -> None:
        if event.symbol:
            self.stale.pop((event.venue, event.symbol), None)
        else:  # the whole feed is back: every symbol of it too
            for key in [k for k in self.stale if k[0] == event.venue]:
                del self.stale[key]

    # -- rule ---------------------------------------------------------------------------------------------------

    def check(self, command: SubmitOrder) -> Violation | None:
        if self.stale:
            violation = self._stale_data(command.symbol)
            if violation is not None:
                return violation
        if not self.down:
            return None
        venue = command.venue or self.default_venue
        why = self.down.get(venue)
        if why is None:
            return None
        reason = f"venue {venue} is disconnected ({why}): no new orders until it reconnects"
        return Violation(reason=reason, value=venue)

    def _stale_data(self, symbol: str) -> Violation | None:
        for (feed, stale_symbol), why in self.stale.items():
            if not stale_symbol or stale_symbol == symbol:
                what = f"{symbol} data" if stale_symbol else "market data"
                reason = f"{what} from feed {feed} is stale ({why}): no new orders until it resumes"
                return Violation(reason=reason, value=symbol)
        return None
