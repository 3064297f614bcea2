"""What the live dashboard shows: the console's ``NodeSnapshot`` plus the strategy's recent decisions, one frame.

A frame is built on the event loop between two dispatches (``tapeflow.live.dashboard`` takes one at most
``interval_s`` apart, only while a page is connected), from the same ``SnapshotBuilder`` the console uses, so the
page and the terminal never disagree on a figure: money stays an exact decimal string, as the snapshot gives it.

"Recent signals with their reasons" needs a memory the node does not keep: ``RecentSignals`` is a kernel component
(added with ``extra=``) that keeps the last ``RECENT`` decisions in words: a strategy's ``Signal`` (name, value,
reason), each order it sent with the reason it gave (``SubmitOrder.reason``: strategies that decide without a
``Signal`` event still say why), and each order the risk engine refused with the rule and its reason. Three
appends to a bounded deque on those events, nothing on the market data path.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import msgspec

from tapeflow.engine.kernel import Kernel
from tapeflow.live.snapshot import NodeSnapshot
from tapeflow.model.display import ny_time
from tapeflow.model.enums import OrderType
from tapeflow.model.events import Signal
from tapeflow.model.orders import RiskRejected, SubmitOrder
from tapeflow.model.prices import price_to_str

RECENT = 25
"""Decisions kept for the page (the audit trail keeps all of them)."""


class SignalRow(msgspec.Struct, frozen=True, kw_only=True):
    ts: int
    time: str
    """``ts`` in New York time, for people."""
    kind: str
    """``signal``, ``order`` (sent) or ``refused`` (by a risk rule)."""
    strategy_id: str
    symbol: str
    what: str
    reason: str


class DashboardFrame(msgspec.Struct, frozen=True, kw_only=True):
    """One push to the page (``msgspec.json``); ``seq`` grows by one per frame of this dashboard."""

    seq: int
    run_id: str
    venue: str
    event_time: str
    """The kernel's event time (``node.event_ts``) in New York time."""
    ended: bool
    """The run is over: this is the last frame."""
    kill_refused: int
    """Kill requests this dashboard refused (no token, a wrong one)."""
    node: NodeSnapshot
    signals: list[SignalRow]


class RecentSignals:
    """A kernel component: the last ``RECENT`` decisions, newest last (``rows``)."""

    def __init__(self, size: int = RECENT) -> None:
        self._rows: deque[SignalRow] = deque(maxlen=size)

    def attach(self, kernel: Kernel) -> None:
        kernel.subscribe(Signal, self.on_signal)
        kernel.subscribe(SubmitOrder, self.on_submit)
        kernel.subscribe(RiskRejected, self.on_refused)

    def on_start(self) -> None:
        return None

    def on_stop(self) -> None:
        return None

    def on_signal(self, event: Signal) -> None:
        self._add(event.ts_event, "signal", event.strategy_id, event.symbol, f"{event.name} = {event.value:g}", event)

    def on_submit(self, event: SubmitOrder) -> None:
        if event.order_type is OrderType.MARKET:
            price = "market"
        elif event.price:
            price = f"@ {price_to_str(event.price)}"
        else:
            price = event.order_type.value
        what = f"{event.side.value} {event.quantity} {price}"
        self._add(event.ts_event, "order", event.strategy_id, event.symbol, what, event)

    def on_refused(self, event: RiskRejected) -> None:
        self._add(event.ts_event, "refused", event.strategy_id, event.symbol, f"{event.rule} ({event.stage})", event)

    def _add(self, ts: int, kind: str, strategy: str, symbol: str, what: str, event: object) -> None:
        reason = str(getattr(event, "reason", ""))
        self._rows.append(
            SignalRow(ts=ts, time=ny_time(ts), kind=kind, strategy_id=strategy, symbol=symbol, what=what, reason=reason)
        )

    def rows(self) -> list[SignalRow]:
        return list(self._rows)


class FrameSource:
    """Builds frames from ``snapshot`` (a ``SnapshotBuilder.take`` of its own: the event rate is per builder) and
    ``recent``; ``refused`` reads the kill lever's refusal count."""

    def __init__(
        self,
        snapshot: Callable[[], NodeSnapshot],
        recent: RecentSignals | None,
        *,
        run_id: str,
        venue: str,
        refused: Callable[[], int] = lambda: 0,
    ) -> None:
        self.snapshot = snapshot
        self.recent = recent
        self.run_id = run_id
        self.venue = venue
        self.refused = refused
        self.seq = 0
        self._encoder = msgspec.json.Encoder()

    def take(self, *, ended: bool = False) -> DashboardFrame:
        node = self.snapshot()
        self.seq += 1
        return DashboardFrame(
            seq=self.seq,
            run_id=self.run_id,
            venue=self.venue,
            event_time=ny_time(node.event_ts) if node.event_ts > 0 else "",
            ended=ended,
            kill_refused=self.refused(),
            node=node,
            signals=self.recent.rows() if self.recent is not None else [],
        )

    def encode(self, frame: DashboardFrame) -> str:
        return self._encoder.encode(frame).decode()
