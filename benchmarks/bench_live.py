"""Tick-to-trade of ``tapeflow live``: from a market data frame read off the socket to the order's bytes written to
the broker's socket, with risk (the default rules) and the audit trail on; then the round trip to a venue's ack.

1. **In-process path** (``--rates``, default 10k and 100k msgs/s). ``live_wire.py`` runs in its own process (so
   its work is not on this interpreter) and plays Alpaca over loopback: the data stream v2 offering quotes and
   trades (9 to 1, ``--batch`` messages to a frame, msgpack) at a steady rate, a trading API answering every
   order at once (keep-alive HTTP) and ``trade_updates`` cancelling it (an unfilled IOC). Here the real
   ``AlpacaMarketFeed`` reads the frames into a real ``LiveNode`` (real time, ``stamp="source"``, risk with the
   default rules, ``AuditTrail.open`` on a temporary SQLite file) whose strategy buys (IOC, at the bid) on every
   ``--every``-th quote through the real ``AlpacaVenue``/``OrderSender``. Tick-to-trade is the sender's
   ``on_written`` time minus the frame's read time (``tapeflow.live.tick_to_trade.LatencyMeter``). Backlog is
   the strategy's dispatch time minus the time the frame was built at the server: it stays flat (a few hundred
   microseconds) while the node keeps up and grows while it does not. A rate is *held* when the node dispatched
   every offered message within the run at the offered rate (>= 98 % of it) and its backlog p99 stayed under
   ``HELD_BACKLOG_MS``.
   Risk: the default rules, all of them, with the flow limits raised (orders a second, messages a second, open
   orders, runaway orders) so that the 900 orders a second of the 100k run are not throttled: a rule checked
   against a higher limit costs the same.
2. **Round trip to the paper venue** (``--paper-seconds``; 0 skips it). ``tapeflow paper`` on the AAPL LOBSTER
   day paced at ``--paper-speed`` in a subprocess; the same node reads its data stream and trades on it; the
   figure is from the quote's arrival to the venue's acknowledgement (``OrderAccepted``) arriving at the node
   (``AckLatency``): tick-to-trade plus the venue's REST round trip.

Each configuration runs ``--repeat`` times, each in a fresh server and node; the figures printed are the medians
with the range (min-max) over the runs, wall and CPU (this process: feed, kernel, sender thread) per run. The node
lives on a trading day (``DAY_NS``, the LOBSTER day at 10:00 New York): its wall clock is the real one moved
there, as the order checks allow the regular session only.

Usage: python benchmarks/bench_live.py [--rates 10000 100000] [--seconds 5] [--repeat 5] [--paper-seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import requests

from tapeflow.compliance.audit import AuditTrail
from tapeflow.engine.inbox import Inbox
from tapeflow.execution.venue import Command
from tapeflow.live.alpaca_venue import AlpacaVenue
from tapeflow.live.clock import RealTimeClock
from tapeflow.live.market_feed import AlpacaMarketFeed, MarketFeedConfig
from tapeflow.live.node import LiveNode
from tapeflow.live.order_wire import parse_time
from tapeflow.live.tick_to_trade import AckLatency, LatencyMeter, LatencyStats
from tapeflow.model.enums import TimeInForce
from tapeflow.model.market import Quote, Trade
from tapeflow.model.orders import SubmitOrder
from tapeflow.node import NodeConfig
from tapeflow.risk.config import FlowChecks, KillSwitchConfig, RiskConfig
from tapeflow.strategy.base import Strategy

HERE = Path(__file__).resolve().parent
KEY, SECRET = "PKBENCH", "SKBENCH"
SYMBOL: Final = "AAPL"
DAY_NS: Final = 1_340_287_200_000_000_000
"""2012-06-21 14:00 UTC (10:00 in New York): the regular session of the LOBSTER sample day."""
HELD_BACKLOG_MS: Final = 5.0
STAGES: Final = ("read_to_decision", "read_to_send", "read_to_sender_thread")
LOBSTER = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
WAIT_S: Final = 30.0
"""Every wait for a server or a stream is bounded by this."""
RISK: Final = RiskConfig(
    flow=FlowChecks(
        strategy_orders_per_second=100_000,
        strategy_burst=100_000,
        symbol_orders_per_second=100_000,
        symbol_burst=100_000,
        messages_per_second=100_000,
        message_burst=100_000,
        max_open_orders=100_000,
        max_open_orders_total=100_000,
    ),
    kill_switch=KillSwitchConfig(runaway_orders=1_000_000),
)


class ShiftedClock:
    """The real wall clock moved by ``shift`` ns (onto the trading day)."""

    def __init__(self, shift: int) -> None:
        self.shift = shift

    def now(self) -> int:
        return time.time_ns() + self.shift


class Buyer(Strategy):
    """Buys (IOC at the bid, never filled) on every ``every``-th quote; meters how late each message is dispatched."""

    def __init__(self, every: int, clock: ShiftedClock) -> None:
        super().__init__("bench")
        self.every = every
        self.clock = clock
        self.quotes = 0
        self.messages = 0
        self.first = 0
        self.last = 0
        self.backlog = LatencyMeter("backlog")
        self.decide = LatencyMeter("read_to_decision")
        """From the frame's read to the strategy's order (the loop's part of tick-to-trade; the rest is the hand-off
        to the sender's thread and the write)."""

    def _seen(self, ts_event: int) -> None:
        now = self.clock.now()
        if not self.first:
            self.first = now
        self.last = now
        self.messages += 1
        self.backlog.record(now - ts_event)

    def on_quote(self, quote: Quote) -> None:
        self._seen(quote.ts_event)
        self.quotes += 1
        if self.quotes % self.every == 0:
            qty = 1 + (self.quotes // self.every) % 97  # never the same order twice in a row (duplicate check)
            self.decide.record(self.clock.now() - quote.ts_init)
            self.buy(quote.symbol, qty, quote.bid_price, time_in_force=TimeInForce.IOC)

    def on_trade(self, trade: Trade) -> None:
        self._seen(trade.ts_event)


class TimedVenue(AlpacaVenue):
    """The adapter, timing two stages of tick-to-trade from the frame's read (``ts_init``): the order reaching the
    venue (``send``: the strategy's decision, risk, execution, audit are behind it) and the sender's thread
    starting its job (the hand-off between threads)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.to_send = LatencyMeter("read_to_send")
        self.to_thread = LatencyMeter("read_to_sender_thread")
        self._ts_init = 0
        enqueue = self.sender.enqueue

        def timed(job: Callable[[], None]) -> None:
            ts_init = self._ts_init

            def run() -> None:
                self.to_thread.record(self._clock() - ts_init)
                job()

            enqueue(run if ts_init else job)

        self.sender.enqueue = timed  # type: ignore[method-assign]

    def send(self, command: Command) -> None:
        self._ts_init = command.ts_init if isinstance(command, SubmitOrder) else 0
        self.to_send.record(self._clock() - command.ts_init)
        super().send(command)
        self._ts_init = 0


@contextlib.contextmanager
def server(argv: list[str], ready: str) -> Iterator[str]:
    """A subprocess whose stdout says it is up with a line starting ``ready``; that line; killed on the way out."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.extend(_ready_line(proc, ready)), daemon=True)
    reader.start()
    reader.join(WAIT_S)
    try:
        if not line:
            raise SystemExit(f"{argv[:4]} did not start within {WAIT_S} s")
        yield line[0]
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _ready_line(proc: subprocess.Popen[str], ready: str) -> list[str]:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(ready):
            return [line.strip()]
    return []


def _us(ns: int) -> float:
    return round(ns / 1000, 1)


def _latency(stats: LatencyStats) -> dict[str, Any]:
    return {"n": stats.count, "p50_us": _us(stats.p50), "p99_us": _us(stats.p99), "p999_us": _us(stats.p999),
            "max_us": _us(stats.max), "negative": stats.negative}  # fmt: skip


async def drive(urls: dict[str, str], *, shift: int, every: int, expected: int, limit_s: float) -> dict[str, Any]:
    """One node on ``urls`` until its strategy saw ``expected`` messages or ``limit_s`` passed; its figures."""
    clock = ShiftedClock(shift)
    wall = RealTimeClock(clock)
    inbox = Inbox()
    meter = LatencyMeter("tick_to_trade")
    ack = AckLatency(LatencyMeter("ack"))
    venue = TimedVenue(
        base_url=urls["trading"],
        stream_url=urls["trade_stream"],
        key=KEY,
        secret=SECRET,
        inbox=inbox,
        strategies=["bench"],
        on_written=meter.on_written,
        clock=wall.now,
        written_clock=wall.now,
    )
    strategy = Buyer(every, clock)
    with tempfile.TemporaryDirectory() as tmp:
        audit = AuditTrail.open(Path(tmp) / "audit.sqlite")
        node = LiveNode([strategy], config=NodeConfig(level="L1", risk=RISK), venues=[venue], run_id="bench",
                        wall=wall, extra=[ack], audit=audit, inbox=inbox)  # fmt: skip
        node.restore(await asyncio.to_thread(venue.start))
        stream = asyncio.create_task(venue.run_stream())
        feed = AlpacaMarketFeed(
            MarketFeedConfig(url=urls["data_stream"], symbols=(SYMBOL,), venue="alpaca", stale_after=WAIT_S),
            key=KEY,
            secret=SECRET,
            wall=wall,
            is_open=lambda ts: True,
        )
        try:
            deadline = time.monotonic() + WAIT_S
            while not venue.connected:
                if time.monotonic() > deadline:
                    raise SystemExit("the trade_updates stream did not come up")
                await asyncio.sleep(0.01)

            async def stop_when_done() -> None:
                end = time.monotonic() + limit_s
                # every message, then every order's answer: an ack still on its way when the feed closes
                # never reaches the node (on a loaded machine several did, and the figures lost them)
                while (strategy.messages < expected or ack.waiting) and time.monotonic() < end:
                    await asyncio.sleep(0.02)
                feed.close()

            watcher = asyncio.create_task(stop_when_done())
            cpu, start = time.process_time(), time.perf_counter()
            await node.run(feed, realtime=True, stamp="source")
            cpu, wall_s = time.process_time() - cpu, time.perf_counter() - start
            await watcher
            await asyncio.sleep(0.2)  # the last orders' writes and answers
        finally:
            await venue.stop_stream()
            with contextlib.suppress(asyncio.CancelledError):
                await stream
            await asyncio.to_thread(venue.stop)

    span = (strategy.last - strategy.first) / 1e9
    held = (strategy.messages - 1) / span if span > 0 else 0.0
    return {
        "dispatched": strategy.messages,
        "orders": venue.sender.requests,
        "held_msgs_per_s": round(held),
        "wall_s": round(wall_s, 3),
        "cpu_s": round(cpu, 3),
        "tick_to_trade": _latency(meter.stats()),
        "backlog": _latency(strategy.backlog.stats()),
        "read_to_decision": _latency(strategy.decide.stats()),
        "read_to_send": _latency(venue.to_send.stats()),
        "read_to_sender_thread": _latency(venue.to_thread.stats()),
        "ack": _latency(ack.meter.stats()),
        "malformed": venue.stream.malformed + feed.wire.malformed_total,
    }


def run_sink(rate: int, seconds: float, batch: int, every: int) -> dict[str, Any]:
    shift = DAY_NS - time.time_ns()
    argv = [sys.executable, str(HERE / "live_wire.py"), "--rate", str(rate), "--seconds", str(seconds),
            "--batch", str(batch), "--shift-ns", str(shift)]  # fmt: skip
    with server(argv, "{") as line:
        urls = json.loads(line)
        expected = int(rate * seconds)
        result = asyncio.run(drive(urls, shift=shift, every=every, expected=expected, limit_s=seconds * 3 + 5))
        offered = requests.get(urls["trading"] + "/bench/stats", timeout=WAIT_S).json()
    result["offered"] = offered
    result["offered_msgs_per_s"] = round(offered["messages"] / offered["seconds"]) if offered["seconds"] else 0
    result["held"] = (
        result["dispatched"] == expected
        and result["held_msgs_per_s"] >= 0.98 * rate
        and result["backlog"]["p99_us"] <= HELD_BACKLOG_MS * 1000
    )
    return result


def run_paper(tape: Path, seconds: float, speed: str, every: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "paper.toml"
        config.write_text(f'[data]\nkind = "lobster"\npaths = ["{tape}"]\n', encoding="utf-8")
        argv = [sys.executable, "-m", "tapeflow", "paper", str(config), "--port", "0", "--speed", speed,
                "--key", KEY, "--secret", SECRET]  # fmt: skip
        with server(argv, "paper venue on ") as line:
            base = line.split()[-1].rstrip("/")
            ws = "ws" + base.removeprefix("http")
            urls = {"trading": base, "trade_stream": f"{ws}/stream", "data_stream": f"{ws}/v2/iex"}
            headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
            venue_now = requests.get(base + "/v2/clock", headers=headers, timeout=WAIT_S).json()["timestamp"]
            shift = parse_time(venue_now, "timestamp") - time.time_ns()
            return asyncio.run(drive(urls, shift=shift, every=every, expected=10**12, limit_s=seconds))


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):,.1f} ({min(values):,.1f}-{max(values):,.1f})"


def summarize(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for q in ("p50_us", "p99_us", "p999_us", "max_us"):
        values = [r[key][q] for r in runs]
        out[q] = statistics.median(values)
        out[q.replace("_us", "_range_us")] = [min(values), max(values)]
    out["n"] = sum(r[key]["n"] for r in runs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = Path(os.environ.get("TAPEFLOW_DATA", HERE.parents[1] / "shared" / "data"))
    parser.add_argument("--rates", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--paper-seconds", type=float, default=15.0)
    parser.add_argument("--paper-speed", default="10x")
    parser.add_argument("--paper-every", type=int, default=20)
    parser.add_argument("--file", type=Path, default=data / LOBSTER)
    args = parser.parse_args()
    report: dict[str, Any] = {"benchmark": "live", "seconds": args.seconds, "batch": args.batch,
                              "every": args.every, "repeat": args.repeat, "rates": {}}  # fmt: skip
    for rate in args.rates:
        runs = [run_sink(rate, args.seconds, args.batch, args.every) for _ in range(args.repeat)]
        t2t, backlog = summarize(runs, "tick_to_trade"), summarize(runs, "backlog")
        held = [r["held_msgs_per_s"] for r in runs]
        print(
            f"{rate:,} msgs/s offered ({args.batch}/frame, an order every {args.every} quotes), {args.repeat} runs "
            f"of {args.seconds} s: tick-to-trade p50 {spread([r['tick_to_trade']['p50_us'] for r in runs])} us, "
            f"p99 {spread([r['tick_to_trade']['p99_us'] for r in runs])} us, "
            f"p99.9 {spread([r['tick_to_trade']['p999_us'] for r in runs])} us, "
            f"max {spread([r['tick_to_trade']['max_us'] for r in runs])} us ({t2t['n']:,} orders); "
            f"rate held {spread(held)} msgs/s, backlog p50 {spread([r['backlog']['p50_us'] for r in runs])} us, "
            f"p99 {spread([r['backlog']['p99_us'] for r in runs])} us; held in {sum(r['held'] for r in runs)} "
            f"of {len(runs)} runs; CPU {spread([r['cpu_s'] for r in runs])} s of wall "
            f"{spread([r['wall_s'] for r in runs])} s"
        )
        stages = {key: statistics.median(r[key]["p50_us"] for r in runs) for key in STAGES}
        print(
            "  where it goes (p50s, medians over the runs): "
            + ", ".join(f"{key.replace('_', ' ')} {value:,.1f} us" for key, value in stages.items())
            + f", read to order bytes written {t2t['p50_us']:,.1f} us"
        )
        report["rates"][str(rate)] = {
            "tick_to_trade": t2t,
            "stages_p50_us": stages,
            "backlog": backlog,
            "sink_ack": summarize(runs, "ack"),
            "held_msgs_per_s": statistics.median(held),
            "held_runs": sum(r["held"] for r in runs),
            "cpu_s": statistics.median(r["cpu_s"] for r in runs),
            "wall_s": statistics.median(r["wall_s"] for r in runs),
            "malformed": sum(r["malformed"] for r in runs),
        }
    if args.paper_seconds > 0:
        if not args.file.exists():
            print(f"{args.file} not found: set TAPEFLOW_DATA or pass --file; the paper round trip is skipped")
        else:
            runs = [run_paper(args.file, args.paper_seconds, args.paper_speed, args.paper_every)
                    for _ in range(args.repeat)]  # fmt: skip
            ack = summarize(runs, "ack")
            print(
                f"paper venue ({args.paper_speed}, an order every {args.paper_every} quotes), {args.repeat} runs "
                f"of {args.paper_seconds} s: tick to ack p50 {spread([r['ack']['p50_us'] for r in runs])} us, "
                f"p99 {spread([r['ack']['p99_us'] for r in runs])} us, max "
                f"{spread([r['ack']['max_us'] for r in runs])} us ({ack['n']:,} acks); tick-to-trade p50 "
                f"{spread([r['tick_to_trade']['p50_us'] for r in runs])} us"
            )
            report["paper"] = {"speed": args.paper_speed, "seconds": args.paper_seconds, "ack": ack,
                               "tick_to_trade": summarize(runs, "tick_to_trade")}  # fmt: skip
    print(json.dumps(report))


if __name__ == "__main__":
    main()
