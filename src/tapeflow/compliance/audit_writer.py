"""The audit writer: a separate process that owns the store, fed with encoded batches, so the loop never waits on
disk and never shares the GIL with hashing and SQLite.

Loop side (``AuditWriter``, in the trading process): ``submit`` encodes a batch of events (and the causes of the
order commands among them) with one msgspec call, about 0.3 us a record, and writes it to the writer process's
stdin as one frame. That is all the loop pays: numbering, the SHA-256 chain, checkpoints and SQLite run in the
writer process (``writer_process``), on another core, without the loop's GIL. The writer acknowledges each commit
on its stdout (the last committed sequence number, and how many batches are done); the trading process reads the
acknowledgements every ``POLL_EVERY`` hand-overs, in ``flush`` and while waiting for room, updates ``committed_seq``
and calls ``on_commit``. The writer process polls its stdin on a timer while batches keep coming rather than
blocking on it, so that the loop's write wakes nobody (see ``writer_process``), and at stop the trail returns once
its final flush is acknowledged, leaving the writer's exit to be reaped later (``close(wait=False)``).

Bounded, and nothing dropped: at most ``max_batches`` batches are in flight (sent, not yet committed), and the pipe
(1 MB) is written without blocking. When the writer falls that far behind (the disk cannot keep up) or has not
read the pipe for a while, ``submit`` counts it in ``full_waits``, logs a warning and waits for the writer: a
trading loop that outruns its audit trail must slow down rather than trade unrecorded. ``flush`` waits until
everything submitted so far is committed (on stop, and on a kill switch).

Records are numbered and chained in the writer, in the order the batches arrive through one pipe, which is the
loop's order: the chain is the same on every run (only how records are grouped into transactions varies).

Crash safety: the writer acknowledges a record only after its transaction committed. If the trading process is
killed, the writer reads end-of-file on its stdin, commits every complete batch it received and exits; if the
writer is killed, the trading process gets an ``EngineError`` on its next ``submit`` or ``flush``. Either way
every acknowledged record is in the database and the chain verifies (``tests/compliance/test_crash.py``).

Runs and heads: each writer that commits records is a run of the trail (``audit_store``), and every transaction it
commits carries a checkpoint signed over its last record (with a key): one HMAC and one small row per transaction
of up to ``MAX_GROUP`` batches, nothing per record, and no committed record is ever outside a checkpoint. At the end
of the run (``close``, or end of file when the trading process died) the writer appends the run's head to the head
file beside the store and sends it back (``head``), so the trail can print it for the user to keep.

``ChainWriter`` (``chain_writer``) is the part that does not care about processes: number, hash, checkpoint and
commit a batch; the frames of the pipes are defined there too.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import msgspec

import tapeflow
from tapeflow.compliance.chain_writer import (
    BATCH,
    CONFIG,
    END,
    FAILED,
    FLUSH,
    FLUSHED,
    FROM_WRITER,
    READY,
    TO_WRITER,
    WriterConfig,
)
from tapeflow.compliance.head import Head, parse_head
from tapeflow.compliance.writer_base import WriterBase

if TYPE_CHECKING:
    from tapeflow.model.events import Event

log = logging.getLogger(__name__)


_ACK_READ = 65536
POLL_EVERY = 8
"""Hand-overs between reads of the acknowledgements. A system call costs 10-30 us on a virtual machine (measured
on the 2-vCPU VM of docs/PERFORMANCE.md): reading at every hand-over of 512 records was 0.1-0.2 us a record."""

_F_SETPIPE_SZ = 1031
_PIPE_BYTES = 1 << 20
"""Pipe buffer asked for (Linux): a few dozen batches, so a writer busy committing does not stall the loop's write."""


_BOOT = """
import sys, types
package = types.ModuleType("tapeflow")
package.__path__ = [sys.argv[1] + "/tapeflow"]
sys.modules["tapeflow"] = package
from tapeflow.compliance.writer_process import main
sys.exit(main())
"""
"""How the writer process starts: ``tapeflow/__init__`` reads the installed package's metadata for ``__version__``
(about 80 ms), which the writer never uses, so the package is entered without it. Every trail starts one writer,
so this is most of what a short backtest (or a test) pays for the trail."""


_exiting: list[subprocess.Popen[bytes]] = []
"""Writer processes told to stop (their every record committed and acknowledged) whose exit nobody waited for."""


def _reap(*, wait: bool) -> None:
    """Collect writer processes that were closed without waiting: exited ones now, all of them if ``wait``.

    Their records are committed before they are put here; what is left is SQLite's last checkpoint of its WAL and
    the interpreter's exit, which need not hold up the end of a run. A nonzero exit is logged (the records it
    acknowledged are in the store all the same)."""
    for proc in list(_exiting):
        try:
            code = proc.wait(timeout=60) if wait else proc.poll()
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        if code is None:
            continue
        _exiting.remove(proc)
        if code != 0:
            log.error("audit writer process %d exited with code %d after its last commit", proc.pid, code)


atexit.register(_reap, wait=True)  # no writer process outlives the trading process unwaited for


def _package_root() -> str:
    return str(Path(tapeflow.__file__).resolve().parent.parent)


class AuditWriter(WriterBase):
    """Owns a writer process for ``store`` from ``start`` to ``close``. ``store`` is opened again by the writer
    (``store.spec()``); this process uses its own connection only to learn where the chain resumes.

    Acknowledgements are read by the caller's thread, not by a thread of their own: without blocking every
    ``POLL_EVERY`` ``submit`` (one ``read``), and waiting in ``flush``, ``close`` and when the queue is full. A
    reader thread would take the GIL from the loop at every commit and cost it a thread switch each time; the price
    is that ``committed_seq`` and ``on_commit`` learn of a commit a few hand-overs later, or at a flush."""

    mode = "process"  # which writer runs (thread_writer.ThreadAuditWriter is the other): benchmarks print it

    def _init_state(self) -> None:
        self._batches_sent = 0
        self._batches_done = 0
        self._flush_token = 0
        self._flushed = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._fd = -1
        self._ack_fd = -1
        self._acks = bytearray()
        self._eof = False
        self._closing = False
        self._encoder = msgspec.msgpack.Encoder()
        self._frame = bytearray()
        """Reused for every batch ``submit`` encodes: no new 100 kB buffer per hand-over."""

    @property
    def pid(self) -> int | None:
        """The writer process's id while it runs (for tests that kill it)."""
        return self._proc.pid if self._proc is not None else None

    # -- trading process ----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer process. Does not wait for it to open the store: its errors surface at the next
        ``submit`` or ``flush``, and the loop does not pay the process's start-up."""
        if self._proc is not None:
            return
        _reap(wait=False)
        self.committed_seq, _ = self.store.last()
        store, kwargs = self.store.spec()
        root = _package_root()
        proc = subprocess.Popen(  # our own interpreter and code, no shell
            [sys.executable, "-c", _BOOT, root],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            close_fds=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        self._proc = proc
        self._fd = proc.stdin.fileno()
        self._ack_fd = proc.stdout.fileno()
        os.set_blocking(self._ack_fd, False)
        os.set_blocking(self._fd, False)
        with contextlib.suppress(OSError):  # Linux only; elsewhere the default pipe size is slower, not wrong
            fcntl.fcntl(self._fd, _F_SETPIPE_SZ, _PIPE_BYTES)
            fcntl.fcntl(self._ack_fd, _F_SETPIPE_SZ, _PIPE_BYTES)  # unread acks must never block the writer
        config = WriterConfig(store, kwargs, self.key, self.key_id)
        self._send(CONFIG, msgspec.msgpack.encode(config))

    def submit(self, events: Sequence[Event], causes: Sequence[tuple[int, Any]] = ()) -> None:
        """Encode ``events`` (with ``causes``: ``(index in events, OrderCause)`` for order commands) and send them
        to the writer, to be recorded in this order. Waits only when ``max_batches`` batches are in flight."""
        self._make_room()
        frame = self._frame
        self._encoder.encode_into((events, causes), frame, TO_WRITER.size)
        TO_WRITER.pack_into(frame, 0, len(frame) - TO_WRITER.size, BATCH)
        self._write(frame)
        self._batches_sent += 1
        self.submitted += len(events)

    def _make_room(self) -> None:
        """Start the writer if needed; read acknowledgements every ``POLL_EVERY`` hand-overs, and whenever the
        queue looks full (a write to a writer that died fails at once, so an error is never missed for long)."""
        if self._proc is None:
            self.start()
        elif self._batches_sent % POLL_EVERY == 0 or self._batches_sent - self._batches_done >= self.max_batches:
            self._poll(block=False)
        if self._error is not None:
            self._raise()
        if self._batches_sent - self._batches_done >= self.max_batches:
            self._wait_for_room()

    def flush(self) -> int:
        """Wait until every submitted record is committed; returns the last committed sequence number."""
        return self._flush(FLUSH)

    def finish(self) -> Head | None:
        """End the run: wait until every record is committed and the run's head is written to the head file; the
        head (also in ``head``). None if the writer never started (nothing was recorded)."""
        self._flush(END)
        return self.head

    def _flush(self, kind: int) -> int:
        if self._proc is None:
            return self.committed_seq
        if self._error is not None:
            self._raise()
        self._flush_token += 1
        token = self._flush_token
        self._send(kind, token.to_bytes(8, "little"))
        while self._flushed < token and self._error is None:
            self._poll(block=True)
        if self._error is not None:
            self._raise()
        return self.committed_seq

    def close(self, *, wait: bool = True) -> None:
        """End the run (``finish``), end the writer process, and close this process's connection to the store.

        With ``wait`` false (the trail's stop), return once the final flush is acknowledged: every record is
        committed then, and the writer's exit (SQLite's last WAL checkpoint, the interpreter's teardown, ~0.1 s) is
        reaped later: by the next writer's ``start``, or at this interpreter's exit. A failure of the writer after
        its last acknowledgement is then logged, not raised: it cannot lose an acknowledged record."""
        proc = self._proc
        if proc is not None:
            try:
                if self._error is None:
                    self.finish()
            finally:
                self._closing = True
                assert proc.stdin is not None and proc.stdout is not None
                with contextlib.suppress(OSError):
                    proc.stdin.close()  # end of file: the writer commits what it has and exits
                if wait or self._error is not None:
                    self._wait_for_exit(proc)
                else:
                    _exiting.append(proc)
                proc.stdout.close()
                self._proc = None
        self.store.close()
        if self._error is not None:
            self._raise()  # records after committed_seq are not in the store: the run must not end as if they were

    def _wait_for_exit(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 60
        while not self._eof and time.monotonic() < deadline:
            self._poll(block=True, timeout=1.0)
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self._fail("the writer process did not exit within 60 s after the end of the run; killed")

    def _send(self, kind: int, payload: bytes) -> None:
        """Write one frame (header and ``payload``)."""
        self._write(TO_WRITER.pack(len(payload), kind) + payload)

    def _write(self, frame: bytes | bytearray) -> None:
        """Write a whole frame. The pipe is non-blocking: when it is full (the writer is busy committing and has not
        read for a while) the wait is counted in ``full_waits`` like a full queue, never hidden in a write."""
        try:
            written = os.write(self._fd, frame)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            self._broken(exc)
        if written == len(frame):
            return
        self._report_full("the pipe to the writer is full")
        rest = memoryview(bytes(frame[written:]))  # a copy: the frame buffer is reused by the next batch
        while rest:
            select.select([self._ack_fd], [self._fd], [], 1.0)
            self._poll(block=False)  # keep reading acknowledgements, so the writer never blocks on them
            if self._error is not None:
                self._raise()
            try:
                rest = rest[os.write(self._fd, rest) :]
            except BlockingIOError:
                continue
            except OSError as exc:
                self._broken(exc)

    def _broken(self, exc: OSError) -> NoReturn:
        self._poll(block=False)  # the writer may have said why it stopped
        self._fail(f"cannot send to the audit writer process: {exc}")
        self._raise()

    def _wait_for_room(self) -> None:
        self._report_full(f"{self.max_batches} batches in flight")
        while self._batches_sent - self._batches_done >= self.max_batches and self._error is None:
            self._poll(block=True)
        if self._error is not None:
            self._raise()

    def _fail(self, message: str) -> None:
        if self._error is None:
            self._error = message
            log.error("audit writer: %s", message)

    # -- acknowledgements ---------------------------------------------------------------------------------------

    def _poll(self, *, block: bool, timeout: float | None = None) -> None:
        """Read and apply the acknowledgements that have arrived (waiting for some first if ``block``)."""
        if self._eof:
            return
        if block:
            select.select([self._ack_fd], [], [], timeout)
        buf = self._acks
        while True:  # one read when fewer bytes than asked for came: a pipe returns all it holds, up to the size
            try:
                chunk = os.read(self._ack_fd, _ACK_READ)
            except BlockingIOError:
                break
            if not chunk:
                self._eof = True
                break
            buf += chunk
            if len(chunk) < _ACK_READ:
                break
        size = FROM_WRITER.size
        pos = 0
        while len(buf) - pos >= size:
            kind, seq, done, token, text_len = FROM_WRITER.unpack_from(buf, pos)
            if len(buf) - pos - size < text_len:
                break
            text = bytes(buf[pos + size : pos + size + text_len])
            pos += size + text_len
            if kind == FAILED:
                self._fail(text.decode(errors="replace"))
                continue
            if seq > self.committed_seq:
                self.committed_seq = seq
            if done > self._batches_done:
                self._batches_done = done
            if kind == FLUSHED:
                self._flushed = token
                if text:
                    self.head = parse_head(text.decode(errors="replace"))
            if kind != READY and self.on_commit is not None:
                self.on_commit(seq)
        del buf[:pos]
        if self._eof:
            assert self._proc is not None
            code = self._proc.wait()
            if not (self._closing and code == 0):
                self._fail(f"the writer process exited (code {code})")
