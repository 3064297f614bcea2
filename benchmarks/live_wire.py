"""A stand-in for Alpaca over loopback, for ``bench_live.py``: the stock data stream v2 sending quotes and trades at
a fixed rate, and a trading API that answers every order at once. Run as its own process (``python
benchmarks/live_wire.py ...``) so that its work is not on the measured process's interpreter (the GIL) and the
measured path is only the node's: it prints one JSON line with its three URLs, then serves until killed.

- Data stream (``/v2/iex``, msgpack, the protocol's handshake): once subscribed it waits ``--warmup`` seconds and
  then offers ``--rate`` messages a second for ``--seconds``, ``--batch`` messages to a frame (Alpaca batches
  too), 9 quotes to 1 trade, on ``--symbol``. Every message's ``t`` is the wall time at which its frame was built,
  plus ``--shift-ns`` (the node lives on a trading day, see ``bench_live.py``): the node's dispatch time minus it is
  the backlog. A frame is built just before it is written; when the socket's buffer is full the write waits (the
  reader is behind), the schedule slips, and that is counted (``max_behind``).
- Trading REST (keep-alive HTTP/1.1, a few lines of asyncio: a framework would be the cost measured): an empty
  account for the start reconciliation, and ``POST /v2/orders`` answered ``new`` at once; the order is then
  cancelled over ``trade_updates`` as an unfilled IOC order is, so no order stays open at the node.
- ``trade_updates`` (``/stream``): auth, listen, then the cancellations.
- ``GET /bench/stats``: what the data stream offered (messages, frames, seconds, how far it fell behind).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import struct
import time
from typing import Any

import msgspec
from websockets.asyncio.server import ServerConnection, serve

PRICE_LEVELS = 50
_ZERO_TS = msgspec.msgpack.Ext(-1, b"\0" * 12)


def rfc3339(ns: int) -> str:
    seconds, frac = divmod(ns, 1_000_000_000)
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{frac:09d}Z"


def _prefix(message: dict[str, Any]) -> bytes:
    """``message`` encoded with ``t`` last, without the 12 bytes of ``t``'s timestamp (filled in per frame)."""
    encoded = msgspec.msgpack.encode({**message, "t": _ZERO_TS})
    assert encoded.endswith(b"\xc7\x0c\xff" + b"\0" * 12)
    return encoded[:-12]


def templates(symbol: str) -> list[bytes]:
    """Quotes for each of ``PRICE_LEVELS`` bids one cent apart from $100.00, one cent wide (consecutive quotes
    differ: the feed drops a quote equal to the one before it, time included)."""
    quotes = []
    for level in range(PRICE_LEVELS):
        bid = 100.0 + level / 100
        quote = {"T": "q", "S": symbol, "bx": "V", "bp": bid, "bs": 300, "ax": "V", "ap": round(bid + 0.01, 2)}
        quotes.append(_prefix(quote | {"as": 200, "c": ["R"], "z": "C"}))
    return quotes


def timestamp(ns: int) -> bytes:
    seconds, nanos = divmod(ns, 1_000_000_000)
    return struct.pack(">Iq", nanos, seconds)


def trade(symbol: str, k: int, ns: int) -> bytes:
    """Message ``k`` as a trade: its id is ``k + 1`` (the feed drops a trade id it has seen)."""
    price = 100.0 + (k % PRICE_LEVELS) / 100
    ts = msgspec.msgpack.Ext(-1, timestamp(ns))
    return msgspec.msgpack.encode({"T": "t", "S": symbol, "i": k + 1, "x": "V", "p": price, "s": 100, "t": ts})


def frame(quotes: list[bytes], symbol: str, first: int, count: int, ns: int) -> bytes:
    """Messages ``first`` .. ``first + count - 1`` of the sequence (every 10th a trade) as one msgpack array,
    the ``j``-th stamped ``ns + j``."""
    header = bytes((0x90 | count,)) if count < 16 else b"\xdc" + count.to_bytes(2, "big")
    parts = [header]
    for j, k in enumerate(range(first, first + count)):
        if k % 10 == 9:
            parts.append(trade(symbol, k, ns + j))
        else:
            parts.append(quotes[k % PRICE_LEVELS])
            parts.append(timestamp(ns + j))
    return b"".join(parts)


class Wire:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quotes = templates(args.symbol)
        self.stats: dict[str, Any] = {"messages": 0, "frames": 0, "seconds": 0.0, "max_behind": 0, "orders": 0}
        self.listeners: set[ServerConnection] = set()
        self.next_id = 0
        self.sending: set[asyncio.Future[None]] = set()

    def now(self) -> int:
        return time.time_ns() + self.args.shift_ns

    # -- data stream ----------------------------------------------------------------------------------------------

    async def data(self, ws: ServerConnection) -> None:
        pack = msgspec.msgpack.encode
        await ws.send(pack([{"T": "success", "msg": "connected"}]))
        await ws.recv()  # auth: any key
        await ws.send(pack([{"T": "success", "msg": "authenticated"}]))
        sub = msgspec.msgpack.decode(await ws.recv())
        await ws.send(pack([{"T": "subscription", "trades": sub.get("trades", []), "quotes": sub.get("quotes", [])}]))
        await asyncio.sleep(self.args.warmup)
        await self.pace(ws)
        await ws.wait_closed()

    async def pace(self, ws: ServerConnection) -> None:
        rate, batch = self.args.rate, self.args.batch
        total = int(rate * self.args.seconds)
        quotes, symbol, stats = self.quotes, self.args.symbol, self.stats
        shift = self.args.shift_ns
        sent = 0
        start = time.perf_counter()
        while sent < total:
            due = min(total, int((time.perf_counter() - start) * rate) + 1)
            stats["max_behind"] = max(stats["max_behind"], due - sent)
            while sent < due:
                n = min(batch, total - sent)
                await ws.send(frame(quotes, symbol, sent, n, time.time_ns() + shift))
                sent += n
                stats["messages"] = sent
                stats["frames"] += 1
            await asyncio.sleep(0.0002)
        stats["seconds"] = time.perf_counter() - start

    # -- trade_updates --------------------------------------------------------------------------------------------

    async def updates(self, ws: ServerConnection) -> None:
        await ws.recv()
        await ws.send(json.dumps({"stream": "authorization", "data": {"status": "authorized", "action": "auth"}}))
        await ws.recv()
        await ws.send(json.dumps({"stream": "listening", "data": {"streams": ["trade_updates"]}}))
        self.listeners.add(ws)
        try:
            await ws.wait_closed()
        finally:
            self.listeners.discard(ws)

    # -- trading REST ---------------------------------------------------------------------------------------------

    def order(self, body: dict[str, Any], status: str) -> dict[str, Any]:
        now = rfc3339(self.now())
        return {
            "id": body["id"],
            "client_order_id": body["client_order_id"],
            "symbol": body["symbol"],
            "side": body["side"],
            "type": body["type"],
            "time_in_force": body["time_in_force"],
            "qty": body["qty"],
            "filled_qty": "0",
            "filled_avg_price": None,
            "limit_price": body.get("limit_price"),
            "stop_price": body.get("stop_price"),
            "status": status,
            "created_at": now,
            "updated_at": now,
        }

    def answer(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        route = path.split("?", 1)[0]
        if method == "POST" and route == "/v2/orders":
            request = json.loads(body)
            self.next_id += 1
            self.stats["orders"] += 1
            request["id"] = f"bench-{self.next_id}"
            asyncio.get_running_loop().call_soon(self.cancel, request)
            return 200, self.order(request, "new")
        if route == "/v2/clock":
            return 200, {"timestamp": rfc3339(self.now()), "is_open": True}
        if route == "/v2/account":
            return 200, {"cash": "10000000", "buying_power": "10000000", "status": "ACTIVE"}
        if route in ("/v2/positions", "/v2/orders"):
            return 200, []
        if route == "/bench/stats":
            return 200, self.stats
        return 404, {"code": 40410000, "message": "not found"}

    def cancel(self, request: dict[str, Any]) -> None:
        update = {
            "event": "canceled",
            "timestamp": rfc3339(self.now()),
            "order": self.order(request, "canceled"),
        }
        text = json.dumps({"stream": "trade_updates", "data": update})
        for ws in list(self.listeners):
            task = asyncio.ensure_future(ws.send(text))
            self.sending.add(task)
            task.add_done_callback(self.sending.discard)

    async def rest(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    if line[:15].lower() == "content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length) if length else b""
                status, payload = self.answer(method, path, body)
                data = json.dumps(payload).encode()
                writer.write(
                    f"HTTP/1.1 {status} {'OK' if status == 200 else 'Not Found'}\r\nContent-Type: application/json"
                    f"\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                    + data
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def main(args: argparse.Namespace) -> None:
    wire = Wire(args)
    rest = await asyncio.start_server(wire.rest, "127.0.0.1", 0)
    async with (
        serve(wire.data, "127.0.0.1", 0, max_size=None, compression=None) as data,
        serve(wire.updates, "127.0.0.1", 0, compression=None) as updates,
    ):
        port = {name: s.sockets[0].getsockname()[1] for name, s in (("rest", rest), ("data", data), ("tu", updates))}
        print(
            json.dumps(
                {
                    "trading": f"http://127.0.0.1:{port['rest']}",
                    "data_stream": f"ws://127.0.0.1:{port['data']}/v2/iex",
                    "trade_stream": f"ws://127.0.0.1:{port['tu']}/stream",
                }
            ),
            flush=True,
        )
        await asyncio.Future()  # until killed


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--symbol", default="AAPL")
    parser.add_argument("--shift-ns", type=int, default=0)
    asyncio.run(main(parser.parse_args()))
