"""Inflating a LOBSTER zip member in a thread, a bounded number of blocks ahead of the reader.

Why: inflating and checking the CRC of the orderbook member is ~20% of a compiled replay's CPU time, and zlib
releases the GIL while it works, so on a machine with a core to spare a thread does it while the replay loop
runs: wall time drops, CPU time does not (both threads count). Memory stays flat: at most ``depth`` blocks wait.
Errors raised while reading (a corrupt or truncated member) are raised again, unchanged, by the ``read`` that
would have returned that block, so the caller turns them into the same one-line error as without the thread.
``close`` stops and joins the thread, also when the reader stops early or fails.
"""

from __future__ import annotations

import queue
import threading
from typing import Final

from tapeflow.data.files import Readable

_POLL_S: Final = 0.05
"""How long the thread waits on a full queue before it looks at the stop flag again."""


class InflateThread:
    """``read(block)`` returns what ``stream.read(block)`` would, read in a thread ahead of the caller."""

    def __init__(self, stream: Readable, block: int, depth: int = 2) -> None:
        self._stream = stream
        self._block = block
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._ended = False
        self._thread = threading.Thread(target=self._run, name="tapeflow-lobster-inflate", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                data = self._stream.read(self._block)
                self._put(data)
                if not data:
                    return
        except BaseException as exc:  # handed to the reader, which raises it
            self._put(exc)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                continue

    def read(self, n: int) -> bytes:
        """The next block (``n`` must be the block size given at the start); b"" at the end."""
        if n != self._block:
            raise ValueError(f"reads {self._block} bytes at a time, not {n}")
        if self._ended:
            return b""
        item = self._queue.get()
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        if not item:
            self._ended = True
        return item

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        """Stop the thread and wait for it (at most one block's read and one poll)."""
        self._stop.set()
        self._thread.join()
