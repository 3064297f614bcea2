"""The paper venue served on loopback for the order adapter's tests: REST, the trade_updates stream, faults.

Time on the venue moves only when a test steps it over HTTP (``POST /tapeflow/step``), so the hub publishes on the
server's own loop, as it must. Every wait here is bounded: a hung socket fails the test, it never hangs it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from tapeflow.data.lobster_events import iter_events
from tapeflow.engine.inbox import Inbox
from tapeflow.live.alpaca_venue import AlpacaVenue
from tapeflow.live.backoff import BackoffConfig
from tapeflow.model.enums import OrderType, Side
from tapeflow.model.events import Event
from tapeflow.model.orders import OrderFilled, SubmitOrder
from tapeflow.node import NodeConfig
from tapeflow.paper.app import ServerThread, create_app
from tapeflow.paper.auth import fixed_keys
from tapeflow.paper.faults import ADMIN_PATH, Faults
from tapeflow.paper.trade_stream import TradeUpdateHub, trade_stream_route
from tapeflow.paper.venue import PaperVenue

KEY = "PKTEST"
SECRET = "SKTEST"
HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
TOKEN = "admin-token"
MS = 1_000_000
FAST_STREAM = BackoffConfig(initial=0.05, cap=0.2, floor=0.01)
FAST_REST = BackoffConfig(initial=0.05, cap=0.3, floor=0.01, max_attempts=6)


def aapl_tape(data_dir: Path) -> Path:
    return data_dir / "lobster-samples-2012-06-21" / "LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"


def wait_for(condition: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


class Paper:
    """A stepped paper venue over the AAPL day (a book on both sides already), served with its stream and faults."""

    def __init__(self, tape: Path, *, config: NodeConfig | None = None) -> None:
        """``config``: the venue's node (L3 without latency by default: an order reaches the book as it is sent;
        with an entry latency it waits, ``pending_new``, until the tape's time is stepped past it)."""
        self.hub = TradeUpdateHub()
        self.faults = Faults(hubs={"trade_updates": self.hub})
        self.venue = PaperVenue(iter_events(tape), config=config or NodeConfig(level="L3"), trade_hub=self.hub)
        self.venue.step_events(2_000)
        check = fixed_keys(KEY, SECRET)
        app = create_app(
            self.venue,
            check=check,
            extra_routes=[trade_stream_route(self.hub, check)],
            admin_token=TOKEN,
            faults=self.faults,
        )
        self.server = ServerThread(app).start()
        self.url = self.server.url
        self.stream_url = "ws" + self.url.removeprefix("http") + "/stream"

    def stop(self) -> None:
        self.server.stop()

    def step(self, ms: int = 5) -> None:
        answer = requests.post(
            f"{self.url}/tapeflow/step", json={"until": self.venue.now + ms * MS}, headers=HEADERS, timeout=10
        )
        assert answer.status_code == 200, answer.text

    def fault(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = requests.post(f"{self.url}{ADMIN_PATH}", json=body, headers={"X-Tapeflow-Admin": TOKEN}, timeout=10)
        assert answer.status_code == 201, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def rest(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = requests.request(method, f"{self.url}{path}", headers=HEADERS, timeout=10, **kwargs)
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None

    def best(self) -> tuple[int, int]:
        book = self.venue.node.books.book("AAPL")
        assert book is not None and book.best_bid and book.best_ask
        return book.best_bid, book.best_ask

    def filled(self) -> dict[str, int]:
        """Filled shares per client order id of the venue's records (replacements under their original's id)."""
        out: dict[str, int] = {}
        for order in self.venue.orders():
            base = order.client_order_id.split(".r")[0]
            out[base] = max(out.get(base, 0), order.filled_qty)
        return out

    def position(self) -> int:
        return self.venue.node.portfolio.quantity("AAPL")


def adapter(paper: Paper, inbox: Inbox, *, idle_s: float = 5.0, strategies: tuple[str, ...] = ("s",)) -> AlpacaVenue:
    return AlpacaVenue(
        base_url=paper.url,
        stream_url=paper.stream_url,
        key=KEY,
        secret=SECRET,
        inbox=inbox,
        strategies=strategies,
        name="alpaca",
        rest_backoff=FAST_REST,
        stream_backoff=FAST_STREAM,
        idle_s=idle_s,
        ping_s=2.0,
    )


def submit(cid: str, price: int, quantity: int = 100, side: Side = Side.BUY, strategy: str = "s") -> SubmitOrder:
    return SubmitOrder(
        ts_event=1,
        ts_init=1,
        strategy_id=strategy,
        client_order_id=cid,
        symbol="AAPL",
        side=side,
        order_type=OrderType.LIMIT,
        quantity=quantity,
        price=price,
        venue="alpaca",
    )


class Recorded:
    """What an adapter posted to its inbox, drained as it arrives."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.events: list[Event] = []

    def take(self) -> list[Event]:
        self.events.extend(self.inbox.drain())
        return self.events

    def of(self, kind: type[Event]) -> list[Any]:
        return [e for e in self.take() if isinstance(e, kind)]

    def filled(self, cid: str) -> int:
        return sum(f.quantity for f in self.of(OrderFilled) if f.client_order_id == cid)


class Running:
    """An adapter started against ``paper`` (REST and its stream thread), with what it posted; ``close`` stops it."""

    def __init__(self, paper: Paper, *, idle_s: float = 5.0, strategies: tuple[str, ...] = ("s",)) -> None:
        self.inbox = Inbox()
        self.seen = Recorded(self.inbox)
        self.venue = adapter(paper, self.inbox, idle_s=idle_s, strategies=strategies)
        self.state = self.venue.start()
        self.venue.start_stream_thread()
        wait_for(lambda: self.venue.connected, "the stream to come up")

    def close(self) -> None:
        self.venue.stop()
