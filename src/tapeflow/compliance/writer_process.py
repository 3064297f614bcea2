"""The audit writer process: ``python -m tapeflow.compliance.writer_process``, started by ``AuditWriter``.

Two threads. One reads frames from stdin into a queue, so the trading process's writes never wait while this
process is busy committing. The main thread takes whatever batches are waiting (up to ``MAX_GROUP``), numbers and
chains their records (``ChainWriter``), commits them as one transaction and writes the acknowledgement to stdout.
A flush frame commits at once, with a signed checkpoint, and is acknowledged with its token. End of file on stdin
(the trading process closed the pipe, or died) commits what was received completely, checkpoints, and exits.

On an error the process reports it to the trading process (a ``FAILED`` frame with the message) and exits with
code 1; the trading process raises it on its next submit or flush.

It imports only the chain, the store and msgspec (not the trading code), so it starts in well under a second.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import queue
import sys
import threading
from typing import Any, BinaryIO

import msgspec

from tapeflow.compliance.audit_writer import (
    BATCH,
    COMMITTED,
    CONFIG,
    FAILED,
    FLUSH,
    FLUSHED,
    FROM_WRITER,
    READY,
    TO_WRITER,
    ChainWriter,
    WriterConfig,
)

MAX_GROUP = 64
"""Batches committed in one transaction at most (bounds how long a flush waits behind them)."""

_EOF = (0, b"")


def _read_frames(stream: BinaryIO, out: queue.SimpleQueue[tuple[int, bytes]]) -> None:
    size = TO_WRITER.size
    try:
        while True:
            header = stream.read(size)
            if len(header) < size:
                break
            length, kind = TO_WRITER.unpack(header)
            payload = stream.read(length) if length else b""
            if len(payload) < length:  # the trading process died mid-frame: that batch was never acknowledged
                break
            out.put((kind, payload))
    finally:
        out.put(_EOF)


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


def serve(stream: BinaryIO, acks: _Acks) -> None:
    frames: queue.SimpleQueue[tuple[int, bytes]] = queue.SimpleQueue()
    kind, payload = _EOF
    header = stream.read(TO_WRITER.size)
    if len(header) == TO_WRITER.size:
        length, kind = TO_WRITER.unpack(header)
        payload = stream.read(length)
    if kind != CONFIG:
        return  # started by hand, or the trading process died before configuring us
    config = msgspec.msgpack.decode(payload, type=WriterConfig)
    store = _open_store(config)
    try:
        writer = ChainWriter(store, config.key, config.key_id, config.checkpoint_every)
        acks.send(READY, writer.seq)
        threading.Thread(target=_read_frames, args=(stream, frames), name="frames", daemon=True).start()
        get = frames.get
        while True:
            items = [get()]
            while len(items) < MAX_GROUP:
                try:
                    items.append(frames.get_nowait())
                except queue.Empty:
                    break
            pending = False
            for kind, payload in items:
                if kind == BATCH:
                    writer.add(payload)
                    acks.batches += 1
                    pending = True
                elif kind == FLUSH:
                    seq = writer.commit(force_checkpoint=True)
                    pending = False
                    acks.send(FLUSHED, seq, int.from_bytes(payload, "little"))
                else:  # end of file
                    seq = writer.commit(force_checkpoint=True)
                    acks.send(COMMITTED, seq)
                    return
            if pending:
                acks.send(COMMITTED, writer.commit(force_checkpoint=False))
    finally:
        store.close()


def main() -> int:
    ack_fd = os.dup(1)
    os.dup2(2, 1)  # nothing but acknowledgements may reach the trading process's pipe
    acks = _Acks(ack_fd)
    try:
        serve(sys.stdin.buffer, acks)
    except BaseException as exc:
        acks.send(FAILED, 0, text=f"{type(exc).__name__}: {exc}")
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
