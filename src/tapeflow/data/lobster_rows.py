"""Orderbook rows of a LOBSTER zip for the compiled path: one buffer per block and the positions of its newlines.

Why not ``lobster_parse.LineReader``: cutting the orderbook member (~3x the bytes of the messages) into a list of
bytes objects cost ~150 ns a row on this machine, more than the compiled loop spends reading a row. The compiled
loop reads a row where it lies in the buffer; a bytes object is made only for a row a Python callback needs.
The framing is the same as ``LineReader``'s (a carriage return before a newline dropped, a last row without a
newline kept unless blank, a line bounded to ``max_line`` bytes), and ``lines()`` gives the reference's list.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from tapeflow.data.files import MAX_LINE, Readable, line_too_long, read_near_row
from tapeflow.model.errors import DataError

I64 = npt.NDArray[np.int64]
RowEnds = Callable[[bytes], I64]
"""``_lobster_core.row_ends``: -1, then the position of every newline."""


class RowBlock:
    """``n`` rows: row i is ``text[ends[i] + 1 : ends[i + 1]]``."""

    __slots__ = ("_lines", "ends", "n", "text")

    def __init__(self, text: bytes, ends: I64) -> None:
        self.text = text
        self.ends = ends
        self.n = len(ends) - 1
        self._lines: list[bytes] | None = None

    def lines(self) -> list[bytes]:
        """The rows as ``LineReader.take`` gives them (cut once, when a reference method needs them)."""
        if self._lines is None:
            self._lines = self.text[int(self.ends[0]) + 1 : int(self.ends[-1])].split(b"\n") if self.n else []
        return self._lines

    def line(self, i: int) -> bytes:
        return self.text[int(self.ends[i]) + 1 : int(self.ends[i + 1])]


class RowReader:
    """Whole rows from a zip member, read in blocks, kept as one buffer (see the module doc)."""

    def __init__(self, stream: Readable, where: str, block: int, row_ends: RowEnds, max_line: int = MAX_LINE) -> None:
        self._stream = stream
        self._where = where
        self._block = block
        self._row_ends = row_ends
        self._max_line = max_line
        self._read = 0
        self._text = b""
        self._ends: I64 = np.array([-1], dtype=np.int64)
        self._next = 0
        """Index in ``_ends`` of the newline before the next row."""
        self.eof = False

    def _available(self) -> int:
        return len(self._ends) - 1 - self._next

    def _fill(self, row: int) -> bool:
        data = read_near_row(self._stream.read, self._block, self._where, row)
        self._read += len(data)
        start = int(self._ends[self._next]) + 1
        done = int(self._ends[-1]) + 1
        if not data:
            self.eof = True
            rows, tail = self._text[start:done], self._text[done:]
            if not tail.strip():
                return False
            self._text = rows + tail.removesuffix(b"\r") + b"\n"
        else:  # one copy: the rows not yet taken, the unfinished tail and the new bytes
            text = self._text[start:] + data
            fresh = done - start
            cut = text.rfind(b"\n") + 1
            if cut > fresh and text.find(b"\r", fresh, cut) >= 0:
                # as LineReader: only the finished rows, the tail is joined to the next read
                text = text[:fresh] + text[fresh:cut].replace(b"\r\n", b"\n") + text[cut:]
            self._text = text
        self._ends = self._row_ends(self._text)
        self._next = 0
        if len(self._text) - int(self._ends[-1]) - 1 > self._max_line:
            raise line_too_long(self._where, self._read - (len(self._text) - int(self._ends[-1]) - 1), self._max_line)
        return True

    def take(self, n: int, row: int) -> RowBlock:
        """The next ``n`` rows; ``row`` is the number of rows read so far, for errors."""
        while self._available() < n:
            if self.eof or not self._fill(row):
                last = row + self._available()
                raise DataError(
                    f"orderbook file ends at row {last} but the message file goes on; the two files must "
                    "have one row per message",
                    path=self._where,
                    line=last + 1,
                )
        out = RowBlock(self._text, self._ends[self._next : self._next + n + 1])
        self._next += n
        return out

    def more(self, row: int) -> bool:
        """Whether a row is left after those taken."""
        while not self._available():
            if self.eof or not self._fill(row):
                return False
        return True
