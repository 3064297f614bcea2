"""Stopping a live run on SIGINT/SIGTERM (or the control socket's ``stop``): graceful first, at once the second time.

First request (``GracefulStop.request``): an ``OperatorCommand(command="stop")`` goes into the node's inbox, so the
stop is in the audit trail and happens on the kernel's queue. There ``StopDesk`` refuses every new order from then
on (it is a risk rule: ``node_stopping``), sends a cancel for every open order when ``cancel_orders`` is set, and
reports when none is left open. The orchestrator waits for that at most ``ack_timeout_s`` (wall time), then ends
the feed (``LiveNode.stop_feed``): the driver delivers what the inbox holds, finishes the kernel (timers due, every
event already emitted, such as the simulated exchange's late acknowledgements) and stops every component; the
audit trail hands over its last records, waits until the writer has committed them, and ends its run (head line
written, store closed). Then ``GracefulStop.run`` returns and the caller prints the summary.

Second request: the feed is ended at once, without waiting for acknowledgements, and the previous signal handlers
are put back, so a third signal acts as it would without us (SIGTERM ends the process; SIGINT raises
``KeyboardInterrupt``), should the end of the run itself hang (a disk that does not answer).

What a hard stop cannot lose: the audit writer (``compliance/audit_writer``) runs in its own process and
acknowledges a record only after the SQLite transaction holding it committed (``AuditWriter.committed_seq``).
An acknowledged record is therefore on disk whatever this process does next; what is not yet acknowledged is
either in the pipe (the writer commits every complete batch when it reads end of file, even if this process was
killed) or still in the trail's buffer in this process. Even the second signal ends the run through the kernel's
stop, so that buffer is handed over and the run's head written: nothing recorded is lost, acknowledged or not.
The writer ignores SIGINT and SIGTERM (``writer_process.main``), so a Ctrl-C to the terminal's process group or a
service manager's stop of every process of the unit does not cut it off before the node's last records.

``loop.add_signal_handler`` runs the handlers on the loop between two dispatches, never inside the kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterable, Callable, Iterable
from typing import TYPE_CHECKING, Any

import msgspec

from tapeflow.model.errors import ConfigError
from tapeflow.model.orders import OrderReport, SubmitOrder
from tapeflow.model.risk_events import OperatorCommand
from tapeflow.risk.rules import ORDER, FastCheck, Rule, Violation

if TYPE_CHECKING:
    from tapeflow.engine.kernel import Kernel
    from tapeflow.live.driver import Stamp
    from tapeflow.live.node import LiveNode
    from tapeflow.model.events import Event

SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOPPING = "node_stopping"


class StopDesk(Rule):
    """The kernel side of a graceful stop: a component (``extra=``) and a risk rule (``risk_rules=``) in one.

    ``on_drained`` is called (on the kernel's thread) once a stop was requested and no order is open any more, or
    at once when ``cancel_orders`` is off."""

    name = STOPPING
    stage = ORDER
    updatable = ()

    def __init__(self, *, cancel_orders: bool = True) -> None:
        super().__init__()
        self.cancel_orders = cancel_orders
        self.stopping = ""
        """The reason of the stop once one was requested ("" while running)."""
        self.cancelled = 0
        self.on_drained: Callable[[], None] | None = None
        self._kernel: Kernel | None = None
        self._orders: Any = None
        self._told = False

    def bind_orders(self, orders: Any) -> None:
        """What lists the node's open orders (``TradingNode.execution``)."""
        self._orders = orders

    @property
    def attached(self) -> bool:
        return self._kernel is not None

    # -- component ----------------------------------------------------------------------------------------------

    def attach(self, kernel: Kernel) -> None:
        self._kernel = kernel
        kernel.subscribe(OperatorCommand, self._on_command)
        kernel.subscribe(OrderReport, self._on_report)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    def _on_command(self, event: OperatorCommand) -> None:
        if event.command != "stop" or not event.accepted or self.stopping:
            return
        self.stopping = event.detail or "stop requested"
        kernel = self._kernel
        assert kernel is not None
        if self.cancel_orders and self._orders is not None:
            now = kernel.now
            for order in list(self._orders.open_orders()):
                kernel.emit(order.cancel_at(now))
                self.cancelled += 1
        self._check()

    def _on_report(self, event: Event) -> None:
        if self.stopping:
            self._check()

    def _check(self) -> None:
        if self._told:
            return
        if self.cancel_orders and self._orders is not None and next(self._orders.open_orders(), None) is not None:
            return
        self._told = True
        if self.on_drained is not None:
            self.on_drained()

    # -- rule -----------------------------------------------------------------------------------------------------

    def fast_check(self) -> FastCheck:
        """On the fused path (one attribute read per submit while running): off it, every submit of a live node would
        pay a call to ``check``."""
        return FastCheck("if desk.stopping:\n    return 0", {"desk": self})

    def check(self, command: SubmitOrder) -> Violation | None:
        if not self.stopping:
            return None
        return Violation(reason=f"the node is stopping ({self.stopping}): no new orders", value=STOPPING)


class StopOutcome(msgspec.Struct, kw_only=True):
    """How a run ended: ``how`` is ``"source"`` (the feed ended by itself), ``"graceful"`` or ``"hard"``."""

    how: str = "source"
    reason: str = ""
    signals: list[str] = msgspec.field(default_factory=list)
    drained: bool = False
    """The graceful stop saw every open order closed before the feed ended (False: timed out, or hard)."""
    cancelled: int = 0
    seconds: float = 0.0
    """Wall time from the first stop request to the end of the run."""

    @property
    def exit_code(self) -> int:
        """0 unless a second signal cut the stop short: then 128 + that signal, as a shell reports it."""
        if self.how != "hard" or not self.signals:
            return 0
        return 128 + int(signal.Signals[self.signals[-1]])


class GracefulStop:
    """Stops one ``LiveNode``: wire ``desk`` into it (``extra=[stop.desk]``, ``risk_rules=[stop.desk]``), then run it
    with ``run``. ``request`` may also be given to the control socket as its ``on_stop``."""

    def __init__(self, *, cancel_orders: bool = True, ack_timeout_s: float = 5.0) -> None:
        self.desk = StopDesk(cancel_orders=cancel_orders)
        self.ack_timeout_s = ack_timeout_s
        self.outcome = StopOutcome()
        self._node: LiveNode | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drained: asyncio.Event | None = None
        self._waiter: asyncio.Task[None] | None = None
        self._started = 0.0
        self._restore: Callable[[], None] = lambda: None

    def bind(self, node: LiveNode) -> None:
        if not self.desk.attached:
            raise ConfigError("the stop desk is not on this node: pass extra=[stop.desk]", field="extra")
        if self.desk not in node.node.risk.rules:
            raise ConfigError("the stop desk is not a risk rule of this node: pass risk_rules=[stop.desk]")
        self._node = node
        self.desk.bind_orders(node.node.execution)

    def request(self, reason: str, origin: str = "control") -> None:
        """Stop the run: gracefully the first time, at once the second (on the loop's thread)."""
        node = self._node
        if node is None or self._loop is None or self._drained is None:
            return
        if self.outcome.how == "source":
            self.outcome.how = "graceful"
            self.outcome.reason = reason
            self._started = time.monotonic()
            now = node.wall.now()
            node.inbox.put(
                OperatorCommand(ts_event=now, ts_init=now, command="stop", origin=origin, accepted=True, detail=reason)
            )
            self._waiter = self._loop.create_task(self._end_when_drained(node, self._drained))
            return
        if self.outcome.how == "graceful":
            self.outcome.how = "hard"
            self._restore()  # a third signal acts as if we were not here
            now = node.wall.now()
            node.inbox.put(OperatorCommand(ts_event=now, ts_init=now, command="stop_now", origin=origin, accepted=True))
            node.stop_feed()

    def _signalled(self, sig: signal.Signals) -> None:
        self.outcome.signals.append(sig.name)
        self.request(f"{sig.name} received", origin=f"signal:{sig.name}")

    async def _end_when_drained(self, node: LiveNode, drained: asyncio.Event) -> None:
        try:
            await asyncio.wait_for(drained.wait(), self.ack_timeout_s)
            self.outcome.drained = True
        except TimeoutError:
            pass
        node.stop_feed()

    def _on_drained(self) -> None:
        loop, drained = self._loop, self._drained
        if loop is not None and drained is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(drained.set)

    async def run(
        self,
        node: LiveNode,
        source: AsyncIterable[Event],
        *,
        realtime: bool = True,
        until: int | None = None,
        signals: Iterable[signal.Signals] = SIGNALS,
        stamp: Stamp = "dispatch",
    ) -> StopOutcome:
        """Run ``node`` on ``source`` with the signal handlers installed (main thread only), restoring the previous
        handlers afterwards; the outcome says how it ended (``exit_code`` for the process)."""
        self.bind(node)
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._drained = asyncio.Event()
        self.desk.on_drained = self._on_drained
        self._restore = install_handlers(loop, self._signalled, signals)
        try:
            await node.run(source, realtime=realtime, until=until, stamp=stamp)
        finally:
            self._restore()
            self._restore = lambda: None
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter
            self.outcome.cancelled = self.desk.cancelled
            if self._started:
                self.outcome.seconds = time.monotonic() - self._started
        return self.outcome


def install_handlers(
    loop: asyncio.AbstractEventLoop, handler: Callable[[signal.Signals], None], signals: Iterable[signal.Signals]
) -> Callable[[], None]:
    """``handler(sig)`` on the loop for each of ``signals``; returns what puts the previous handlers back (once)."""
    previous: dict[signal.Signals, Any] = {}
    for sig in signals:
        previous[sig] = signal.getsignal(sig)
        loop.add_signal_handler(sig, handler, sig)
    done = False

    def restore() -> None:
        nonlocal done
        if done:
            return
        done = True
        for sig, old in previous.items():
            with contextlib.suppress(RuntimeError, ValueError):  # the loop closed, or not the main thread
                loop.remove_signal_handler(sig)
            with contextlib.suppress(TypeError, ValueError):
                signal.signal(sig, old)

    return restore
