"""The dashboard's "replay mode" in one process, for the browser tests: ``tapeflow paper`` over the AAPL LOBSTER day
at 5x (a ``PaperServer`` on its own thread and loop) and ``tapeflow live`` on it with ``--dashboard`` (a
``LiveSession`` on another thread and loop), exactly the pair docs/LIVE.md starts from two terminals.

The session runs off the main thread so the tests can drive the browser meanwhile; its SIGINT/SIGTERM handlers,
which only the main thread may install, are left out (stopping is asked for with ``GracefulStop.request``, the
path a signal takes). The tests read the node through the dashboard's ``/snapshot`` (built on the node's loop) and
the venue through its REST API, never by reaching into another thread's objects. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import requests

from tapeflow.backtest.config import StrategyConfig
from tapeflow.live import shutdown
from tapeflow.live.backoff import BackoffConfig
from tapeflow.live.config import LiveConfig, LiveSection
from tapeflow.live.dashboard import DashboardConfig
from tapeflow.live.keys import Keys
from tapeflow.live.session import LiveResult, LiveSession
from tapeflow.paper.auth import fixed_keys
from tapeflow.paper.config import load_paper_config
from tapeflow.paper.server import PaperServer

KEY, SECRET = "PKTEST", "SKTEST"
HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
TOKEN = "browser-test-token-0123456789abcdef"
LOBSTER = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
START_S = 60.0
STOP_S = 30.0


def _no_signal_handlers(
    loop: asyncio.AbstractEventLoop, handler: Callable[[Any], None], signals: Iterable[Any]
) -> Callable[[], None]:
    return lambda: None


class Replay:
    """The paper venue and a live node with its dashboard, each on its own thread; ``close`` stops both."""

    def __init__(self, data_dir: Path, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        config = tmp / "paper.toml"
        config.write_text(
            f'[data]\nkind = "lobster"\npaths = ["{data_dir / LOBSTER}"]\n[paper]\nspeed = "5x"\n', encoding="utf-8"
        )
        self.paper = PaperServer(load_paper_config(config), check=fixed_keys(KEY, SECRET))
        self.url = self.paper.urls.rest
        self._paper_thread = threading.Thread(target=asyncio.run, args=(self.paper.serve(),), daemon=True)
        self._paper_thread.start()
        self._wait(lambda: self.paper.server.started, "the paper venue to serve")
        monkeypatch.setattr(shutdown, "install_handlers", _no_signal_handlers)
        cfg = LiveConfig(
            live=LiveSection(
                url=self.url,
                symbols=("AAPL",),
                stale_after_s=30.0,
                silent_reconnect_s=60.0,
                backoff=BackoffConfig(initial=0.1, cap=1.0, floor=0.05),
            ),
            strategy=StrategyConfig(name="ema_quote_cross", params={"fast": 5, "slow": 15, "quantity": 100}),
        )
        self.session = LiveSession(
            cfg,
            Keys(key_id=KEY, secret_key=SECRET, source="test"),
            console=False,
            dashboard=DashboardConfig(token=TOKEN),
        )
        assert self.session.dashboard is not None
        self.dashboard = self.session.dashboard.url.rstrip("/")
        self.result: LiveResult | None = None
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._live_thread = threading.Thread(target=self._run, daemon=True)
        self._live_thread.start()
        self._wait(lambda: self._serving(), "the dashboard to serve")

    def _run(self) -> None:
        async def main() -> LiveResult:
            self._loop = asyncio.get_running_loop()
            return await self.session.run()

        try:
            self.result = asyncio.run(main())
        except BaseException as exc:  # handed to the test thread
            self.error = exc

    def _serving(self) -> bool:
        assert self.error is None, self.error
        try:
            return requests.get(self.dashboard + "/snapshot", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def _wait(self, condition: Callable[[], object], what: str, timeout: float = START_S) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    def snapshot(self) -> dict[str, Any]:
        """The dashboard's current frame, built on the node's loop."""
        answer = requests.get(self.dashboard + "/snapshot", timeout=10)
        assert answer.status_code == 200, answer.text
        frame: dict[str, Any] = answer.json()
        return frame

    def on_loop(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the node's loop, where its kernel runs, between two of its dispatches."""
        assert self._loop is not None, "the node's loop is not running"
        self._loop.call_soon_threadsafe(fn)

    def venue(self, path: str, **params: str) -> Any:
        answer = requests.get(self.url + path, params=params, headers=HEADERS, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def venue_position(self, symbol: str = "AAPL") -> int:
        return sum(int(p["qty"]) for p in self.venue("/v2/positions") if p["symbol"] == symbol)

    def venue_orders(self) -> int:
        return len(self.venue("/v2/orders", status="all", limit="500"))

    def close(self) -> None:
        try:
            loop = self._loop
            if loop is not None and self._live_thread.is_alive():
                loop.call_soon_threadsafe(self.session.stop.request, "browser tests done")
            self._live_thread.join(STOP_S)
            assert not self._live_thread.is_alive(), "the live session did not stop"
        finally:
            self.paper.server.should_exit = True
            self._paper_thread.join(STOP_S)
