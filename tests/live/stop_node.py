"""A live node under ``GracefulStop``, run as its own process by ``test_shutdown`` (signals need a main thread).

``python -m tests.live.stop_node VENUE DB ACKS ACK_TIMEOUT_S DATA_DIR STOPPING``: ``VENUE`` is ``sim`` (the
simulated exchange: cancels are acknowledged) or ``silent`` (a venue that never answers: a graceful stop waits for
acknowledgements until its timeout). The audit trail writes to ``DB``; each acknowledgement of the writer (the
last committed sequence number) is appended to ``ACKS`` as it is read. Prints ``READY`` once the orders rest;
creates the file ``STOPPING`` once the node has taken a graceful stop (its stop command dispatched, the cancels
sent), which a test waits for before a second signal; at the end prints the summary and one JSON line with the
outcome; exits with ``outcome.exit_code``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec

from tapeflow.compliance.audit import AuditTrail
from tapeflow.compliance.audit_store import SqliteAuditStore
from tapeflow.compliance.audit_writer import AuditWriter
from tapeflow.live import LiveNode, replay
from tapeflow.live.clock import RealTimeClock
from tapeflow.live.shutdown import GracefulStop
from tapeflow.model import Event
from tests.live.helpers import Rester, ShiftedClock, load_tape, node_config

KEY = b"stop-key"


class SilentVenue:
    """Takes every command and never answers: orders stay open, cancels are never acknowledged."""

    name = "SILENT"
    always_connected = True

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, command: Any) -> None:
        self.sent.append(command)


async def endless(tape: list[Event], warmup: int) -> AsyncIterator[Event]:
    """The tape (warm-up at full speed, then one event a millisecond), then silence until the feed is ended."""
    async for event in replay(tape[:warmup]):
        yield event
    async for event in replay(tape[warmup:], pause=0.001):
        yield event
    await asyncio.Event().wait()


async def watch(node: LiveNode, count: int, stop: GracefulStop, stopping: Path) -> None:
    """``READY`` once ``count`` orders rest; the ``stopping`` file once the kernel has taken the first stop (the
    desk is stopping: it dispatched the stop command and sent its cancels in that same dispatch)."""
    while sum(1 for _ in node.node.execution.open_orders()) < count:
        await asyncio.sleep(0.01)
    print("READY", flush=True)
    while not stop.desk.stopping:
        await asyncio.sleep(0.01)
    stopping.touch()


async def main(venue: str, db: str, acks: str, ack_timeout_s: float, data_dir: str, stopping: str) -> int:
    tape = load_tape(Path(data_dir), events=60_000)
    out = open(acks, "w", buffering=1)  # noqa: SIM115 - open for the whole run, closed by the process's exit
    writer = AuditWriter(SqliteAuditStore(db), key=KEY, on_commit=lambda seq: out.write(f"{seq}\n"))
    trail = AuditTrail(writer, owns_writer=True, announce=lambda line: print(line, flush=True))
    stop = GracefulStop(cancel_orders=True, ack_timeout_s=ack_timeout_s)
    strategy = Rester()
    node = LiveNode(
        [strategy],
        config=node_config(None),
        venues=[SilentVenue()] if venue == "silent" else None,
        extra=[stop.desk],
        risk_rules=[stop.desk],
        wall=RealTimeClock(ShiftedClock(tape[0].ts_event)),
        run_id="t",
        audit=trail,
    )
    watcher = asyncio.create_task(watch(node, strategy.resting, stop, Path(stopping)))
    outcome = await stop.run(node, endless(tape, strategy.warmup), realtime=True)
    watcher.cancel()
    summary = node.summary()
    print(f"summary: {summary.orders} orders, {summary.fills} fills", flush=True)
    result = {
        **msgspec.to_builtins(outcome),
        "exit_code": outcome.exit_code,
        "committed": writer.committed_seq,
        "records": trail.records,
        "open_orders": sum(1 for _ in node.node.execution.open_orders()),
    }
    print(json.dumps(result), flush=True)
    return outcome.exit_code


if __name__ == "__main__":
    venue, db, acks, timeout, data, stopping = sys.argv[1:7]
    sys.exit(asyncio.run(main(venue, db, acks, float(timeout), data, stopping)))
