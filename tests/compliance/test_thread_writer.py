"""The in-process writer (a thread): the same records and chain as the writer process, bounded, errors surfaced."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.compliance import AuditTrail, AuditWriter, SqliteAuditStore, verify
from tapeflow.compliance.audit_store import verify_store
from tapeflow.compliance.head import head_path, read_heads
from tapeflow.compliance.thread_writer import ThreadAuditWriter
from tapeflow.model import EngineError, Signal
from tests.compliance.trails import KEY, normal_actions, run_trail

T0 = 1_718_978_400_000_000_000


def _signals(start: int, n: int) -> list[Signal]:
    return [
        Signal(ts_event=t, ts_init=t, strategy_id="s", symbol="AAPL", name="x", value=1.0, reason="r")
        for t in range(start, start + n)
    ]


def _stored(path: Path) -> list[tuple[Any, ...]]:
    store = SqliteAuditStore(path, readonly=True)
    try:
        return [tuple(r) for r in store.rows()]
    finally:
        store.close()


def _write(writer: AuditWriter | ThreadAuditWriter, sizes: list[int], flush_every: int) -> None:
    start = T0
    for i, n in enumerate(sizes):
        writer.submit(_signals(start, n))
        start += n
        if flush_every and i % flush_every == flush_every - 1:
            writer.flush()
    writer.close()


@settings(max_examples=8, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=12),
    flush_every=st.integers(min_value=0, max_value=4),
)
def test_thread_and_process_writers_store_the_same_records_and_chain(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int], flush_every: int
) -> None:
    d = tmp_path_factory.mktemp("same")
    _write(AuditWriter(SqliteAuditStore(d / "p.db"), key=b"k"), sizes, flush_every)
    _write(ThreadAuditWriter(SqliteAuditStore(d / "t.db"), key=b"k"), sizes, flush_every)
    process, thread = _stored(d / "p.db"), _stored(d / "t.db")
    assert thread == process and len(thread) == sum(sizes)
    assert [(h.run, h.seq, h.hash) for h in read_heads(head_path(d / "t.db"))] == [
        (h.run, h.seq, h.hash) for h in read_heads(head_path(d / "p.db"))
    ]
    store = SqliteAuditStore(d / "t.db", readonly=True)
    assert verify_store(store, b"k").ok
    store.close()


def test_thread_writer_with_a_full_queue_waits_counts_and_drops_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    writer = ThreadAuditWriter(SqliteAuditStore(tmp_path / "a.db"), max_batches=1, key=b"k")
    with caplog.at_level(logging.WARNING, logger="tapeflow.compliance.thread_writer"):
        for i in range(50):
            writer.submit(_signals(T0 + i * 100, 100))
    assert writer.flush() == 5000
    writer.close()
    store = SqliteAuditStore(tmp_path / "a.db", readonly=True)
    result = verify(store.rows(), store.checkpoints(), b"k")
    assert result.ok and result.records == 5000
    assert [r.ts for r in store.rows()] == list(range(T0, T0 + 5000))
    assert writer.full_waits == 0 or any("audit queue full" in r.getMessage() for r in caplog.records)


def test_thread_writer_calls_on_commit_in_the_callers_thread_up_to_the_last_record(tmp_path: Path) -> None:
    seen: list[int] = []
    writer = ThreadAuditWriter(SqliteAuditStore(tmp_path / "a.db"), on_commit=seen.append)
    writer.submit(_signals(T0, 10))
    writer.submit(_signals(T0 + 10, 10))
    assert writer.flush() == 20
    writer.close()
    assert seen and seen[-1] == 20 and seen == sorted(seen)


def test_thread_writer_failure_is_raised_at_the_next_submit_or_flush(tmp_path: Path) -> None:
    class Broken(SqliteAuditStore):
        def append(self, *args: Any, **kwargs: Any) -> None:
            raise OSError("disk full")

    writer = ThreadAuditWriter(Broken(tmp_path / "a.db"))
    writer.submit(_signals(T0, 10))
    with pytest.raises(EngineError, match="disk full"):
        writer.flush()
    with pytest.raises(EngineError, match="disk full"):
        writer.submit(_signals(T0 + 10, 10))
    with pytest.raises(EngineError, match="disk full"):
        writer.close()


def test_a_backtest_trail_with_the_thread_writer_equals_the_one_with_the_process(tmp_path: Path) -> None:
    run_trail(tmp_path / "p.db", {"s1": normal_actions()}, announce=None, writer="process")
    bt, _ = run_trail(tmp_path / "t.db", {"s1": normal_actions()}, announce=None, writer="thread")
    assert bt.node.audit is not None and bt.node.audit.writer.mode == "thread"
    assert _stored(tmp_path / "t.db") == _stored(tmp_path / "p.db")
    store = SqliteAuditStore(tmp_path / "t.db", readonly=True)
    assert verify_store(store, KEY).ok
    store.close()


def test_auto_writer_is_the_thread_on_one_core_and_the_process_where_a_core_is_free_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for cores, mode in ((1, "thread"), (2, "process"), (4, "process"), (None, "thread")):
        monkeypatch.setattr("tapeflow.compliance.audit.os.cpu_count", lambda cores=cores: cores)
        trail = AuditTrail.open(tmp_path / f"{cores}.db", writer="auto", announce=None)
        assert trail.writer.mode == mode
        trail.writer.close()
    default = AuditTrail.open(tmp_path / "d.db", announce=None)
    assert default.writer.mode == "process"  # the default keeps the process's crash safety
    default.writer.close()
