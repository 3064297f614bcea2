"""ChainWriter without a process: batches numbered and chained in order, signed at each commit, one head per run."""

from __future__ import annotations

from pathlib import Path

import msgspec

from tapeflow.compliance.audit_store import SqliteAuditStore
from tapeflow.compliance.chain import verify
from tapeflow.compliance.chain_writer import ChainWriter
from tapeflow.compliance.head import head_path, read_heads
from tapeflow.model import Signal

T0 = 1_718_978_400_000_000_000


def _batch(start: int, n: int) -> bytes:
    signals = [
        Signal(ts_event=t, ts_init=t, strategy_id="s", symbol="AAPL", name="x", value=1.0, reason="r")
        for t in range(start, start + n)
    ]
    return msgspec.msgpack.encode((signals, []))


def test_batches_are_numbered_in_order_and_the_signed_chain_verifies(tmp_path: Path) -> None:
    writer = ChainWriter(SqliteAuditStore(tmp_path / "a.db"), b"k", "key-1")
    writer.add(_batch(T0, 3))
    assert writer.commit() == 3
    writer.add(_batch(T0 + 3, 2))
    writer.end()
    store = SqliteAuditStore(tmp_path / "a.db", readonly=True)
    result = verify(store.rows(), store.checkpoints(), b"k")
    assert (result.ok, result.records, result.checkpoints, writer.run) == (True, 5, 2, 1)
    assert [r.ts for r in store.rows()] == list(range(T0, T0 + 5))


def test_a_run_that_wrote_nothing_leaves_no_head_line(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    ChainWriter(SqliteAuditStore(db), b"k", "key-1").end()
    writer = ChainWriter(SqliteAuditStore(db), b"k", "key-1")
    writer.add(_batch(T0, 1))
    writer.end()
    writer.end()
    assert len(read_heads(head_path(db))) == 1
