"""The writer process: a full queue is counted and logged and nothing is dropped; an old file is refused."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import time
from pathlib import Path

import msgspec
import pytest

from tapeflow.compliance import AuditWriter, SqliteAuditStore, verify
from tapeflow.compliance.audit_store import verify_store
from tapeflow.compliance.head import head_path, read_heads
from tapeflow.model import DataError, Signal

T0 = 1_718_978_400_000_000_000


def _signals(start: int, n: int) -> list[Signal]:
    return [
        Signal(ts_event=t, ts_init=t, strategy_id="s", symbol="AAPL", name="x", value=1.0, reason="r")
        for t in range(start, start + n)
    ]


def test_full_queue_is_reported_and_nothing_is_dropped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    writer = AuditWriter(SqliteAuditStore(tmp_path / "a.db"), max_batches=1, key=b"k")
    writer.start()
    with caplog.at_level(logging.WARNING, logger="tapeflow.compliance.audit_writer"):
        for i in range(5):  # the writer process is still starting: every batch after the first waits for room
            writer.submit(_signals(T0 + i * 100, 100))
    assert writer.full_waits >= 1
    assert any("audit queue full" in r.getMessage() for r in caplog.records)
    assert writer.flush() == 500
    writer.close()
    store = SqliteAuditStore(tmp_path / "a.db", readonly=True)
    result = verify(store.rows(), store.checkpoints(), b"k")
    assert result.ok and result.records == 500
    assert [r.ts for r in store.rows()] == list(range(T0, T0 + 500))


def test_a_second_run_continues_the_chain(tmp_path: Path) -> None:
    for run in range(2):
        writer = AuditWriter(SqliteAuditStore(tmp_path / "a.db"), key=b"k")
        writer.submit(_signals(T0 + run * 10, 10))
        writer.close()
        assert writer.committed_seq == 10 * (run + 1)
    store = SqliteAuditStore(tmp_path / "a.db", readonly=True)
    result = verify(store.rows(), store.checkpoints(), b"k")
    assert result.ok and result.records == 20


def test_every_commit_carries_a_checkpoint_of_its_run_and_each_run_ends_with_a_head_line(tmp_path: Path) -> None:
    for run in range(2):
        writer = AuditWriter(SqliteAuditStore(tmp_path / "a.db"), key=b"k")
        for i in range(3):
            writer.submit(_signals(T0 + run * 100 + i * 10, 10))
            writer.flush()  # one commit per batch
        writer.close()
        assert writer.head is not None and (writer.head.run, writer.head.seq) == (run + 1, 30 * (run + 1))
    store = SqliteAuditStore(tmp_path / "a.db", readonly=True)
    assert store.runs() == [(1, 1), (2, 31)]
    cps = store.checkpoints()
    assert [(c.seq, c.run, c.run_first) for c in cps] == [(s, 1 + s // 31, 1 + s // 31 * 30) for s in range(10, 61, 10)]
    heads = read_heads(head_path(tmp_path / "a.db"))
    assert [(h.run, h.seq) for h in heads] == [(1, 30), (2, 60)]
    assert verify_store(store, b"k").ok


def test_a_run_that_records_nothing_adds_no_run_and_no_head_line(tmp_path: Path) -> None:
    writer = AuditWriter(SqliteAuditStore(tmp_path / "a.db"), key=b"k")
    writer.submit(_signals(T0, 5))
    writer.close()
    idle = AuditWriter(SqliteAuditStore(tmp_path / "a.db"), key=b"k")
    idle.start()
    idle.close()
    assert idle.head is not None and (idle.head.run, idle.head.seq) == (1, 5)  # the trail's head, unchanged
    store = SqliteAuditStore(tmp_path / "a.db", readonly=True)
    assert store.runs() == [(1, 1)] and len(read_heads(head_path(tmp_path / "a.db"))) == 1


def test_a_file_of_the_old_format_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "old.db")
    db.execute("CREATE TABLE records (seq INTEGER PRIMARY KEY, body BLOB)")
    db.commit()
    db.close()
    with pytest.raises(DataError, match="older tapeflow"):
        SqliteAuditStore(tmp_path / "old.db", readonly=True)


def test_ctrl_c_does_not_stop_the_writer(tmp_path: Path) -> None:
    """An interrupt reaches the whole process group; the trading process decides when the trail ends."""
    writer = AuditWriter(SqliteAuditStore(tmp_path / "a.db"))
    writer.submit(_signals(T0, 10))
    writer.flush()
    assert writer.pid is not None
    os.kill(writer.pid, signal.SIGINT)
    time.sleep(0.1)
    writer.submit(_signals(T0 + 10, 10))
    assert writer.flush() == 20
    writer.close()


STOP_SCRIPT = """
import sys
from tapeflow.compliance import AuditTrail
from tapeflow.engine import Kernel
from tapeflow.model import Signal

kernel = Kernel()
trail = AuditTrail.open(sys.argv[1], key=b"k", close_window_ns=0)
kernel.add(trail)
kernel.start(at=1)
kernel.run([Signal(ts_event=t, ts_init=t, strategy_id="s", symbol="A", name="x", value=1.0, reason="r")
            for t in range(1, 1001)])
pid = trail.writer.pid
kernel.stop()
print(pid, flush=True)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_stop_does_not_wait_for_the_writer_to_exit_yet_every_record_is_committed(tmp_path: Path) -> None:
    """The trail's stop returns once the final flush is acknowledged; the writer's exit is reaped later."""
    from tapeflow.compliance import AuditTrail
    from tapeflow.compliance.audit_writer import _exiting, _reap
    from tapeflow.engine import Kernel

    kernel = Kernel()
    trail = AuditTrail.open(tmp_path / "a.db", key=b"k", close_window_ns=0)
    kernel.add(trail)
    kernel.start(at=T0)
    kernel.run(_signals(T0, 1000))
    pid = trail.writer.pid
    assert pid is not None
    kernel.stop()
    assert trail.writer.committed_seq == 1000
    store = SqliteAuditStore(tmp_path / "a.db", readonly=True)
    result = verify(store.rows(), store.checkpoints(), b"k")
    assert result.ok and result.records == 1000
    store.close()
    _reap(wait=True)
    assert not _exiting and not _alive(pid)


def test_no_writer_process_outlives_the_trading_process(tmp_path: Path) -> None:
    """A writer left to exit by itself at stop is waited for when the trading process's interpreter exits."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", STOP_SCRIPT, str(tmp_path / "a.db")], capture_output=True, text=True, check=True
    )
    assert not _alive(int(out.stdout.split()[0]))
    store = SqliteAuditStore(tmp_path / "a.db", readonly=True)
    assert verify(store.rows(), store.checkpoints(), b"k").records == 1000


def test_a_lone_record_reaches_the_writer_at_the_live_drivers_upkeep(tmp_path: Path) -> None:
    """In a live run nothing may follow a record for minutes: it must not wait in the loop's batch for company."""
    import asyncio
    from collections.abc import AsyncIterator

    from tapeflow.compliance import AuditTrail
    from tapeflow.engine import Kernel
    from tapeflow.live.clock import FakeClock
    from tapeflow.live.driver import run_live

    clock = FakeClock(0)  # a quiet half second that takes no wall time
    trail = AuditTrail.open(tmp_path / "a.db", close_window_ns=0)
    kernel = Kernel()
    kernel.add(trail)
    handed_while_quiet: list[int] = []

    async def feed() -> AsyncIterator[Signal]:
        yield Signal(ts_event=0, ts_init=0, strategy_id="s", symbol="AAPL", name="m", value=1.0, reason="lone")
        await clock.sleep_until(500_000_000)  # a quiet market: no event, no record, longer than the upkeep interval
        handed_while_quiet.append(trail.writer.submitted)

    asyncio.run(run_live(kernel, feed(), realtime=True, wall=clock, upkeep_interval_ns=100_000_000))
    assert handed_while_quiet == [1]  # handed over during the quiet spell, not at the end of the run
    rows = list(SqliteAuditStore(tmp_path / "a.db", readonly=True).rows())
    assert [row.kind for row in rows] == ["Signal"]


def test_upkeep_hands_over_what_the_batch_holds() -> None:
    from tapeflow.compliance import AuditTrail
    from tapeflow.engine import Kernel

    class Writer:
        def __init__(self) -> None:
            self.batches: list[int] = []

        def submit(self, events: list[object], causes: object = ()) -> None:
            self.batches.append(len(events))

    writer = Writer()
    trail = AuditTrail(writer, close_window_ns=0)  # type: ignore[arg-type]
    kernel = Kernel()
    kernel.add(trail)
    kernel.upkeep()  # nothing waiting: nothing sent
    record = Signal(ts_event=T0, ts_init=T0, strategy_id="s", symbol="AAPL", name="m", value=1.0, reason="r")
    kernel.run([record])  # the first record of a run is handed over at once (no hand-over yet)
    kernel.run([msgspec.structs.replace(record, ts_event=T0 + 1, ts_init=T0 + 1)])
    assert writer.batches == [1]
    kernel.upkeep()
    assert writer.batches == [1, 1]
