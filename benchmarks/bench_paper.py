"""The paper venue over loopback: how many orders a second its REST API accepts, how long a submit takes to be
acknowledged, and how many market data messages a second it fans out to one streaming client.

1. **Orders.** A stepped venue on a real LOBSTER day (AAPL, level 1), its book built from the first 2,000 events.
   One keep-alive HTTP client (``requests.Session``, as alpaca-py uses) submits limit buys far below the market,
   one at a time, each a full round trip: JSON parsed, risk run, the order recorded by the execution engine and
   sent to the simulated exchange, the Alpaca order object returned (``new``: no latency is configured, so
   the exchange has accepted it by the time the request is answered). Orders/s is the count over
   the wall time of the loop; p50/p99 are the per-request round trips. The client runs in this process, so its
   own cost (requests' encoding) is in the figures, as it is for any client.
2. **Fan-out.** A second venue on the same day with the market data stream; one websocket client (``websockets``,
   msgpack frames, as alpaca-py asks) subscribes to every quote and trade; the venue is stepped through the whole
   tape over HTTP and the client counts what it receives until the last message. Messages/s is over the span from
   the step request to the last message. The tape's own peak rate (messages in its busiest second) is printed
   beside it: the stream keeps up with a tape when its rate is above that peak.

Usage: python benchmarks/bench_paper.py [--orders 2000] [--file PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import requests
import websockets

from tapeflow.data.lobster_events import iter_events
from tapeflow.model.market import Quote, Trade
from tapeflow.node import NodeConfig
from tapeflow.paper.app import ServerThread, create_app
from tapeflow.paper.auth import fixed_keys
from tapeflow.paper.data_stream import MarketDataHub, data_stream_route
from tapeflow.paper.venue import PaperVenue

DEFAULT = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
KEY, SECRET = "PKBENCH", "SKBENCH"
HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}


def bench_orders(path: Path, count: int) -> dict[str, Any]:
    venue = PaperVenue(iter_events(path), config=NodeConfig(level="L3"))
    venue.step_events(2_000)
    book = venue.node.books.book("AAPL")
    assert book is not None and book.best_bid
    limit = f"{(book.best_bid - 50_000) / 10_000:.2f}"  # $5 under the bid: rests, never fills
    server = ServerThread(create_app(venue, check=fixed_keys(KEY, SECRET))).start()
    session = requests.Session()
    body = {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "time_in_force": "day"}
    rtts: list[float] = []
    try:
        for i in range(50):  # warm-up: connection, first-use tables
            session.post(
                f"{server.url}/v2/orders",
                json=body | {"limit_price": limit, "client_order_id": f"w{i}"},
                headers=HEADERS,
                timeout=10,
            ).raise_for_status()
        start = time.perf_counter()
        cpu = time.process_time()
        for i in range(count):
            t0 = time.perf_counter()
            answer = session.post(
                f"{server.url}/v2/orders",
                json=body | {"limit_price": limit, "client_order_id": f"o{i}"},
                headers=HEADERS,
                timeout=10,
            )
            rtts.append(time.perf_counter() - t0)
            if answer.status_code != 200 or answer.json()["status"] not in ("pending_new", "new"):
                raise SystemExit(f"order {i}: {answer.status_code} {answer.text[:200]}")
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu
    finally:
        session.close()
        server.stop()
    rtts.sort()
    return {
        "orders": count,
        "orders_per_s": round(count / wall),
        "orders_per_cpu_s": round(count / cpu),
        "ack_p50_us": round(statistics.median(rtts) * 1e6),
        "ack_p99_us": round(rtts[int(len(rtts) * 0.99) - 1] * 1e6),
        "ack_max_us": round(rtts[-1] * 1e6),
    }


def tape_peak(path: Path) -> tuple[int, int]:
    """Quotes and trades the venue's node will dispatch from the tape, and the most in any one second of it."""
    venue = PaperVenue(iter_events(path), config=NodeConfig(level="L3"))
    seconds: Counter[int] = Counter()
    venue.kernel.subscribe(Quote, lambda e: seconds.update((e.ts_event // 1_000_000_000,)))
    venue.kernel.subscribe(Trade, lambda e: seconds.update((e.ts_event // 1_000_000_000,)))
    while venue.step_events(100_000):
        pass
    return sum(seconds.values()), max(seconds.values())


def bench_fanout(path: Path, expected: int) -> dict[str, Any]:
    hub = MarketDataHub(queue_limit=10_000_000)  # measure the stream, not the slow-client cut-off
    venue = PaperVenue(iter_events(path), config=NodeConfig(level="L3"), data_hub=hub)
    check = fixed_keys(KEY, SECRET)
    server = ServerThread(create_app(venue, check=check, extra_routes=[data_stream_route(hub, check)])).start()
    result: dict[str, Any] = {}
    subscribed = threading.Event()

    async def client() -> None:
        url = server.url.replace("http://", "ws://") + "/v2/iex"
        decode = msgspec.msgpack.Decoder().decode
        async with websockets.connect(
            url, additional_headers={"Content-Type": "application/msgpack"}, max_size=None
        ) as ws:
            await ws.recv()
            await ws.send(msgspec.msgpack.encode({"action": "auth", "key": KEY, "secret": SECRET}))
            await ws.recv()
            await ws.send(msgspec.msgpack.encode({"action": "subscribe", "quotes": ["*"], "trades": ["*"]}))
            await ws.recv()
            subscribed.set()
            got = 0
            while got < expected:
                got += len(decode(await ws.recv()))
            result["received"] = got
            result["last"] = time.perf_counter()

    thread = threading.Thread(target=lambda: asyncio.run(client()), daemon=True)
    thread.start()
    try:
        if not subscribed.wait(10):
            raise SystemExit("the streaming client did not subscribe")
        start = time.perf_counter()
        requests.post(
            f"{server.url}/tapeflow/step", json={"events": 10_000_000}, headers=HEADERS, timeout=600
        ).raise_for_status()
        thread.join(600)
    finally:
        server.stop()
    span = result["last"] - start
    return {"messages": result["received"], "fanout_msgs_per_s": round(result["received"] / span)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    data = Path(os.environ.get("TAPEFLOW_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    parser.add_argument("--file", type=Path, default=data / DEFAULT)
    parser.add_argument("--orders", type=int, default=2_000)
    args = parser.parse_args()
    if not args.file.exists():
        print(f"{args.file} not found: set TAPEFLOW_DATA or pass --file; skipped")
        print(json.dumps({"benchmark": "paper", "skipped": str(args.file)}))
        return
    orders = bench_orders(args.file, args.orders)
    print(
        f"orders: {orders['orders']:,} limit orders over loopback, {orders['orders_per_s']:,}/s "
        f"({orders['orders_per_cpu_s']:,} per CPU-second of this process, client included); "
        f"submit-to-ack p50 {orders['ack_p50_us']} us, p99 {orders['ack_p99_us']} us, max {orders['ack_max_us']} us"
    )
    total, peak = tape_peak(args.file)
    fanout = bench_fanout(args.file, total)
    print(
        f"fan-out: {fanout['messages']:,} quotes and trades to one msgpack client at "
        f"{fanout['fanout_msgs_per_s']:,} msgs/s; the tape's busiest second holds {peak:,} "
        f"({'keeps up' if fanout['fanout_msgs_per_s'] > peak else 'falls behind'})"
    )
    print(json.dumps({"benchmark": "paper", "file": args.file.name, **orders, **fanout, "tape_peak_msgs_per_s": peak}))


if __name__ == "__main__":
    main()
