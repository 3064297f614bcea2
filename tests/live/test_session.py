"""``tapeflow live``'s session end to end: the node trades on a running ``tapeflow paper`` (a subprocess, paced),
is stopped through its control socket, and ends with the venue's orders, fills and position, none lost or doubled.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import requests

from tapeflow.backtest.config import StrategyConfig
from tapeflow.live.backoff import BackoffConfig
from tapeflow.live.config import LiveConfig, LiveSection
from tapeflow.live.keys import Keys
from tapeflow.live.market_config import MarketFeedConfig
from tapeflow.live.session import LiveSession
from tapeflow.model.orders import OrderFilled

KEY, SECRET = "PKTEST", "SKTEST"
HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
LOBSTER = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"


@pytest.fixture
def paper(tmp_path: Path, data_dir: Path) -> Iterator[str]:
    """``tapeflow paper`` on the AAPL day at 5x, on a free port; its trading URL."""
    config = tmp_path / "paper.toml"
    config.write_text(f'[data]\nkind = "lobster"\npaths = ["{data_dir / LOBSTER}"]\n', encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tapeflow", "paper", str(config), "--port", "0", "--speed", "5x",
         "--key", KEY, "--secret", SECRET],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert proc.stdout is not None
    url = ""
    deadline = time.monotonic() + 60
    while not url:
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        line = proc.stdout.readline()
        if line.startswith("paper venue on "):
            url = line.split()[-1]
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _config(url: str, sock: Path) -> LiveConfig:
    return LiveConfig(
        live=LiveSection(
            url=url,
            symbols=("AAPL",),
            control_socket=str(sock),
            stale_after_s=30.0,
            silent_reconnect_s=60.0,
            backoff=BackoffConfig(initial=0.1, cap=1.0, floor=0.05),
        ),
        strategy=StrategyConfig(name="ema_quote_cross", params={"fast": 5, "slow": 15, "quantity": 100}),
    )


async def _stop_when(session: LiveSession, sock: Path, fills: int, timeout: float) -> dict[str, Any]:
    """Once the node holds ``fills`` fills (or ``timeout`` passed), ask it to stop over the control socket."""
    deadline = time.monotonic() + timeout
    while len(session.node.node.results.fills) < fills and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    reader, writer = await asyncio.open_unix_connection(str(sock))
    writer.write(b'{"cmd": "stop", "reason": "test done"}\n')
    await writer.drain()
    reply: dict[str, Any] = json.loads(await asyncio.wait_for(reader.readline(), 10))
    writer.close()
    return reply


def test_a_live_session_trades_on_the_paper_venue_stops_on_request_and_ends_equal_to_the_venue(
    paper: str, tmp_path: Path
) -> None:
    sock = tmp_path / "live.sock"
    session = LiveSession(_config(paper, sock), Keys(key_id=KEY, secret_key=SECRET, source="test"), console=False)

    async def main() -> tuple[Any, dict[str, Any]]:
        run = asyncio.ensure_future(session.run())
        while not sock.exists():
            assert not run.done(), run.exception()
            await asyncio.sleep(0.05)
        reply = await _stop_when(session, sock, fills=4, timeout=40)
        return await asyncio.wait_for(run, 60), reply

    result, reply = asyncio.run(main())
    assert reply["ok"] is True
    assert result.stop.how == "graceful" and result.stop.reason == "test done"
    assert result.clock == "venue"
    node = session.node.node
    fills: list[OrderFilled] = node.results.fills
    assert len(fills) >= 4, "the strategy traded on the live feed"
    # the node's fills are the venue's, order by order, and its position is the venue's
    venue_orders = requests.get(
        f"{paper}/v2/orders", params={"status": "all", "limit": "500"}, headers=HEADERS, timeout=10
    ).json()
    venue_filled = {o["client_order_id"]: int(o["filled_qty"]) for o in venue_orders if int(o["filled_qty"])}
    node_filled: dict[str, int] = {}
    for f in fills:
        node_filled[f.client_order_id] = node_filled.get(f.client_order_id, 0) + f.quantity
    assert node_filled == venue_filled
    positions = requests.get(f"{paper}/v2/positions", headers=HEADERS, timeout=10).json()
    venue_qty = sum(int(p["qty"]) for p in positions if p["symbol"] == "AAPL")
    assert node.portfolio.quantity("AAPL") == venue_qty
    # a graceful stop with cancel_on_stop leaves nothing working at the venue
    assert requests.get(f"{paper}/v2/orders", params={"status": "open"}, headers=HEADERS, timeout=10).json() == []
    assert result.feed["malformed"] == 0 and result.feed["rows"] > 0
    assert result.orders["given_up"] == 0
    assert node.execution.refused_reports == 0
    assert all(cid.startswith(f"ema-quote-cross-{session.run_id}-") for cid in node_filled)
    assert not sock.exists(), "the control socket is removed when the run ends"


def test_the_backfill_lookback_of_the_live_section_reaches_the_market_feed(tmp_path: Path) -> None:
    cfg = _config("http://127.0.0.1:1", tmp_path / "live.sock")
    cfg = msgspec.structs.replace(cfg, live=msgspec.structs.replace(cfg.live, backfill_lookback_s=2.5))
    session = LiveSession(cfg, Keys(key_id=KEY, secret_key=SECRET, source="test"), console=False)
    assert session.feed.config.backfill_lookback == 2.5
    assert (
        LiveSection().backfill_lookback_s == MarketFeedConfig(url="ws://127.0.0.1:1", symbols=("A",)).backfill_lookback
    )
