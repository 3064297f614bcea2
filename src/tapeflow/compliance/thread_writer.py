"""The audit writer as a thread of the trading process: for a backtest where no core is free for a writer process.

Why a second writer: the writer process (``audit_writer``) keeps hashing and SQLite off the loop's GIL, which pays
when a core is free for it. Where none is (a single core, or every core busy with other runs) the process is not
free: its interpreter's start-up and imports (~0.08 s of CPU), a timer poll every millisecond while batches come,
and its exit cost more than its work, which is ~1 us a record (numbering, SHA-256, SQLite; ``ChainWriter``).
Measured on the demo backtest (25k records) on a quiet two-core machine, the process added +25% to the CPU of the
run and +7% to its wall time (its work runs on the other core), the thread +15% to both (docs/PERFORMANCE.md,
"Audit writer"). The thread runs the same ``ChainWriter`` on the same encoded batches, so both write the same
records and the same chain (``tests/compliance/test_thread_writer.py``).

What a thread cannot give: when the trading process dies, batches handed over but not yet committed die with it
(the writer process would commit them). An acknowledged record is committed either way, and the chain verifies; a
backtest lost that way is rerun from its data. So ``AuditTrail.open`` takes the process unless told otherwise, and
``writer="auto"`` (the backtest's) takes the thread only when ``os.cpu_count()`` is one; live sessions keep the
process.

The loop side is as in ``AuditWriter``: ``submit`` encodes a batch with one msgspec call and puts it on a queue (no
system call while the thread keeps up); at most ``max_batches`` are in flight, beyond which ``submit`` waits and
counts it in ``full_waits``; ``flush`` waits until everything submitted is committed; ``on_commit`` is called from
the caller's thread (in ``submit`` and ``flush``), never from the writer's.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from tapeflow.compliance.chain_writer import ChainWriter
from tapeflow.compliance.head import Head
from tapeflow.compliance.writer_base import WriterBase

if TYPE_CHECKING:
    from tapeflow.model.events import Event

log = logging.getLogger(__name__)

MAX_GROUP = 8
"""Batches committed in one transaction at most, as in the writer process: bounds how long a flush waits."""

_FLUSH, _END, _STOP = 1, 2, 3


class ThreadAuditWriter(WriterBase):
    """``AuditWriter``'s interface, its work done by a thread of this process on ``store``'s own connection (the
    store is used only by the thread between ``start`` and ``close``)."""

    mode = "thread"
    """Which writer runs: benchmarks and the run's stats print it."""

    def _init_state(self) -> None:
        self._notified = 0
        self._sent = 0
        self._done = 0
        self._flushes = 0
        self._flushed = 0
        self._queue: deque[tuple[int, Any]] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._encode = msgspec.msgpack.Encoder().encode

    @property
    def pid(self) -> int | None:
        """No process of its own (``AuditWriter.pid`` is the writer process's)."""
        return None

    def start(self) -> None:
        if self._thread is not None:
            return
        self.committed_seq, _ = self.store.last()
        self._notified = self.committed_seq
        self._thread = threading.Thread(target=self._serve, name="audit-writer", daemon=True)
        self._thread.start()

    def submit(self, events: Sequence[Event], causes: Sequence[tuple[int, Any]] = ()) -> None:
        """Encode ``events`` (and the causes of the order commands among them) and queue them, in this order."""
        if self._thread is None:
            self.start()
        if self._error is not None:
            self._raise()
        payload = self._encode((events, causes))
        cond = self._cond
        with cond:
            if self._sent - self._done >= self.max_batches:
                self._report_full(f"{self.max_batches} batches in flight")
                while self._sent - self._done >= self.max_batches and self._error is None:
                    cond.wait()
            self._queue.append((0, payload))
            self._sent += 1
            cond.notify()
        self.submitted += len(events)
        if self.on_commit is not None and self.committed_seq > self._notified:
            self._notify()

    def flush(self) -> int:
        """Wait until every submitted record is committed; returns the last committed sequence number."""
        return self._flush(_FLUSH)

    def finish(self) -> Head | None:
        """End the run: every record committed and the run's head appended to the head file; the head."""
        if self._thread is None:
            return self.head
        self._flush(_END)
        return self.head

    def close(self, *, wait: bool = True) -> None:
        """End the run (``finish``), stop the thread and close the store. ``wait`` is accepted for
        ``AuditWriter``'s sake: a thread's end is always waited for (it is quick: the run is committed)."""
        thread = self._thread
        try:
            if thread is not None:
                try:
                    if self._error is None:
                        self.finish()
                finally:
                    with self._cond:
                        self._queue.append((_STOP, 0))
                        self._cond.notify()
                    thread.join()
                    self._thread = None
        finally:
            self.store.close()
        if self._error is not None:
            self._raise()

    # -- trading thread -----------------------------------------------------------------------------------------

    def _flush(self, kind: int) -> int:
        if self._thread is None:
            return self.committed_seq
        cond = self._cond
        with cond:
            self._flushes += 1
            token = self._flushes
            self._queue.append((kind, token))
            cond.notify()
            while self._flushed < token and self._error is None:
                cond.wait()
        if self._error is not None:
            self._raise()
        self._notify()
        return self.committed_seq

    def _notify(self) -> None:
        seq = self.committed_seq
        if self.on_commit is not None and seq > self._notified:
            self._notified = seq
            self.on_commit(seq)

    # -- writer thread ------------------------------------------------------------------------------------------

    def _serve(self) -> None:
        try:
            self._loop(ChainWriter(self.store, self.key, self.key_id))
        except Exception as exc:  # any failure ends the trail: reported to the loop, never swallowed
            with self._cond:
                self._error = f"{type(exc).__name__}: {exc}"
                self._cond.notify_all()
            log.error("audit writer: %s", self._error)

    def _loop(self, writer: ChainWriter) -> None:
        cond = self._cond
        queue = self._queue
        while True:
            with cond:
                while not queue:
                    cond.wait()
                taken = [queue.popleft() for _ in range(min(len(queue), MAX_GROUP))]
            batches = 0
            for kind, payload in taken:
                if kind == 0:
                    writer.add(payload)
                    batches += 1
                    continue
                seq = writer.commit()
                self._committed(seq, batches)
                batches = 0
                if kind == _STOP:
                    return
                head = writer.end() if kind == _END else None
                with cond:
                    if head is not None:
                        self.head = head
                    self._flushed = payload
                    cond.notify_all()
            if batches:
                self._committed(writer.commit(), batches)

    def _committed(self, seq: int, batches: int) -> None:
        with self._cond:
            self.committed_seq = seq
            self._done += batches
            self._cond.notify_all()
