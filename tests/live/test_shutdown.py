"""Stopping a live run: the feed can be ended from outside; SIGTERM stops gracefully (orders cancelled and
acknowledged, audit trail complete, summary printed, exit 0); a second SIGINT stops at once, and every record the
audit writer acknowledged is in the store, whose run is ended properly (head written, chain verified).

The signal tests run a node in a process of its own (``stop_node.py``); every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tapeflow.compliance.audit import AuditTrail, decode_row
from tapeflow.compliance.audit_store import SqliteAuditStore, verify_store
from tapeflow.compliance.head import head_path, read_heads
from tapeflow.live import LiveNode
from tapeflow.live.clock import RealTimeClock
from tapeflow.live.control import Control, ControlServer
from tapeflow.live.control_desk import ControlDesk
from tapeflow.live.shutdown import GracefulStop, StopOutcome
from tapeflow.live.stoppable import StoppableFeed
from tapeflow.model import ConfigError, Event
from tapeflow.model.orders import OrderCancelled
from tapeflow.model.risk_events import OperatorCommand
from tests.live.helpers import WAIT_S, Rester, ShiftedClock, load_tape, node_config, until
from tests.live.stop_node import KEY, endless

REPO = Path(__file__).resolve().parent.parent.parent


def _wall(tape: list[Event]) -> RealTimeClock:
    return RealTimeClock(ShiftedClock(tape[0].ts_event))


@pytest.fixture(scope="module")
def tape(data_dir: Path) -> list[Event]:
    return load_tape(data_dir)


# -- the feed ------------------------------------------------------------------------------------------------------


async def _forever() -> AsyncIterator[int]:
    yield 1
    await asyncio.Event().wait()
    yield 2  # never reached


def test_stopping_a_waiting_feed_ends_it_at_once() -> None:
    async def scenario() -> list[int]:
        feed = StoppableFeed(_forever())
        got = [await anext(feed)]
        waiting = asyncio.ensure_future(anext(feed))
        await asyncio.sleep(0.01)
        feed.stop()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(waiting, WAIT_S)
        assert asyncio.current_task() is not None and asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
        return got

    assert asyncio.run(scenario()) == [1]


def test_a_feed_stopped_between_events_ends_at_the_next_and_an_outside_cancel_still_cancels() -> None:
    async def scenario() -> None:
        feed = StoppableFeed(_forever())
        feed.stop()
        with pytest.raises(StopAsyncIteration):
            await anext(feed)
        other = StoppableFeed(_forever())
        await anext(other)
        waiting = asyncio.ensure_future(anext(other))
        await asyncio.sleep(0.01)
        waiting.cancel()  # not ours: the task is cancelled, not ended
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(scenario())


def test_stop_over_the_control_socket_cancels_open_orders_and_ends_the_run_gracefully(
    tape: list[Event], tmp_path: Path
) -> None:
    async def scenario() -> tuple[StopOutcome, LiveNode]:
        stop = GracefulStop(cancel_orders=True, ack_timeout_s=WAIT_S)
        desk = ControlDesk()
        strategy = Rester()
        audit = AuditTrail.open(tmp_path / "audit.db", announce=None)
        node = LiveNode(
            [strategy],
            config=node_config(None),
            extra=[desk, stop.desk],
            risk_rules=[stop.desk],
            wall=_wall(tape),
            run_id="t",
            audit=audit,
        )
        desk.bind(node.node)
        control = Control(unix=str(tmp_path / "node.sock"))
        async with ControlServer(control, inbox=node.inbox, desk=desk, on_stop=stop.request, now=node.wall.now) as srv:
            run = asyncio.create_task(stop.run(node, endless(tape, strategy.warmup), signals=()))
            await until(lambda: sum(1 for _ in node.node.execution.open_orders()) == 3, "the resting orders")
            reader, writer = await asyncio.open_unix_connection(str(srv.path))
            writer.write(b'{"cmd": "stop", "reason": "end of day"}\n')
            reply = json.loads(await asyncio.wait_for(reader.readline(), WAIT_S))
            writer.close()
            assert reply == {"ok": True, "cmd": "stop", "stopping": True}
            outcome = await asyncio.wait_for(run, WAIT_S)
        return outcome, node

    outcome, node = asyncio.run(asyncio.wait_for(scenario(), 4 * WAIT_S))
    assert (outcome.how, outcome.drained, outcome.cancelled, outcome.exit_code) == ("graceful", True, 3, 0)
    assert list(node.node.execution.open_orders()) == []
    events = _audited(tmp_path / "audit.db")
    assert sum(isinstance(e, OrderCancelled) for e in events) == 3
    stops = [e for e in events if isinstance(e, OperatorCommand)]
    assert [(c.command, c.origin) for c in stops] == [("stop", "unix"), ("stop", "control")]


def test_a_stop_desk_missing_from_the_node_is_refused_before_the_run() -> None:
    stop = GracefulStop()
    node = LiveNode([Rester()], config=node_config(None), extra=[stop.desk], run_id="t")  # not a risk rule
    with pytest.raises(ConfigError, match=r"risk_rules=\[stop.desk\]"):
        stop.bind(node)
    bare = LiveNode([Rester()], config=node_config(None), run_id="t")
    with pytest.raises(ConfigError, match=r"extra=\[stop.desk\]"):
        GracefulStop().bind(bare)


def test_new_orders_are_refused_once_a_stop_was_requested(tape: list[Event], tmp_path: Path) -> None:
    async def scenario() -> Rester:
        stop = GracefulStop(cancel_orders=True, ack_timeout_s=WAIT_S)
        strategy = Rester()
        node = LiveNode(
            [strategy],
            config=node_config(None),
            extra=[stop.desk],
            risk_rules=[stop.desk],
            wall=_wall(tape),
            run_id="t",
        )
        assert stop.desk not in node.node.risk._rest  # checked on the fused path, not by a call per submit
        run = asyncio.create_task(stop.run(node, endless(tape, strategy.warmup), signals=()))
        await until(lambda: sum(1 for _ in node.node.execution.open_orders()) == 3, "the resting orders")
        node.inbox.put(_stop_command(node))  # the stop as the kernel sees it, the feed still running
        await until(lambda: bool(stop.desk.stopping), "the stop to reach the desk")
        strategy.probe = True
        await until(lambda: bool(strategy.refused), "the probe to be refused")
        stop.request("done")
        await asyncio.wait_for(run, WAIT_S)
        return strategy

    strategy = asyncio.run(asyncio.wait_for(scenario(), 4 * WAIT_S))
    assert strategy.refused[0].rule == "node_stopping"


def _stop_command(node: LiveNode) -> OperatorCommand:
    now = node.wall.now()
    return OperatorCommand(ts_event=now, ts_init=now, command="stop", origin="test", accepted=True, detail="test")


# -- signals, in a process of their own -----------------------------------------------------------------------------


def _start(
    tmp_path: Path, venue: str, ack_timeout_s: float, data_dir: Path, *, session: bool = False
) -> subprocess.Popen[str]:
    args = [venue, str(tmp_path / "audit.db"), str(tmp_path / "acks.txt"), str(ack_timeout_s), str(data_dir)]
    args.append(str(tmp_path / STOPPING))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.live.stop_node", *args],
        cwd=REPO,
        start_new_session=session,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    line = ""
    while line.strip() != "READY":
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            proc.kill()
            raise AssertionError("the node did not get its orders resting within 30 s")
        line = proc.stdout.readline()
        if not line:
            proc.wait(5)
            raise AssertionError(f"the node exited early: {proc.stderr.read() if proc.stderr else ''}")
    return proc


STOPPING = "stopping"
"""The file ``stop_node`` creates once the node has taken the first stop: until then a second signal could reach it
before the first was handled (two SIGINTs still pending together are delivered as one)."""


def _taken_the_stop(proc: subprocess.Popen[str], tmp_path: Path, timeout: float = 30.0) -> None:
    """Wait until the node has taken the graceful stop (bounded; fails at once if it exits meanwhile)."""
    deadline = time.monotonic() + timeout
    while not (tmp_path / STOPPING).exists():
        assert proc.poll() is None, "the node exited before taking the graceful stop"
        assert time.monotonic() < deadline, f"the node did not take the graceful stop within {timeout} s"
        time.sleep(0.01)


def _finish(proc: subprocess.Popen[str], timeout: float) -> tuple[int, list[str], dict[str, object]]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError(f"the node did not stop within {timeout} s") from None
    lines = out.splitlines()
    assert lines, err
    return proc.returncode, lines, json.loads(lines[-1])


def _audited(path: Path) -> list[Event]:
    store = SqliteAuditStore(path)
    try:
        return [decode_row(row)[0] for row in store.rows()]
    finally:
        store.close()


def _complete(db: Path) -> int:
    """The store verifies and its run ended (head written); the number of records."""
    store = SqliteAuditStore(db)
    try:
        result = verify_store(store, KEY)
        assert result.ok, result
        rows = sum(1 for _ in store.rows())
    finally:
        store.close()
    heads = read_heads(head_path(db))
    assert heads and heads[-1].seq == rows
    return rows


def test_sigterm_once_stops_gracefully_prints_the_summary_and_leaves_a_complete_audit_trail(
    tmp_path: Path, data_dir: Path
) -> None:
    proc = _start(tmp_path, "sim", WAIT_S, data_dir)
    proc.send_signal(signal.SIGTERM)
    code, lines, result = _finish(proc, 3 * WAIT_S)
    assert code == 0, lines
    assert (result["how"], result["drained"], result["cancelled"], result["signals"]) == (
        "graceful",
        True,
        3,
        ["SIGTERM"],
    )
    assert result["open_orders"] == 0
    assert any(line.startswith("summary: ") for line in lines)
    assert any(line.startswith("audit trail ") for line in lines)  # the head line of a run that ended
    rows = _complete(tmp_path / "audit.db")
    assert rows == result["records"] == result["committed"]
    events = _audited(tmp_path / "audit.db")
    assert [(e.command, e.origin) for e in events if isinstance(e, OperatorCommand)] == [("stop", "signal:SIGTERM")]
    assert sum(isinstance(e, OrderCancelled) for e in events) == 3


def test_a_second_sigint_stops_at_once_and_every_acknowledged_record_is_in_the_store(
    tmp_path: Path, data_dir: Path
) -> None:
    # the silent venue never acknowledges a cancel: a graceful stop would wait its whole minute
    proc = _start(tmp_path, "silent", 60.0, data_dir)
    proc.send_signal(signal.SIGINT)
    _taken_the_stop(proc, tmp_path)
    assert proc.poll() is None  # still waiting for the acknowledgements
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    code, _, result = _finish(proc, WAIT_S)
    assert time.monotonic() - started < WAIT_S
    assert code == 128 + signal.SIGINT == result["exit_code"]
    assert (result["how"], result["drained"], result["signals"]) == ("hard", False, ["SIGINT", "SIGINT"])
    assert result["open_orders"] == 3  # nobody answered the cancels
    acknowledged = [int(s) for s in (tmp_path / "acks.txt").read_text().split()]
    assert acknowledged and max(acknowledged) == result["committed"]
    rows = _complete(tmp_path / "audit.db")
    assert rows >= max(acknowledged)
    assert rows == result["records"]  # and not only those: the trail's last records were handed over too
    commands = [e for e in _audited(tmp_path / "audit.db") if isinstance(e, OperatorCommand)]
    assert [(c.command, c.origin) for c in commands] == [("stop", "signal:SIGINT"), ("stop_now", "signal:SIGINT")]
    assert os.path.exists(tmp_path / "audit.db")


def test_sigterm_to_the_whole_process_group_still_stops_gracefully_with_the_audit_trail_complete(
    tmp_path: Path, data_dir: Path
) -> None:
    # a service manager stops a unit by signalling every process in it: the audit writer process must leave the
    # decision to the node, or the node's last records would have nobody to commit them
    proc = _start(tmp_path, "sim", WAIT_S, data_dir, session=True)
    os.killpg(proc.pid, signal.SIGTERM)
    code, lines, result = _finish(proc, 3 * WAIT_S)
    assert code == 0, lines
    assert (result["how"], result["drained"]) == ("graceful", True)
    assert _complete(tmp_path / "audit.db") == result["records"] == result["committed"]


def test_the_previous_signal_handlers_are_back_after_the_run(tape: list[Event]) -> None:
    def mine(signum: int, frame: object) -> None:
        raise AssertionError("not expected")

    before_int = signal.getsignal(signal.SIGINT)
    old_term = signal.signal(signal.SIGTERM, mine)
    try:
        stop = GracefulStop()
        node = LiveNode([Rester()], config=node_config(None), extra=[stop.desk], risk_rules=[stop.desk], run_id="t")

        async def scenario() -> StopOutcome:
            async def short() -> AsyncIterator[Event]:
                for event in tape[:50]:
                    assert signal.getsignal(signal.SIGTERM) is not mine  # ours while it runs
                    yield event

            return await stop.run(node, short(), realtime=False)

        outcome = asyncio.run(asyncio.wait_for(scenario(), WAIT_S))
        assert (outcome.how, outcome.exit_code) == ("source", 0)
        assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGINT) is before_int
    finally:
        signal.signal(signal.SIGTERM, old_term)
