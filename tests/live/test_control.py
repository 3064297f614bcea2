"""The control socket of a running node: a kill reaches the kill switch through the inbox and is answered once the
node handled it; flatten closes every position; TCP needs the token; a bad line is answered, counted, recorded.

Each test runs a ``LiveNode`` in real time on a replayed LOBSTER tape with the simulated exchange (``helpers``)
and talks to it over a real socket; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.compliance.audit import AuditTrail, decode_row
from tapeflow.compliance.audit_store import SqliteAuditStore
from tapeflow.live.control import MAX_LINE, Control, ControlServer, bind_private_unix
from tapeflow.live.control_desk import ControlDesk
from tapeflow.model import ConfigError, Event
from tapeflow.model.orders import OrderCancelled
from tapeflow.model.risk_events import (
    FLATTEN_STRATEGY,
    KillSwitchChanged,
    OperatorCommand,
    PositionsFlattened,
)
from tapeflow.risk.killswitch import read_state
from tests.live.helpers import WAIT_S, Rester, load_tape, running_node, until

TOKEN = "t0ken-for-the-tests-0123456789"


@pytest.fixture(scope="module")
def tape(data_dir: Path) -> list[Event]:
    return load_tape(data_dir)


def _audited(path: Path) -> list[Event]:
    store = SqliteAuditStore(path)
    try:
        return [decode_row(row)[0] for row in store.rows()]
    finally:
        store.close()


def test_kill_over_the_unix_socket_cancels_open_orders_refuses_new_ones_and_writes_the_state(
    tape: list[Event], tmp_path: Path
) -> None:
    state = tmp_path / "kill.json"
    sock = tmp_path / "node.sock"

    async def scenario() -> None:
        audit = AuditTrail.open(tmp_path / "audit.db", announce=None)
        async with running_node(tape, Control(unix=str(sock)), state_file=state, audit=audit) as rig:
            assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
            assert stat.S_ISSOCK(os.stat(sock).st_mode)
            resting = {o.client_order_id for o in rig.open_orders()}
            assert len(resting) == 3
            reply = await rig.ask({"cmd": "kill", "reason": "desk saw a loop"})
            assert reply["ok"] is True, reply
            assert (reply["cancelled_orders"], reply["already_engaged"], reply["persisted"]) == (3, False, True)
            assert reply["reason"] == "desk saw a loop" and reply["source"] == reply["request"] == "control#1"
            assert read_state(state).engaged and read_state(state).reason == "desk saw a loop"
            await until(lambda: not rig.open_orders(), "the cancels to be acknowledged")
            rig.strategy.probe = True
            await until(lambda: bool(rig.strategy.refused), "the probe order to be refused")
            [refused] = rig.strategy.refused
            assert refused.client_order_id == rig.strategy.probes[0] and refused.rule == "kill_switch"
            again = await rig.ask({"cmd": "kill", "reason": "twice"})
            assert (again["already_engaged"], again["cancelled_orders"], again["reason"]) == (
                True,
                0,
                "desk saw a loop",
            )
            status = await rig.ask({"cmd": "status"})
            assert status["kill_switch"]["engaged"] is True and status["open_orders"] == []
        assert not sock.exists()  # removed at close
        events = _audited(tmp_path / "audit.db")
        commands = [e for e in events if isinstance(e, OperatorCommand)]
        assert [(c.command, c.accepted) for c in commands] == [("kill", True), ("kill", True), ("status", True)]
        assert any(isinstance(e, KillSwitchChanged) and e.source == "control#1" for e in events)
        cancelled = {e.client_order_id for e in events if isinstance(e, OrderCancelled)}
        assert cancelled == resting

    asyncio.run(asyncio.wait_for(scenario(), 4 * WAIT_S))


def test_kill_with_flatten_leaves_every_position_at_zero_and_a_normal_order_is_still_refused(
    tape: list[Event], tmp_path: Path
) -> None:
    strategy = Rester(resting=2, take=100)

    async def scenario() -> None:
        async with running_node(tape, Control(unix=str(tmp_path / "s")), strategy=strategy) as rig:
            portfolio = rig.node.node.portfolio
            await until(lambda: portfolio.quantity("AAPL") == 100, "the taken position")
            reply = await rig.ask({"cmd": "kill", "reason": "flatten all", "flatten": True})
            assert reply["ok"] and reply["cancelled_orders"] == 2, reply
            assert reply["flatten"] == {"done": True, "flat": True, "orders": 1, "reason": None}
            assert portfolio.quantity("AAPL") == 0
            assert all(p.quantity == 0 for p in portfolio.positions())
            flatten_orders = [o for o in rig.node.node.execution.orders() if o.strategy_id == FLATTEN_STRATEGY]
            assert [(o.side.value, o.quantity, o.filled_quantity) for o in flatten_orders] == [("SELL", 100, 100)]
            [done] = rig.desk.flattened
            assert isinstance(done, PositionsFlattened) and done.flat and done.source == "control#1"
            rig.strategy.probe = True
            await until(lambda: bool(rig.strategy.refused), "the probe order to be refused")
            assert rig.strategy.refused[0].rule == "kill_switch"

    asyncio.run(asyncio.wait_for(scenario(), 4 * WAIT_S))


def test_tcp_without_or_with_a_wrong_token_is_refused_recorded_and_changes_nothing(
    tape: list[Event], tmp_path: Path
) -> None:
    async def scenario() -> None:
        audit = AuditTrail.open(tmp_path / "audit.db", announce=None)
        async with running_node(tape, Control(tcp=0, token=TOKEN), audit=audit) as rig:
            assert rig.server.port
            no_token = await rig.ask({"cmd": "kill", "reason": "x"})
            wrong = await rig.ask({"cmd": "kill", "reason": "x", "token": TOKEN[:-1] + "!"})
            for reply in (no_token, wrong):
                assert (reply["ok"], reply["code"]) == (False, "unauthorized")
            assert rig.server.refused == 2
            assert not rig.node.node.risk.kill_switch.engaged and len(rig.open_orders()) == 3
            right = await rig.ask({"cmd": "status", "token": TOKEN})
            assert right["ok"] and right["kill_switch"]["engaged"] is False
        commands = [e for e in _audited(tmp_path / "audit.db") if isinstance(e, OperatorCommand)]
        assert [(c.command, c.accepted, c.detail) for c in commands] == [
            ("kill", False, "no token"),
            ("kill", False, "wrong token"),
            ("status", True, ""),
        ]
        assert all(c.origin.startswith("tcp:127.0.0.1:") for c in commands)

    asyncio.run(asyncio.wait_for(scenario(), 4 * WAIT_S))


def test_malformed_lines_are_answered_counted_and_the_node_keeps_running(tape: list[Event], tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_node(tape, Control(unix=str(tmp_path / "s"))) as rig:
            reader, writer = await rig.connect()
            answers = []
            for line in (b"not json\n", b"[1, 2]\n", b'{"cmd": "dance"}\n', b'{"cmd": "kill", "reason": 5}\n'):
                writer.write(line)
                await writer.drain()
                answers.append(await asyncio.wait_for(reader.readline(), WAIT_S))
            codes = [json.loads(a)["code"] for a in answers]
            assert codes == ["malformed", "malformed", "unknown_command", "malformed"]
            writer.write(b"x" * (MAX_LINE + 10) + b"\n")  # too long: answered, then the connection is closed
            await writer.drain()
            assert b'"code":"malformed"' in await asyncio.wait_for(reader.readline(), WAIT_S)
            assert await asyncio.wait_for(reader.read(), WAIT_S) == b""
            writer.close()
            assert rig.server.malformed == 5
            assert not rig.node.node.risk.kill_switch.engaged
            status = await rig.ask({"cmd": "status"})
            assert status["ok"] and len(status["open_orders"]) == 3

    asyncio.run(asyncio.wait_for(scenario(), 4 * WAIT_S))


def test_a_path_that_is_not_a_stale_socket_is_refused_and_a_stale_one_replaced(tmp_path: Path) -> None:
    plain = tmp_path / "file"
    plain.write_text("mine")
    with pytest.raises(ConfigError, match="exists and is not a socket"):
        bind_private_unix(plain)
    assert plain.read_text() == "mine"

    live = tmp_path / "live.sock"
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listening.bind(str(live))
    listening.listen()
    try:
        with pytest.raises(ConfigError, match="another process listens"):
            bind_private_unix(live)
    finally:
        listening.close()  # now stale: bound, nobody listening
    replaced = bind_private_unix(live)
    try:
        assert stat.S_IMODE(os.stat(live).st_mode) == 0o600
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tapeflow")] == []  # private dir removed
    finally:
        replaced.close()


def test_a_tcp_control_socket_needs_a_long_token() -> None:
    with pytest.raises(ConfigError, match="token of at least 16"):
        ControlServer(Control(tcp=0, token="short"), inbox=_NullInbox(), desk=ControlDesk())
    with pytest.raises(ConfigError, match="exactly one"):
        Control(unix="a", tcp=1, token=TOKEN).check()


class _NullInbox:
    received = 0

    def put(self, event: Event) -> None:
        raise AssertionError("nothing may be put")


# -- the line parser: whatever a client sends ------------------------------------------------------------------------


class _Recorder:
    received = 0

    def __init__(self) -> None:
        self.events: list[Event] = []

    def put(self, event: Event) -> None:
        self.events.append(event)


class _Desk(ControlDesk):
    def snapshot(self) -> dict[str, object]:
        return {"kill_switch": {"engaged": False}, "open_orders": [], "positions": []}


_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=30), st.sampled_from(["kill", "status", "stop"])
)
_objects = st.dictionaries(st.sampled_from(["cmd", "reason", "flatten", "token", "x"]), _values, max_size=5)
_lines = st.one_of(
    st.binary(max_size=300),
    _objects.map(lambda d: json.dumps(d).encode()),
    st.just(b"[" * 3_000),  # deeper than the JSON parser recurses
    st.just(b'{"cmd": "status", "reason": "' + b"\xff" * 10 + b'"}'),
)


@settings(max_examples=300, deadline=None)
@given(_lines)
def test_any_line_gets_one_json_reply_one_audit_record_and_one_count(line: bytes) -> None:
    inbox = _Recorder()
    control = Control(unix="unused", answer_s=0.001, flatten_wait_s=0.001)
    server = ControlServer(control, inbox=inbox, desk=_Desk(), on_stop=lambda reason: None)
    reply, _ = asyncio.run(server._handle(line, "unix"))
    json.dumps(reply)  # always a JSON object
    assert isinstance(reply["ok"], bool)
    if not reply["ok"]:
        assert reply["code"] in {"malformed", "unknown_command", "timeout"}
    records = [e for e in inbox.events if isinstance(e, OperatorCommand)]
    assert len(records) == 1 and records[0].accepted == (reply["ok"] or reply["code"] == "timeout")
    assert server.malformed + server.commands == 1


class _BrokenDesk(_Desk):
    @property
    def ready(self) -> bool:
        return True

    def snapshot(self) -> dict[str, object]:
        raise KeyError("a bug")


def test_a_failing_request_is_answered_as_internal_and_the_socket_keeps_serving(tmp_path: Path) -> None:
    async def scenario() -> list[dict[str, object]]:
        control = Control(unix=str(tmp_path / "s"))
        async with ControlServer(control, inbox=_Recorder(), desk=_BrokenDesk()) as server:
            reader, writer = await asyncio.open_unix_connection(str(server.path))
            replies = []
            for line in (b'{"cmd": "status"}\n', b'{"cmd": "stop"}\n'):
                writer.write(line)
                await writer.drain()
                replies.append(json.loads(await asyncio.wait_for(reader.readline(), WAIT_S)))
            writer.close()
            return replies

    first, second = asyncio.run(scenario())
    assert (first["code"], first["error"]) == ("internal", "the node could not answer: KeyError")
    assert second["code"] == "unavailable"  # no graceful stop wired: refused, and still answering


def test_a_control_server_whose_desk_is_not_on_a_node_does_not_start(tmp_path: Path) -> None:
    server = ControlServer(Control(unix=str(tmp_path / "s")), inbox=_Recorder(), desk=ControlDesk())
    with pytest.raises(ConfigError, match=r"extra=\[desk\]"):
        asyncio.run(server.start())
    assert not (tmp_path / "s").exists()
