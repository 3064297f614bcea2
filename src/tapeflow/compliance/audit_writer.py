"""The audit writer: one thread that owns the store, fed through a bounded queue, so the loop never waits on disk.

The trading loop hands over batches of pending records (event objects, not bytes: events are immutable, so
sharing them with another thread is safe, and encoding them there keeps the loop's cost to a list append). The
writer thread encodes each record, extends the hash chain, and commits whatever batches are waiting as one
transaction. Numbering and hashing happen in the writer: records arrive in the loop's order through one FIFO
queue, so the chain is the same on every run.

Nothing is dropped. When the queue is full (the disk cannot keep up) ``submit`` counts it in ``full_waits``,
logs a warning, and then waits: a trading loop that outruns its audit trail must slow down rather than trade
unrecorded. ``flush`` waits until everything submitted so far is committed (on stop, and on a kill switch).

``committed_seq`` (and the ``on_commit`` callback) report the last sequence number known to be in the database:
an acknowledged record survives the process being killed.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import msgspec

from tapeflow.compliance.audit_store import AuditStore
from tapeflow.compliance.chain import Checkpoint, Row, checkpoint_mac, record_hash
from tapeflow.model.errors import EngineError
from tapeflow.model.events import Event

log = logging.getLogger(__name__)

Pending = tuple[int, str, str, str, str, Event, Any]
"""(ts, kind, order_id, strategy_id, symbol, event, cause or None): a record before it has a number and a hash."""

_MAX_GROUP = 64
"""Batches taken from the queue into one transaction at most (bounds the time a flush waits behind them)."""


class _Flush:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()


class AuditWriter:
    """Owns ``store`` from ``start`` to ``close``; signs a checkpoint every ``checkpoint_every`` records (and at
    every flush) when given ``key``."""

    def __init__(
        self,
        store: AuditStore,
        *,
        max_batches: int = 256,
        key: bytes | None = None,
        key_id: str = "default",
        checkpoint_every: int = 10_000,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.key = key
        self.key_id = key_id
        self.checkpoint_every = checkpoint_every
        self.on_commit = on_commit
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_batches)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.committed_seq = 0
        self.submitted = 0
        self.transactions = 0
        self.full_waits = 0
        self._last_checkpoint = 0

    # -- loop side ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self.committed_seq, _ = self.store.last()
        self._last_checkpoint = self.committed_seq
        self._thread = threading.Thread(target=self._run, name="tapeflow-audit-writer", daemon=True)
        self._thread.start()

    def submit(self, batch: list[Pending]) -> None:
        """Queue ``batch`` (the caller must not touch the list afterwards). Waits only when the queue is full."""
        if self._error is not None:
            raise EngineError(f"the audit writer stopped: {self._error}; no record after {self.committed_seq} is kept")
        if self._thread is None:
            self.start()
        self.submitted += len(batch)
        try:
            self._queue.put_nowait(batch)
        except queue.Full:
            self.full_waits += 1
            if self.full_waits == 1 or self.full_waits % 1000 == 0:
                log.warning(
                    "audit queue full (%d batches, %d times so far): the trading loop waits for the disk",
                    self._queue.maxsize,
                    self.full_waits,
                )
            self._queue.put(batch)

    def flush(self) -> int:
        """Wait until every submitted record is committed; returns the last committed sequence number."""
        if self._thread is None:
            return self.committed_seq
        marker = _Flush()
        self._queue.put(marker)
        while not marker.done.wait(0.5):
            if not self._thread.is_alive():
                break
        if self._error is not None:
            raise EngineError(f"the audit writer stopped: {self._error}; no record after {self.committed_seq} is kept")
        return self.committed_seq

    def close(self) -> None:
        """Flush, stop the thread and close the store."""
        if self._thread is not None:
            self.flush()
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
        self.store.close()

    # -- writer thread ------------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # reported to the loop on its next submit or flush
            self._error = exc
            log.exception("audit writer failed")
            while True:  # release anyone waiting on a flush marker
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    return
                if isinstance(item, _Flush):
                    item.done.set()

    def _loop(self) -> None:
        encode = msgspec.msgpack.Encoder().encode
        seq, prev = self.store.last()
        get = self._queue.get
        while True:
            items = [get()]
            while len(items) < _MAX_GROUP:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            rows: list[Row] = []
            for item in items:
                if item is _STOP or isinstance(item, _Flush):
                    if rows:
                        self._commit(rows, seq, prev, force_checkpoint=True)
                        rows = []
                    elif isinstance(item, _Flush) and seq > self._last_checkpoint:
                        self._commit([], seq, prev, force_checkpoint=True)
                    if not isinstance(item, _Flush):
                        return
                    item.done.set()
                    continue
                for ts, kind, order_id, strategy_id, symbol, event, cause in item:
                    seq += 1
                    body = encode(event)
                    cause_bytes = b"" if cause is None else encode(cause)
                    digest = record_hash(prev, seq, ts, kind, order_id, strategy_id, symbol, body, cause_bytes)
                    rows.append(Row(seq, ts, kind, order_id, strategy_id, symbol, body, cause_bytes, prev, digest))
                    prev = digest
            if rows:
                self._commit(rows, seq, prev, force_checkpoint=False)

    def _commit(self, rows: list[Row], seq: int, last_hash: bytes, *, force_checkpoint: bool) -> None:
        checkpoint = None
        due = force_checkpoint or seq - self._last_checkpoint >= self.checkpoint_every
        if self.key is not None and due and seq > self._last_checkpoint:
            checkpoint = Checkpoint(seq, last_hash, self.key_id, checkpoint_mac(self.key, seq, last_hash))
            self._last_checkpoint = seq
        if rows or checkpoint is not None:
            self.store.append(rows, checkpoint)
            self.transactions += 1
        self.committed_seq = seq
        if self.on_commit is not None:
            self.on_commit(seq)
