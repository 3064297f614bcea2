"""The live dashboard's server: frames pushed over the websocket at a bounded rate as the node runs; the kill needs
the token (without it: 403, counted, recorded, nothing changes), with it the node's switch engages by the control
socket's path; foreign hosts and origins are refused; ``--dashboard``'s address is checked before anything binds.

A ``LiveNode`` runs in real time on a replayed LOBSTER tape with the simulated exchange (``helpers``), the
dashboard on its loop; clients are real sockets on 127.0.0.1. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from hypothesis import given
from hypothesis import strategies as st
from websockets.exceptions import InvalidStatus

from tapeflow.live import LiveNode
from tapeflow.live.clock import RealTimeClock
from tapeflow.live.control_desk import ControlDesk
from tapeflow.live.dashboard import Dashboard, DashboardConfig, build_dashboard, dashboard_address
from tapeflow.live.dashboard_state import RecentSignals
from tapeflow.live.snapshot import Monitors
from tapeflow.model import ConfigError, Event
from tapeflow.model.risk_events import KillSwitchChanged, OperatorCommand
from tests.live.helpers import WAIT_S, Rester, ShiftedClock, _feed, load_tape, node_config, until

TOKEN = "dashboard-token-for-the-tests-0123"


@pytest.fixture(scope="module")
def tape(data_dir: Path) -> list[Event]:
    return load_tape(data_dir)


class Board:
    """A running node with its dashboard, and the operator commands and kill switch changes it saw."""

    def __init__(self, node: LiveNode, dashboard: Dashboard, strategy: Rester) -> None:
        self.node = node
        self.dashboard = dashboard
        self.strategy = strategy
        self.commands: list[OperatorCommand] = []
        self.changes: list[KillSwitchChanged] = []
        self.url = dashboard.url.rstrip("/")

    def open_orders(self) -> list[Any]:
        return list(self.node.node.execution.open_orders())

    async def post_kill(self, headers: dict[str, str], body: bytes | None = b'{"reason": "test"}') -> httpx.Response:
        async with httpx.AsyncClient(timeout=WAIT_S) as client:
            return await client.post(f"{self.url}/kill", headers=headers, content=body)


@contextlib.asynccontextmanager
async def running_board(tape: list[Event], *, interval_s: float = 0.25) -> AsyncIterator[Board]:
    strategy = Rester()
    desk = ControlDesk()
    monitors = Monitors()
    recent = RecentSignals()
    wall = RealTimeClock(ShiftedClock(tape[0].ts_event))
    node = LiveNode(
        [strategy], config=node_config(None), extra=[*monitors.components, desk, recent], wall=wall, run_id="t"
    )
    desk.bind(node.node)
    dashboard = build_dashboard(
        DashboardConfig(token=TOKEN, interval_s=interval_s),
        snapshot=monitors.builder(node.node, clock=wall).take,
        recent=recent,
        inbox=node.inbox,
        desk=desk,
        now=wall.now,
        run_id="t",
        venue="sim",
    )
    board = Board(node, dashboard, strategy)
    node.kernel.subscribe(OperatorCommand, board.commands.append)
    node.kernel.subscribe(KillSwitchChanged, board.changes.append)
    await dashboard.start()
    task = asyncio.create_task(node.run(_feed(tape, strategy.warmup, 0.0005), realtime=True))
    try:
        await until(lambda: task.done() or len(board.open_orders()) >= strategy.resting, "the resting orders")
        assert not task.done(), task.exception()
        yield board
    finally:
        node.stop_feed()
        try:
            await asyncio.wait_for(task, WAIT_S)
        finally:
            await dashboard.close()


def _taken(frame: dict[str, Any]) -> int:
    """When the dashboard took ``frame`` (its node snapshot's wall time, ns)."""
    return int(frame["node"]["ts"])


def test_frames_arrive_over_the_websocket_at_most_4_a_second_and_follow_the_node(tape: list[Event]) -> None:
    async def scenario() -> None:
        async with running_board(tape) as board:
            ws_url = "ws" + board.url.removeprefix("http") + "/ws"
            async with websockets.connect(ws_url, open_timeout=WAIT_S) as ws:
                frames = [json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))]
                # 1.5 s of the frames' own time (each says when it was taken), not of this reader's: a reader held
                # up under load finds frames waiting in its socket and reads them all at once, so counting what
                # arrived in 1.5 s of its time counted more than 4 a second of the dashboard's
                while _taken(frames[-1]) - _taken(frames[0]) < 1_500_000_000:
                    frames.append(json.loads(await asyncio.wait_for(ws.recv(), WAIT_S)))
            seqs = [f["seq"] for f in frames]
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
            span = _taken(frames[-1]) - _taken(frames[0])
            # the frame sent on connecting, then the pump's, at least 250 ms apart
            assert 3 <= len(frames) <= 1 + span // 250_000_000 + 1, f"{len(frames)} frames in {span} ns: unbounded"
            events = [f["node"]["feed_events"] for f in frames]
            assert events[-1] > events[0], "the frames follow the running node"
            last = frames[-1]
            assert last["run_id"] == "t" and last["venue"] == "sim" and last["ended"] is False
            assert last["node"]["open_order_count"] == 3
            rested = [s for s in last["signals"] if s["kind"] == "order"]
            assert len(rested) == 3 and {s["reason"] for s in rested} == {"rest"}
            assert all(s["what"].startswith("BUY 100 @ ") for s in rested)
            assert board.dashboard.sent >= len(frames)

    asyncio.run(asyncio.wait_for(scenario(), 4 * WAIT_S))


def test_a_kill_without_or_with_a_wrong_token_is_refused_recorded_and_changes_nothing(tape: list[Event]) -> None:
    async def scenario() -> None:
        async with running_board(tape) as board:
            none = await board.post_kill({})
            wrong = await board.post_kill({"Authorization": f"Bearer {TOKEN}x"})
            not_bearer = await board.post_kill({"Authorization": TOKEN})
            assert [r.status_code for r in (none, wrong, not_bearer)] == [403, 403, 403]
            assert none.json()["code"] == "unauthorized" and "no token" in none.json()["error"]
            await until(lambda: len(board.commands) == 3, "the refusals in the record")
            assert [(c.command, c.accepted, c.detail) for c in board.commands] == [
                ("kill", False, "no token"),
                ("kill", False, "wrong token"),
                ("kill", False, "wrong token"),
            ]
            assert all(c.origin.startswith("dashboard:127.0.0.1:") for c in board.commands)
            assert board.dashboard.lever.refused == 3
            assert not board.node.node.risk.kill_switch.engaged and board.changes == []
            assert len(board.open_orders()) == 3, "nothing was cancelled"
            async with httpx.AsyncClient(timeout=WAIT_S) as client:
                frame = (await client.get(f"{board.url}/snapshot")).json()
            assert frame["kill_refused"] == 3 and frame["node"]["risk"]["kill_switch"] is False

    asyncio.run(asyncio.wait_for(scenario(), 4 * WAIT_S))


def test_a_kill_with_the_token_engages_the_switch_through_the_control_desk(tape: list[Event]) -> None:
    async def scenario() -> None:
        async with running_board(tape) as board:
            answer = await board.post_kill({"Authorization": f"Bearer {TOKEN}"}, b'{"reason": "seen on the page"}')
            assert answer.status_code == 200, answer.text
            reply = answer.json()
            assert reply["ok"] is True and reply["engaged"] is True and reply["already_engaged"] is False
            assert reply["cancelled_orders"] == 3 and reply["request"] == "dashboard#1"
            assert reply["reason"] == "seen on the page" and reply["source"] == "dashboard#1"
            assert board.node.node.risk.kill_switch.engaged
            assert [(c.source, c.engaged) for c in board.changes] == [("dashboard#1", True)]
            [command] = board.commands
            assert (command.command, command.accepted) == ("kill", True) and "dashboard#1" in command.detail
            await until(lambda: not board.open_orders(), "the cancels to be acknowledged")
            board.strategy.probe = True
            await until(lambda: bool(board.strategy.refused), "the probe order to be refused")
            assert board.strategy.refused[0].rule == "kill_switch"

    asyncio.run(asyncio.wait_for(scenario(), 4 * WAIT_S))


def test_a_kill_with_the_token_but_a_malformed_body_is_refused_and_counted(tape: list[Event]) -> None:
    async def scenario() -> None:
        async with running_board(tape) as board:
            auth = {"Authorization": f"Bearer {TOKEN}"}
            bodies = [b"{not json", b"[1, 2]", b'{"reason": 5}', b'{"reason": "' + b"x" * 600 + b'"}', b"x" * 5000]
            answers = [await board.post_kill(auth, body) for body in bodies]
            assert [a.status_code for a in answers] == [400] * len(bodies)
            assert {a.json()["code"] for a in answers} == {"malformed"}
            assert board.dashboard.lever.malformed == len(bodies) and board.dashboard.lever.refused == 0
            await until(lambda: len(board.commands) == len(bodies), "the malformed requests in the record")
            assert not any(c.accepted for c in board.commands)
            assert not board.node.node.risk.kill_switch.engaged and len(board.open_orders()) == 3

    asyncio.run(asyncio.wait_for(scenario(), 4 * WAIT_S))


def test_another_host_header_or_websocket_origin_is_refused(tape: list[Event]) -> None:
    async def scenario() -> None:
        async with running_board(tape) as board:
            async with httpx.AsyncClient(timeout=WAIT_S) as client:
                page = await client.get(f"{board.url}/")
                rebound = await client.get(f"{board.url}/snapshot", headers={"Host": "evil.example:80"})
            assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
            assert b'<script src="/dashboard.js"' in page.content
            assert rebound.status_code == 400 and board.dashboard.refused_hosts == 1
            ws_url = "ws" + board.url.removeprefix("http") + "/ws"
            with pytest.raises(InvalidStatus):
                async with websockets.connect(ws_url, origin="http://evil.example", open_timeout=WAIT_S):  # type: ignore[arg-type]
                    pass
            assert board.dashboard.refused_sockets == 1
            async with websockets.connect(ws_url, origin=board.url, open_timeout=WAIT_S) as ws:  # type: ignore[arg-type]
                assert json.loads(await asyncio.wait_for(ws.recv(), WAIT_S))["seq"] >= 1

    asyncio.run(asyncio.wait_for(scenario(), 4 * WAIT_S))


def test_the_dashboard_binds_loopback_unless_another_host_is_named_on_purpose() -> None:
    assert dashboard_address("8765") == ("127.0.0.1", 8765)
    assert dashboard_address("localhost:0") == ("localhost", 0)
    assert dashboard_address("[::1]:8765") == ("::1", 8765)
    assert dashboard_address("0.0.0.0:8765", "0.0.0.0") == ("0.0.0.0", 8765)
    assert dashboard_address("8765", "10.1.2.3") == ("10.1.2.3", 8765)
    for spec, host, field in [
        ("0.0.0.0:8765", None, "--dashboard"),
        ("10.1.2.3:8765", None, "--dashboard"),
        ("dashboard.example:8765", None, "--dashboard"),
        ("10.1.2.3:8765", "10.9.9.9", "--dashboard"),
        ("8765", " ", "--dashboard-host"),
        ("port", None, "--dashboard"),
        ("70000", None, "--dashboard"),
    ]:
        with pytest.raises(ConfigError) as caught:
            dashboard_address(spec, host)
        assert caught.value.field == field, spec


@given(st.integers(0, 65535), st.ip_addresses(v=4))
def test_any_port_binds_loopback_and_any_outside_address_needs_the_explicit_host(port: int, address: Any) -> None:
    assert dashboard_address(str(port)) == ("127.0.0.1", port)
    spec = f"{address}:{port}"
    if address.is_loopback:
        assert dashboard_address(spec) == (str(address), port)
    else:
        with pytest.raises(ConfigError):
            dashboard_address(spec)
        assert dashboard_address(spec, str(address)) == (str(address), port)


@given(st.text(max_size=30))
def test_any_text_as_the_address_is_an_address_or_a_config_error(spec: str) -> None:
    try:
        host, port = dashboard_address(spec)
    except ConfigError:
        return
    assert 0 <= port <= 65535 and host
