"""A ``tapeflow paper`` subprocess (faults on, journal optional) and what the end-to-end live tests ask of it.

The venue runs as the command a user runs, paced (tape time moves by itself) or stepped by the test; the node runs
as a ``LiveSession`` in-process (so a test can read its state) or as ``tapeflow live`` (to kill it). Everything a
test waits for has a deadline: a hung socket fails the test instead of hanging the suite. The test's own blocking
calls (REST, faults) go to a thread, so the node, on the same event loop, never waits on them.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import requests

from tapeflow.backtest.config import AuditSection, StrategyConfig
from tapeflow.compliance.audit import decode_row
from tapeflow.compliance.audit_store import SqliteAuditStore
from tapeflow.live.backoff import BackoffConfig
from tapeflow.live.config import LiveConfig, LiveSection
from tapeflow.live.keys import Keys
from tapeflow.live.session import LiveResult, LiveSession
from tapeflow.model.enums import OrderStatus
from tapeflow.model.events import Event
from tapeflow.model.orders import OrderFilled
from tapeflow.node.assembly import TradingNode
from tapeflow.risk.config import RiskConfig

KEY, SECRET, TOKEN = "PKTEST", "SKTEST", "e2e-admin-token"
HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
KEYS = Keys(key_id=KEY, secret_key=SECRET, source="test")
LOBSTER = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
STRATEGIES = Path(__file__).with_name("live_strategies.py")
CLOSED = frozenset({"filled", "canceled", "expired", "rejected", "replaced", "done_for_day"})
"""Alpaca's statuses of an order that can no longer fill (any other is open: pending_cancel still can)."""
FAST = BackoffConfig(initial=0.05, cap=0.5, floor=0.02)


class PaperProcess:
    """``tapeflow paper`` on the AAPL day, on a free port, with the faults route (and a journal when given)."""

    def __init__(self, tmp: Path, data_dir: Path, *, speed: str = "20x", journal: Path | None = None) -> None:
        config = tmp / "paper.toml"
        config.write_text(f'[data]\nkind = "lobster"\npaths = ["{data_dir / LOBSTER}"]\n', encoding="utf-8")
        args = [sys.executable, "-m", "tapeflow", "paper", str(config), "--port", "0", "--speed", speed,
                "--key", KEY, "--secret", SECRET]  # fmt: skip
        if journal is not None:
            args += ["--journal", str(journal)]
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "COLUMNS": "200", "TAPEFLOW_ADMIN_TOKEN": TOKEN},
        )
        assert self.proc.stdout is not None
        self.url = ""
        deadline = time.monotonic() + 60
        while not self.url:
            assert time.monotonic() < deadline and self.proc.poll() is None, (
                self.proc.stderr and self.proc.stderr.read()
            )
            line = self.proc.stdout.readline()
            if line.startswith("paper venue on "):
                self.url = line.split()[-1]

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    # -- blocking calls (from a thread when a node runs on the test's loop) -------------------------------------

    def get(self, path: str, **params: str) -> Any:
        answer = requests.get(f"{self.url}{path}", params=params, headers=HEADERS, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def fault(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = requests.post(
            f"{self.url}/tapeflow/faults", json=body, headers={"X-Tapeflow-Admin": TOKEN}, timeout=10
        )
        assert answer.status_code == 201, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def applied(self) -> dict[str, int]:
        """How many requests or messages each kind of fault acted on so far."""
        answer = requests.get(f"{self.url}/tapeflow/faults", headers={"X-Tapeflow-Admin": TOKEN}, timeout=10)
        assert answer.status_code == 200, answer.text
        applied: dict[str, int] = answer.json()["applied"]
        return applied

    def clear_faults(self) -> None:
        requests.delete(f"{self.url}/tapeflow/faults", headers={"X-Tapeflow-Admin": TOKEN}, timeout=10)

    def step(self, events: int) -> None:
        answer = requests.post(f"{self.url}/tapeflow/step", json={"events": events}, headers=HEADERS, timeout=30)
        assert answer.status_code == 200, answer.text

    def orders(self) -> list[dict[str, Any]]:
        orders: list[dict[str, Any]] = self.get("/v2/orders", status="all", limit="500", direction="asc")
        assert len(orders) < 500, "more orders than one page: the comparison would be partial"
        return orders

    def open_orders(self) -> list[dict[str, Any]]:
        return [o for o in self.orders() if o["status"] not in CLOSED]

    def position(self, symbol: str = "AAPL") -> int:
        return sum(int(p["qty"]) for p in self.get("/v2/positions") if p["symbol"] == symbol)


def serve_paper(tmp: Path, data_dir: Path, *, speed: str = "20x") -> Iterator[PaperProcess]:
    """A fixture's body (``yield from``): the paper venue served for one test, closed after it whatever happens."""
    venue = PaperProcess(tmp, data_dir, speed=speed)
    try:
        yield venue
    finally:
        venue.close()


def live_config(
    paper: PaperProcess,
    tmp: Path,
    *,
    strategy: StrategyConfig | None = None,
    risk: RiskConfig | None = None,
    audit: bool = True,
    **live: Any,
) -> LiveConfig:
    """The session's configuration: the Rester by default, a control socket, the audit trail, fast backoff."""
    section: dict[str, Any] = {
        "url": paper.url,
        "symbols": ("AAPL",),
        "control_socket": str(tmp / "live.sock"),
        "stale_after_s": 30.0,
        "silent_reconnect_s": 60.0,
        "backoff": FAST,
        **live,
    }
    extra: dict[str, Any] = {} if risk is None else {"risk": risk}
    return LiveConfig(
        live=LiveSection(**section),
        strategy=strategy or StrategyConfig(name=f"{STRATEGIES}:Rester", params={"every": 10}),
        audit=AuditSection(path=str(tmp / "audit.db")) if audit else AuditSection(),
        **extra,
    )


async def until(condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        await asyncio.sleep(0.05)


async def control(sock: Path, request: dict[str, Any], timeout: float = 15.0) -> dict[str, Any]:
    reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(sock)), timeout)
    try:
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        reply: dict[str, Any] = json.loads(await asyncio.wait_for(reader.readline(), timeout))
    finally:
        writer.close()
    return reply


def run_session(
    session: LiveSession, script: Callable[[LiveSession], Awaitable[None]], *, timeout: float = 180.0
) -> LiveResult:
    """Run ``session`` until ``script`` (given the running session) returns, then stop it over its control socket
    (a graceful stop: open orders cancelled); the run's result. ``timeout`` bounds a hung script, not a slow one:
    it returns as soon as its conditions hold."""
    sock = Path(str(session.cfg.live.control_socket))

    async def main() -> LiveResult:
        run = asyncio.ensure_future(session.run())
        try:
            await until(lambda: sock.exists() or run.done(), "the control socket")
            assert not run.done(), run.exception()
            await asyncio.wait_for(script(session), timeout)
            assert not run.done(), f"the session ended by itself: {run.exception() or run.result()}"
            reply = await control(sock, {"cmd": "stop", "reason": "test done"})
            assert reply["ok"] is True, reply
            return await asyncio.wait_for(run, 30)
        finally:
            if not run.done():
                run.cancel()

    return asyncio.run(main())


def node_of(session: LiveSession) -> TradingNode:
    return session.node.node


async def fills_at_least(session: LiveSession, n: int, timeout: float = 60.0) -> None:
    """Until the node holds ``n`` fills. The venue's tape and the node share the machine: with a core shared by seven
    busy processes (the CI machine's load), two fills took over 20 s, so the bound is a minute."""
    node = node_of(session)
    try:
        await until(lambda: len(node.results.fills) >= n, f"{n} fills", timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; node: {node.stats()}") from None


def assert_node_equals_venue(node: TradingNode, paper: PaperProcess, *, prefix: str) -> dict[str, int]:
    """The node's orders, fills and position against the venue's REST: none lost, none doubled, none unknown.

    Only orders whose client order id starts with ``prefix`` (this run's) are compared order by order; the
    position is the account's. Returns counts for the caller's own assertions."""
    venue = {o["client_order_id"]: o for o in paper.orders() if o["client_order_id"].startswith(prefix)}
    mine = {o.client_order_id: o for o in node.execution.orders() if o.client_order_id.startswith(prefix)}
    unknown = venue.keys() - mine.keys()
    assert not unknown, f"orders at the venue the node does not know: {sorted(unknown)[:5]}"
    lost = [
        cid for cid, o in mine.items() if cid not in venue and o.status not in (OrderStatus.REJECTED,)
    ]  # refused while the venue was down never left the node
    assert not lost, f"orders the node thinks it sent that the venue never saw: {lost[:5]}"
    fills: dict[str, int] = {}
    executions: dict[tuple[str, str], list[int]] = {}
    for f in node.results.fills:
        assert isinstance(f, OrderFilled)
        fills[f.client_order_id] = fills.get(f.client_order_id, 0) + f.quantity
        executions.setdefault((f.client_order_id, f.trade_id), []).append(f.price)
    for key, prices in executions.items():
        # one execution is one fill, or two one price unit apart: the ledger's exact split of a fill it priced from
        # the order's average (an update overtaken by a later one); a fill applied twice repeats its price
        assert len(prices) == 1 or (len(prices) == 2 and abs(prices[0] - prices[1]) == 1), (key, prices)
    for cid, o in venue.items():
        node_order = mine[cid]
        assert int(o["filled_qty"]) == node_order.filled_quantity, (cid, o["status"], node_order.status)
        assert int(o["filled_qty"]) == fills.get(cid, 0), (cid, "fills", fills.get(cid, 0), o["filled_qty"])
        venue_open = o["status"] not in CLOSED
        assert venue_open == node_order.is_open, (cid, o["status"], node_order.status)
    assert node.portfolio.quantity("AAPL") == paper.position(), "the node's position is the venue's"
    return {
        "orders": len(venue),
        "filled_orders": sum(1 for o in venue.values() if int(o["filled_qty"])),
        "fills": sum(len(p) for p in executions.values()),
        "open": sum(1 for o in mine.values() if o.is_open),
    }


def audit_events(path: Path) -> list[Event]:
    store = SqliteAuditStore(path)
    try:
        return [decode_row(row)[0] for row in store.rows()]
    finally:
        store.close()


def kinds(events: list[Event]) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in events:
        out[type(e).__name__] = out.get(type(e).__name__, 0) + 1
    return out


def watch(session: LiveSession, *types: type[Event]) -> list[Event]:
    """Events of ``types`` as the node's kernel handles them (appended in order while the session runs)."""
    seen: list[Event] = []
    for t in types:
        node_of(session).kernel.subscribe(t, seen.append)
    return seen


# -- `tapeflow live` as a process (to kill it, or to reach it with `tapeflow kill`) ---------------------------------


def live_toml(
    paper: PaperProcess, tmp: Path, *, strategy: str = "Rester", params: str = "{ every = 10 }", extra: str = ""
) -> Path:
    """A ``tapeflow live`` configuration for ``paper`` in ``tmp``: control socket, audit trail, fast backoff."""
    path = tmp / "live.toml"
    path.write_text(
        f"""[live]
url = "{paper.url}"
symbols = ["AAPL"]
control_socket = "live.sock"
stale_after_s = 30.0
silent_reconnect_s = 60.0
cancel_on_stop = true

[live.backoff]
initial = 0.05
cap = 0.5
floor = 0.02

[strategy]
name = "{STRATEGIES}:{strategy}"
params = {params}

[audit]
path = "audit.db"
{extra}""",
        encoding="utf-8",
    )
    return path


class LiveProcess:
    """``tapeflow live CONFIG --json --quiet``: up once its control socket is there; ``result`` after it ends."""

    def __init__(self, config: Path) -> None:
        self.sock = config.parent / "live.sock"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tapeflow", "live", str(config), "--json", "--quiet"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=config.parent,
            env={**os.environ, "COLUMNS": "200", "APCA_API_KEY_ID": KEY, "APCA_API_SECRET_KEY": SECRET},
        )

    def wait_up(self, timeout: float = 30.0) -> None:
        """Until the node answers on its control socket (a socket file left by a killed node does not count)."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, self.proc.communicate(timeout=10)
            assert time.monotonic() < deadline, "tapeflow live did not open its control socket"
            if self.sock.exists():
                try:
                    asyncio.run(control(self.sock, {"cmd": "status"}, timeout=2))
                    return
                except (OSError, TimeoutError):
                    pass
            time.sleep(0.1)

    def status(self) -> dict[str, Any]:
        return asyncio.run(control(self.sock, {"cmd": "status"}))

    def finish(self, timeout: float = 30.0) -> tuple[int, dict[str, Any] | None, str]:
        """Exit status, the result object of ``--json`` (None if none was printed), stderr."""
        out, err = self.proc.communicate(timeout=timeout)
        result = None
        for line in out.splitlines():
            if line.startswith("{"):
                body = json.loads(line)
                result = body.get("result", result)
        return self.proc.returncode, result, err

    def kill_hard(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=20)


class Pump:
    """Moves a stepped venue's tape in a thread (``events`` tape events every ``every_s``) while ``on``; off, the
    venue stands still, so what the node and the venue say can be compared exactly."""

    def __init__(self, paper: PaperProcess, *, events: int = 100, every_s: float = 0.02) -> None:
        self.paper, self.events, self.every_s = paper, events, every_s
        self.error = ""
        """Why the pump stopped by itself (said by ``off`` and ``close``, so a failed step fails the test)."""
        self._on = threading.Event()
        self._stepping = threading.Lock()
        """Held by the pump's thread while a step is asked for and answered."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pump", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._on.wait(0.05) and not self._stop.is_set():
                with self._stepping:
                    if not self._on.is_set():  # turned off while this thread waited for the lock
                        continue
                    try:
                        answer = requests.post(
                            f"{self.paper.url}/tapeflow/step", json={"events": self.events}, headers=HEADERS, timeout=30
                        )
                    except requests.RequestException as exc:
                        self.error = f"step failed: {exc}"
                        return
                    if answer.status_code != 200:
                        self.error = f"step answered {answer.status_code}: {answer.text}"
                        return
                time.sleep(self.every_s)

    def on(self) -> None:
        self._on.set()

    def off(self) -> None:
        """Returns once the venue stands still: a step in flight has been answered, and no other starts."""
        self._on.clear()
        with self._stepping:  # a 0.3 s pause stood here, shorter than a step takes on a loaded machine
            pass
        assert not self.error, self.error

    def close(self) -> None:
        self._stop.set()
        self._on.set()
        self._thread.join(timeout=30)
        assert not self.error, self.error


def settle(condition: Callable[[], bool], what: str, timeout: float = 15.0, show: Callable[[], object] = str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what} {show()}"
        time.sleep(0.1)


def quiesce(paper: PaperProcess, limit: int = 400) -> None:
    """Step a stopped venue one tape event at a time until no order of it is pending (``pending_new``,
    ``pending_cancel``: on their way to the simulated exchange, which only the tape's time brings there)."""
    for _ in range(limit):
        if not any(o["status"].startswith("pending_") for o in paper.orders()):
            return
        paper.step(1)
        time.sleep(0.02)
    raise AssertionError("the venue kept orders pending")
