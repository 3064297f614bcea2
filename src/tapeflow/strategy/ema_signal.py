"""Example component: an EMA crossover on the quoted mid that emits a ``Signal`` at every crossing.

It is the demo's strategy until the order path exists (the backtester issue turns it into a trading strategy): it
shows the shape every component has (attach, start, stop), reads only events and the clock, and puts its decisions
on the queue as events, with a reason a human can read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tapeflow.model.errors import ConfigError
from tapeflow.model.events import Signal, TimerFired
from tapeflow.model.market import Quote

if TYPE_CHECKING:
    from tapeflow.engine.kernel import Kernel


class _Ema:
    __slots__ = ("alpha", "value")

    def __init__(self, window: int) -> None:
        self.alpha = 2.0 / (window + 1)
        self.value: float | None = None

    def update(self, x: float) -> float:
        v = self.value
        self.value = x if v is None else v + self.alpha * (x - v)
        return self.value


class EmaCrossSignals:
    """Per symbol: fast and slow EMA of the mid; a crossing emits a Signal (+1 up, -1 down)."""

    strategy_id = "ema-cross"

    def __init__(self, fast_window: int = 20, slow_window: int = 100, report_interval_ns: int = 1_000_000_000):
        if fast_window >= slow_window:
            raise ConfigError(
                f"fast_window ({fast_window}) must be shorter than slow_window ({slow_window})",
                field="strategy.fast_window",
            )
        self.fast_window = fast_window
        self.slow_window = slow_window
        self.report_interval_ns = report_interval_ns
        self._fast: dict[str, _Ema] = {}
        self._slow: dict[str, _Ema] = {}
        self._state: dict[str, int] = {}
        self._quotes_seen: dict[str, int] = {}
        self.signals = 0
        self.signals_by_symbol: dict[str, int] = {}
        self.timer_ticks = 0
        self._kernel: Kernel | None = None

    def attach(self, kernel: Kernel) -> None:
        self._kernel = kernel
        kernel.subscribe(Quote, self.on_quote)
        kernel.subscribe(Signal, self.on_signal)

    def on_start(self) -> None:
        assert self._kernel is not None
        self._kernel.set_timer("ema-cross.report", interval=self.report_interval_ns, callback=self.on_timer)

    def on_stop(self) -> None:
        return None

    def on_timer(self, event: TimerFired) -> None:
        self.timer_ticks += 1

    def on_signal(self, event: Signal) -> None:
        if event.strategy_id == self.strategy_id:
            self.signals += 1
            self.signals_by_symbol[event.symbol] = self.signals_by_symbol.get(event.symbol, 0) + 1

    def on_quote(self, quote: Quote) -> None:
        if quote.bid_size == 0 or quote.ask_size == 0:
            return
        sym = quote.symbol
        fast = self._fast.get(sym)
        if fast is None:
            fast = self._fast[sym] = _Ema(self.fast_window)
            self._slow[sym] = _Ema(self.slow_window)
            self._state[sym] = 0
            self._quotes_seen[sym] = 0
        mid = (quote.bid_price + quote.ask_price) / 2.0
        f = fast.update(mid)
        s = self._slow[sym].update(mid)
        seen = self._quotes_seen[sym] = self._quotes_seen[sym] + 1
        if seen < self.slow_window:
            return  # warm-up: the slow EMA has not seen enough quotes to mean anything
        state = 1 if f > s else -1 if f < s else 0
        if state and state != self._state[sym]:
            previous = self._state[sym]
            self._state[sym] = state
            if previous == 0:
                return  # first reading after warm-up is a position, not a crossing
            now = quote.ts_init
            assert self._kernel is not None
            self._kernel.emit(
                Signal(
                    ts_event=now,
                    ts_init=now,
                    strategy_id=self.strategy_id,
                    symbol=sym,
                    name="ema_cross",
                    value=float(state),
                    reason=(
                        f"EMA{self.fast_window} crossed {'above' if state > 0 else 'below'} "
                        f"EMA{self.slow_window} of the mid"
                    ),
                    features={"ema_fast": f, "ema_slow": s, "mid": mid / 10_000},
                )
            )
