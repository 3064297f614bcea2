"""The live console: a rich view of the running node for people, or one JSON object per line for machines.

Both show the same ``NodeSnapshot`` (``tapeflow.live.snapshot``), taken on the event loop between dispatches,
at most once every ``MIN_INTERVAL_NS`` (4 times a second): drawing a terminal costs milliseconds, which the trading
loop must not pay for every event. The refresh is a timer on the asyncio loop through the injected wall clock
(``tapeflow.live.clock``), so a test on a ``FakeClock`` sees exactly when each frame was drawn.

The rich view updates a ``rich.live.Live`` by hand (``auto_refresh=False``): rich's own refresh thread would read
the node from another thread, mid-dispatch. ``--json`` writes each snapshot as one line and flushes it, so a
reader following the stream (``tail -f``, a pipe) gets every line when it is written.

A frame that fails to build or draw is counted (``errors``) and logged once; the node keeps trading: a broken
display must not stop a live run.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TextIO, TypeVar

import msgspec
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from tapeflow.engine.clock import Clock
from tapeflow.live.clock import as_wall_clock
from tapeflow.live.snapshot import NodeSnapshot
from tapeflow.live.tick_to_trade import LatencyStats
from tapeflow.model.errors import ConfigError

T = TypeVar("T")
log = logging.getLogger(__name__)

MIN_INTERVAL_NS = 250_000_000
"""At most 4 frames a second."""
MAX_ROWS = 20
"""Open orders drawn in the rich view (the JSON line lists what the snapshot holds)."""


def duration(ns: int | None) -> str:
    """A latency or an age for people: "850 ns", "12.4 us", "3.1 ms", "2.0 s"."""
    if ns is None:
        return "-"
    if ns < 1_000:
        return f"{ns} ns"
    if ns < 1_000_000:
        return f"{ns / 1e3:.1f} us"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:.1f} ms"
    return f"{ns / 1e9:.1f} s"


def _latency(name: str, stats: LatencyStats | None) -> str:
    if stats is None or not stats.count:
        return f"{name} -"
    return f"{name} p50 {duration(stats.p50)} p99 {duration(stats.p99)} (n={stats.count})"


def render(snapshot: NodeSnapshot, *, max_rows: int = MAX_ROWS) -> RenderableType:
    """The rich view of one snapshot: header, positions, PnL, open orders, risk, feed health."""
    s = snapshot
    when = datetime.fromtimestamp(s.ts // 1_000_000_000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    header = Text.assemble(
        ("tapeflow live  ", "bold"),
        f"{when}  events {s.feed_events} ({s.events_per_s:.0f}/s)  ",
        _latency("tick-to-trade", s.tick_to_trade),
        "  ",
        _latency("ack", s.ack),
    )

    positions = Table(title="Positions", title_justify="left", expand=False)
    for column in ("Symbol", "Qty", "Avg price", "Mark", "Market value", "Unrealized", "Realized"):
        positions.add_column(column, justify="left" if column == "Symbol" else "right")
    for p in s.positions:
        positions.add_row(
            p.symbol, str(p.quantity), p.avg_price, p.mark or "-", p.market_value, p.unrealized, p.realized
        )

    pnl = Table(title="PnL", title_justify="left")
    for column in ("Realized", "Unrealized", "Fees", "Total", "Cash", "Equity", "Fills"):
        pnl.add_column(column, justify="right")
    q = s.pnl
    pnl.add_row(q.realized, q.unrealized, q.fees, q.total, q.cash, q.equity, str(q.fills))

    orders = Table(title=f"Open orders ({s.open_order_count})", title_justify="left")
    for column in ("Id", "Symbol", "Side", "Qty", "Filled", "Price", "Status"):
        orders.add_column(column, justify="right" if column in ("Qty", "Filled", "Price") else "left")
    for o in s.open_orders[:max_rows]:
        orders.add_row(o.client_order_id, o.symbol, o.side, str(o.quantity), str(o.filled), o.price or "MKT", o.status)
    if s.open_order_count > min(len(s.open_orders), max_rows):
        orders.add_row(f"... {s.open_order_count - min(len(s.open_orders), max_rows)} more", "", "", "", "", "", "")

    r = s.risk
    risk = Text("Risk: ", style="bold")
    if r.kill_switch:
        risk.append(f"KILL SWITCH ENGAGED ({r.kill_source}: {r.kill_reason})", style="bold red")
    else:
        risk.append("kill switch off", style="green")
    if r.kill_cancels_resent or r.kill_cancel_alarms or r.kill_cancels_unanswered:
        risk.append(f"  kill cancels resent {r.kill_cancels_resent}")
        if r.kill_cancel_alarms:
            risk.append(f", {r.kill_cancel_alarms} refused to the alarm", style="bold red")
        if r.kill_cancels_unanswered:
            risk.append(f", {r.kill_cancels_unanswered} unanswered", style="bold red")
    if r.kill_persist_failures:
        risk.append(f"  kill switch state not written {r.kill_persist_failures}x", style="bold red")
    risk.append(f"  passed {r.passed}  rejected {r.rejected}")
    if r.rejections_by_rule:
        risk.append("  by rule: " + ", ".join(f"{k} {v}" for k, v in r.rejections_by_rule.items()))
    for t in r.throttles:
        risk.append(f"  throttle {t.rule} {t.limit}/s burst {t.burst} refused {t.refused}")
    if r.venues_down:
        risk.append("  venues down: " + ", ".join(f"{k} ({v})" for k, v in r.venues_down.items()), style="red")

    parts: list[RenderableType] = [header, positions, pnl, orders, risk]
    f = s.feed
    if f is not None:
        feed = Text("Feed: ", style="bold")
        feed.append(f"connected {', '.join(f.connected) or '-'}")
        if f.down:
            feed.append("  down " + ", ".join(f"{k} ({v})" for k, v in f.down.items()), style="red")
        if f.stale:
            feed.append("  stale " + ", ".join(f.stale), style="yellow")
        feed.append(f"  reconnects {f.reconnects}  market events {f.market_events}")
        feed.append(f"  last {duration(f.last_market_age_ns)} ago")
        parts.append(feed)
        if f.recent:
            parts.append(Text("Recent: " + " | ".join(f.recent), style="dim"))
    return Group(*parts)


class LiveConsole:
    """Draws snapshots from ``snapshot()`` while a run goes on (``run_with``).

    ``json``: one JSON object per line on ``out`` (a text file; None: stdout); otherwise a rich live view on
    ``out`` (a ``Console``, or a text file wrapped in one; None: stdout). ``wall``: the clock frames are timed
    by (tests: ``FakeClock``). ``redirect``: let rich print stdout/stderr writes above the view (off when ``out``
    is not a terminal's).
    """

    def __init__(
        self,
        snapshot: Callable[[], NodeSnapshot],
        *,
        wall: Clock | None = None,
        json: bool = False,
        out: TextIO | Console | None = None,
        interval_ns: int = MIN_INTERVAL_NS,
        max_rows: int = MAX_ROWS,
        redirect: bool = True,
    ) -> None:
        if interval_ns < MIN_INTERVAL_NS:
            raise ConfigError(
                f"the console refreshes at most 4 times a second: interval_ns must be >= {MIN_INTERVAL_NS}, "
                f"got {interval_ns}",
                field="interval_ns",
            )
        self._snapshot = snapshot
        self.wall = as_wall_clock(wall)
        self.json = json
        self.interval_ns = interval_ns
        self.max_rows = max_rows
        self.redirect = redirect
        self._file: TextIO | None = None
        self._console: Console | None = None
        if json:
            if isinstance(out, Console):
                raise ConfigError("--json writes lines to a text file, not to a rich Console", field="out")
            self._file = out if out is not None else sys.stdout
        else:
            self._console = out if isinstance(out, Console) else Console(file=out)
        self._live: Live | None = None
        self._encoder = msgspec.json.Encoder()
        self.frames = 0
        self.last_frame_ns: int | None = None
        self.errors = 0

    # -- one frame ----------------------------------------------------------------------------------------------

    def frame(self) -> NodeSnapshot | None:
        """Take a snapshot and draw it now (the caller keeps the pace); None when it failed (counted, logged)."""
        try:
            snapshot = self._snapshot()
            if self._file is not None:
                self._file.write(self._encoder.encode(snapshot).decode() + "\n")
                self._file.flush()
            elif self._live is not None:
                self._live.update(render(snapshot, max_rows=self.max_rows), refresh=True)
            else:
                assert self._console is not None
                self._console.print(render(snapshot, max_rows=self.max_rows))
        except Exception:  # a display must never stop the node: counted, logged once
            self.errors += 1
            if self.errors == 1:
                log.exception("live console: a frame failed; the run goes on (further failures are counted)")
            return None
        finally:
            self.frames += 1
            self.last_frame_ns = self.wall.now()
        return snapshot

    # -- around a run -------------------------------------------------------------------------------------------

    async def run_with(self, main: Awaitable[T]) -> T:
        """Await ``main`` (the node's run), drawing a frame at once, then every ``interval_ns`` of wall time, and
        a last one when it ends (no sooner than ``interval_ns`` after the previous one)."""
        task = asyncio.ensure_future(main)
        self._start()
        try:
            wall = self.wall
            next_frame = wall.now()
            while not task.done():
                if wall.now() >= next_frame:
                    self.frame()
                    next_frame = wall.now() + self.interval_ns
                await wall.wait({task}, next_frame)
            if task.exception() is None:
                await wall.sleep_until(next_frame)
                self.frame()
            return task.result()
        finally:
            if not task.done():
                task.cancel()
            self._stop()

    def _start(self) -> None:
        if self._console is not None and self._live is None:
            self._live = Live(
                console=self._console,
                auto_refresh=False,
                redirect_stdout=self.redirect,
                redirect_stderr=self.redirect,
            )
            self._live.start()

    def _stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
