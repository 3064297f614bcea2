"""Crash safety: kill -9 the writer's process mid-run; every acknowledged record is there and the chain verifies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tapeflow.compliance import SqliteAuditStore, verify

KEY = b"crash-key"
SCRIPT = """
import sys
from tapeflow.compliance import AuditWriter, SqliteAuditStore
from tapeflow.model import Signal

db, ack = sys.argv[1], sys.argv[2]
out = open(ack, "w", buffering=1)
ack_line = lambda s: out.write(f"{s}\\n")
writer = AuditWriter(SqliteAuditStore(db), key=b"crash-key", checkpoint_every=500, on_commit=ack_line)
writer.start()
ts = 1_718_978_400_000_000_000
while True:
    batch = []
    for _ in range(100):
        ts += 1000
        sig = Signal(ts_event=ts, ts_init=ts, strategy_id="s", symbol="AAPL", name="x", value=1.0, reason="r")
        batch.append((ts, "Signal", "", "s", "AAPL", sig, None))
    writer.submit(batch)
"""


def test_sigkill_mid_run_keeps_every_acknowledged_record(tmp_path: Path) -> None:
    db, ack = tmp_path / "crash.db", tmp_path / "ack.txt"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(db), str(ack)])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            lines = ack.read_text().splitlines() if ack.exists() else []
            if len(lines) > 20 and int(lines[-2]) >= 20_000:
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    complete = [line for line in ack.read_text().split("\n")[:-1] if line]  # a torn last line is not an ack
    acknowledged = int(complete[-1])
    assert acknowledged >= 20_000
    store = SqliteAuditStore(db)  # opening for write recovers the WAL as a restarted writer would
    result = verify(store.rows(), store.checkpoints(), KEY)
    assert result.ok, result
    assert result.last_seq >= acknowledged
    assert result.records == result.last_seq
