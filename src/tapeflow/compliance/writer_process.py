"""The audit writer process: started by ``AuditWriter`` (``audit_writer._BOOT`` runs ``main``).

One thread, so that nothing here waits for the GIL. It reads frames from stdin, numbers and chains the records of
each batch (``ChainWriter``) and, between batches, reads whatever else has arrived, so the pipe stays drained and
the trading process's writes do not wait while this process is busy. Waiting for frames, it polls on a timer for
a while before blocking on the pipe (``_Frames.pump`` says why). When no frame is left (or ``MAX_GROUP``
batches are done) it commits them as one transaction and writes the acknowledgement to stdout. A flush frame
commits at once and is acknowledged with its token; an end frame also appends the run's head to the head file and
sends it back with the acknowledgement. End of file on stdin (the trading process closed the pipe, or died)
commits what was received completely, writes the head line (if no end frame did), and exits; a torn frame at the
end was never acknowledged and is dropped. Every commit carries a signed checkpoint when the run has a key.

On an error the process reports it to the trading process (a ``FAILED`` frame with the message) and exits with
code 1; the trading process raises it on its next submit or flush.

It imports only the chain, the store and msgspec (not the trading code), so it starts in a fraction of a second.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import select
import signal
import sys
import time
from collections import deque
from typing import Any

import msgspec

from tapeflow.compliance.chain_writer import (
    BATCH,
    COMMITTED,
    CONFIG,
    END,
    FAILED,
    FLUSH,
    FLUSHED,
    FROM_WRITER,
    READY,
    TO_WRITER,
    ChainWriter,
    WriterConfig,
)
from tapeflow.compliance.head import format_head

MAX_GROUP = 8
"""Batches committed in one transaction at most (about 1 MB): bounds how long a flush waits behind them, and how
long the pipe goes unread while SQLite writes (the pipe holds 1 MB; a longer commit would make the loop wait)."""

_READ = 1 << 20
POLL_S = 0.001
IDLE_POLLS = 200
"""Waiting for frames, polls every ``POLL_S`` for up to ``IDLE_POLLS`` polls (0.2 s) after the last frame, then
blocks on the pipe (an idle trail costs nothing; the first frame after a pause wakes the writer)."""


class _Frames:
    """Frames read from ``fd`` (non-blocking) and not yet handled."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = bytearray()
        self.ready: deque[tuple[int, bytes]] = deque()
        self.eof = False
        self.idle = 0
        """Polls without a frame since the last one."""

    def pump(self, *, block: bool) -> None:
        """Read what has arrived (waiting for something first if ``block``) and split it into frames.

        Waiting, it sleeps ``POLL_S`` at a time for ``IDLE_POLLS`` polls before blocking on the pipe: a process
        blocked on the pipe is woken by the trading process's write, and Linux runs a task woken that way on the
        waker's CPU ("sync" pipe wake-ups), where it preempted the trading loop for the whole batch (~2 ms of
        hashing and SQLite per hand-over; ~90 involuntary context switches of the loop per benchmark run). A
        writer that wakes on its own timer stays on its own CPU and the trading process's write wakes nobody."""
        if block and not self.eof:
            if self.idle < IDLE_POLLS:
                self.idle += 1
                time.sleep(POLL_S)
            else:
                select.select([self.fd], [], [])
        while not self.eof:
            try:
                chunk = os.read(self.fd, _READ)
            except BlockingIOError:
                break
            if not chunk:
                self.eof = True
            self.buf += chunk
        buf = self.buf
        size = TO_WRITER.size
        pos = 0
        with memoryview(buf) as view:  # one copy per frame (a bytearray slice would be a second)
            while len(buf) - pos >= size:
                length, kind = TO_WRITER.unpack_from(buf, pos)
                if len(buf) - pos - size < length:
                    break
                self.ready.append((kind, bytes(view[pos + size : pos + size + length])))
                pos += size + length
                self.idle = 0
        del buf[:pos]


class _Acks:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.batches = 0

    def send(self, kind: int, seq: int, token: int = 0, text: str = "") -> None:
        data = text.encode()
        with contextlib.suppress(OSError):  # the trading process is gone; the records are committed all the same
            os.write(self.fd, FROM_WRITER.pack(kind, seq, self.batches, token, len(data)) + data)


def _open_store(config: WriterConfig) -> Any:
    module, _, name = config.store.partition(":")
    return getattr(importlib.import_module(module), name)(**config.store_kwargs)


def serve(fd: int, acks: _Acks) -> None:
    os.set_blocking(fd, False)
    frames = _Frames(fd)
    while not frames.ready and not frames.eof:
        frames.pump(block=True)
    if not frames.ready or frames.ready[0][0] != CONFIG:
        return  # started by hand, or the trading process died before configuring us
    config = msgspec.msgpack.decode(frames.ready.popleft()[1], type=WriterConfig)
    store = _open_store(config)
    try:
        writer = ChainWriter(store, config.key, config.key_id)
        acks.send(READY, writer.seq)
        ready = frames.ready
        while True:
            while not ready and not frames.eof:
                frames.pump(block=True)
            if not ready:  # end of file
                writer.end()
                acks.send(COMMITTED, writer.seq)
                return
            pending = 0
            while ready and pending < MAX_GROUP:
                kind, payload = ready.popleft()
                if kind == BATCH:
                    writer.add(payload)
                    acks.batches += 1
                    pending += 1
                    frames.pump(block=False)  # keep the pipe drained while we work
                elif kind == FLUSH:
                    seq = writer.commit()
                    pending = 0
                    acks.send(FLUSHED, seq, int.from_bytes(payload, "little"))
                elif kind == END:
                    head = writer.end()
                    pending = 0
                    acks.send(FLUSHED, head.seq, int.from_bytes(payload, "little"), format_head(head))
            if pending:
                acks.send(COMMITTED, writer.commit())
    finally:
        store.close()


def main() -> int:
    # Ctrl-C reaches every process of the terminal's group, and a service manager's stop (SIGTERM) every process of
    # the unit: the trading process decides when the run ends (it flushes, then closes our stdin), so neither may
    # kill the writer with batches still in flight. We exit at end of file, also when the trading process died.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Every record becomes a tuple that lives until its commit: the cyclic collector would walk them again and
    # again while finding nothing, since nothing here makes a cycle (flat tuples, bytes, a list emptied per commit).
    gc.disable()
    ack_fd = os.dup(1)
    os.dup2(2, 1)  # nothing but acknowledgements may reach the trading process's pipe
    acks = _Acks(ack_fd)
    try:
        serve(0, acks)
    except BaseException as exc:
        acks.send(FAILED, 0, text=f"{type(exc).__name__}: {exc}")
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
