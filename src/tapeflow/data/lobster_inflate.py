"""Inflating a LOBSTER zip member in a thread, a bounded number of blocks ahead of the reader.

Why: inflating and checking the CRC of the orderbook member is ~20% of a compiled replay's CPU time, and zlib
releases the GIL while it works, so a thread (``prefetch.Prefetch``) does it while the replay loop runs: wall
time drops, CPU time does not. At most ``depth`` blocks wait. Errors raised while reading (a corrupt or
truncated member) are raised again, unchanged, by the ``read`` that would have returned that block, so the
caller turns them into the same one-line error as without the thread. ``close`` stops and joins the thread,
also when the reader stops early or fails.
"""

from __future__ import annotations

from functools import partial

from tapeflow.data.files import Readable
from tapeflow.data.prefetch import Prefetch


class InflateThread:
    """``read(block)`` returns what ``stream.read(block)`` would, read in a thread ahead of the caller."""

    def __init__(self, stream: Readable, block: int, depth: int = 2) -> None:
        self._block = block
        self._blocks: Prefetch[bytes] = Prefetch(
            lambda: iter(partial(stream.read, block), b""), depth=depth, name="tapeflow-lobster-inflate"
        )

    def read(self, n: int) -> bytes:
        """The next block (``n`` must be the block size given at the start); b"" at the end."""
        if n != self._block:
            raise ValueError(f"reads {self._block} bytes at a time, not {n}")
        return next(self._blocks, b"")

    @property
    def alive(self) -> bool:
        return self._blocks.alive

    def close(self) -> None:
        """Stop the thread and wait for it (at most one block's read and one poll)."""
        self._blocks.close()
