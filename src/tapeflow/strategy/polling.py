"""Pull instead of push: hand a strategy the latest quote every N ms instead of every quote as it happens.

Many systems poll: a loop wakes up, reads the book, decides. ``QuotePoller`` drives a strategy that way on the
same kernel, so that ``tapeflow compare --push-pull`` can show what polling costs: quotes the strategy never saw
(overwritten between two polls) and the delay between a change and the strategy's reaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tapeflow.model.errors import ConfigError
from tapeflow.model.events import TimerFired
from tapeflow.model.market import Quote

if TYPE_CHECKING:
    from tapeflow.engine.kernel import Kernel
    from tapeflow.strategy.base import Strategy


class QuotePoller:
    """Kernel component: remembers each symbol's last quote; every ``interval_ns`` delivers the changed ones."""

    def __init__(self, strategy: Strategy, interval_ns: int) -> None:
        if interval_ns <= 0:
            raise ConfigError(f"poll interval must be positive, got {interval_ns} ns", field="poll_ms")
        self.strategy = strategy
        self.interval_ns = interval_ns
        strategy.quote_delivery = "pull"
        self._latest: dict[str, Quote] = {}
        self._first_change: dict[str, int] = {}
        """Per symbol, the ts_init of the first quote since the last poll (the moment a reaction could start)."""
        self._kernel: Kernel | None = None
        self.quotes = 0
        self.delivered = 0
        self.delays_ns: list[int] = []

    def attach(self, kernel: Kernel) -> None:
        self._kernel = kernel
        kernel.subscribe(Quote, self.on_quote)

    def on_start(self) -> None:
        assert self._kernel is not None
        self._kernel.set_timer(f"{self.strategy.strategy_id}.poll", interval=self.interval_ns, callback=self.poll)

    def on_stop(self) -> None:
        return None

    def on_quote(self, quote: Quote) -> None:
        symbols = self.strategy.symbols
        if symbols is not None and quote.symbol not in symbols:
            return
        self.quotes += 1
        self._latest[quote.symbol] = quote
        if quote.symbol not in self._first_change:
            self._first_change[quote.symbol] = quote.ts_init

    def poll(self, event: TimerFired) -> None:
        """Deliver each changed symbol's latest quote; the delay counts from the first change it summarises."""
        changed = self._first_change
        self._first_change = {}
        for symbol in sorted(changed):
            self.delivered += 1
            self.delays_ns.append(event.ts_init - changed[symbol])
            self.strategy.on_quote(self._latest[symbol])

    @property
    def never_seen(self) -> int:
        """Quotes overwritten by a newer one before any poll delivered them."""
        return self.quotes - self.delivered
