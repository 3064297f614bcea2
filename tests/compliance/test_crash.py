"""Crash safety: kill -9 either process mid-run; every acknowledged record is there and the chain verifies.

The trading process (here a script submitting as fast as it can) and the writer process it starts are killed in
turn. Killed trading process: the writer reads end of file, commits what it received completely and exits by
itself (it must not outlive the run). Killed writer: the trading process's next submit raises.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tapeflow.compliance import SqliteAuditStore
from tapeflow.compliance.audit_store import verify_store
from tapeflow.compliance.head import head_path, read_heads

KEY = b"crash-key"
SCRIPT = """
import sys
from tapeflow.compliance import AuditWriter, SqliteAuditStore
from tapeflow.model import EngineError, Signal

db, ack, pid = sys.argv[1], sys.argv[2], sys.argv[3]
out = open(ack, "w", buffering=1)
ack_line = lambda s: out.write(f"{s}\\n")
writer = AuditWriter(SqliteAuditStore(db), key=b"crash-key", on_commit=ack_line)
writer.start()
with open(pid, "w") as f:
    f.write(str(writer.pid))
ts = 1_718_978_400_000_000_000
try:
    while True:
        batch = []
        for _ in range(100):
            ts += 1000
            sig = Signal(ts_event=ts, ts_init=ts, strategy_id="s", symbol="AAPL", name="x", value=1.0, reason="r")
            batch.append(sig)
        writer.submit(batch)
except EngineError as exc:
    print(exc, flush=True)
    sys.exit(3)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"  # a zombie has exited; its new parent reaps it


def _run_until_acknowledged(tmp_path: Path) -> tuple[subprocess.Popen[str], int, Path, Path]:
    db, ack, pid_file = tmp_path / "crash.db", tmp_path / "ack.txt", tmp_path / "writer.pid"
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(db), str(ack), str(pid_file)], stdout=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines = ack.read_text().splitlines() if ack.exists() else []
        if len(lines) > 20 and int(lines[-2]) >= 20_000:
            break
        time.sleep(0.02)
    writer_pid = int(pid_file.read_text())
    return proc, writer_pid, db, ack


def _check(db: Path, ack: Path, *, head_lines: int) -> None:
    complete = [line for line in ack.read_text().split("\n")[:-1] if line]  # a torn last line is not an ack
    acknowledged = int(complete[-1])
    assert acknowledged >= 20_000
    store = SqliteAuditStore(db)  # opening for write recovers the WAL as a restarted writer would
    result = verify_store(store, KEY)  # every committed record is signed, even with no clean stop
    assert result.ok, result
    assert result.last_seq >= acknowledged
    assert result.records == result.last_seq
    assert result.heads == head_lines
    if head_lines:  # the writer that outlived its trading process ended the run: its head is the trail's
        assert read_heads(head_path(db))[-1].seq == result.last_seq


def test_sigkill_of_the_trading_process_keeps_every_acknowledged_record(tmp_path: Path) -> None:
    proc, writer_pid, db, ack = _run_until_acknowledged(tmp_path)
    try:
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 20
    while _alive(writer_pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        assert not _alive(writer_pid), "the writer process outlived the trading process"
    finally:
        if _alive(writer_pid):
            os.kill(writer_pid, signal.SIGKILL)
    _check(db, ack, head_lines=1)


def test_sigkill_of_the_writer_process_keeps_every_acknowledged_record_and_stops_the_loop(tmp_path: Path) -> None:
    proc, writer_pid, db, ack = _run_until_acknowledged(tmp_path)
    try:
        os.kill(writer_pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 3
    assert "audit writer stopped" in out and "exited" in out
    _check(db, ack, head_lines=0)  # a killed writer writes no head line; its signed records verify all the same
