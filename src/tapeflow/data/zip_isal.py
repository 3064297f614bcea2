"""A deflated zip member inflated by ISA-L (the ``isal`` package): ``zipfile``'s bytes and errors, less CPU.

Why: inflating a LOBSTER day's two members and checking their CRC-32 through ``zipfile`` (zlib) was about a
quarter of the compiled replay's CPU time; ISA-L's inflate and CRC-32 do the same work in ~40% of it on this
machine (``docs/PERFORMANCE.md``, "Round 9, p27-zip"). Deflate's output is fixed by its input, so the bytes are
``zipfile``'s. So are the errors: at the first sign of anything unusual (an inflate error, a short file, more or
fewer bytes than the central directory says, a CRC that differs), the member is handed to ``zipfile``'s own
reader, opened before the first read: it reads again the bytes already given and raises its own error where it
would have without this reader (or, if it finds nothing wrong, goes on giving the bytes).
"""

from __future__ import annotations

import zipfile
from typing import IO, Final, cast

try:  # a dependency (pyproject.toml); without it the decoder reads through zipfile, as the reference does
    from isal import isal_zlib

    ISAL_AVAILABLE = True
    _INFLATE_ERROR = cast(type[Exception], isal_zlib.error)  # its stubs call the class an instance
except ImportError:  # pragma: no cover - an install without the isal wheel
    ISAL_AVAILABLE = False
    _INFLATE_ERROR = ValueError

_COMPRESSED: Final = 1 << 16
"""Compressed bytes read and inflated at a time (a LOBSTER orderbook member inflates ~20x)."""
_SKIP: Final = 1 << 20
"""Bytes the handed-over reference reads at a time while it skips those already given (memory stays bounded)."""
_LOCAL_HEADER: Final = 30
_ENCRYPTED: Final = 0x1


class _UnusualError(Exception):
    """Anything the fast path does not vouch for: ``zipfile`` decides."""


def open_member(zf: zipfile.ZipFile, name: str) -> IO[bytes] | IsalMember:
    """``zf.open(name)``, or an ``IsalMember`` over it where the member is deflated and ``isal`` is installed."""
    reference = zf.open(name)  # its checks of the local header run here, as without this reader
    info = zf.getinfo(name)
    if not ISAL_AVAILABLE or info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & _ENCRYPTED:
        return reference
    assert zf.filename is not None
    return IsalMember(zf.filename, info, reference)


class IsalMember:
    """``read(n)`` returns what ``reference.read(n)`` would (``reference``: ``zipfile``'s reader of the member,
    not read yet); ``close`` closes both."""

    def __init__(self, path: str, info: zipfile.ZipInfo, reference: IO[bytes]) -> None:
        self._reference = reference
        self._handed = False
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close(), like the reference it stands for
        self._name = info.filename
        self._size = info.file_size
        self._crc_expected = info.CRC
        self._compressed_left = info.compress_size
        self._inflater = isal_zlib.decompressobj(-15)
        self._tail = b""
        self._crc = 0
        self._given = 0
        self._done = False
        try:
            self._file.seek(info.header_offset)
            header = self._file.read(_LOCAL_HEADER)
            if len(header) == _LOCAL_HEADER:
                name_len = int.from_bytes(header[26:28], "little")
                extra_len = int.from_bytes(header[28:30], "little")
                self._file.seek(info.header_offset + _LOCAL_HEADER + name_len + extra_len)
            else:
                self._handed = True
        except OSError:
            self._handed = True

    def read(self, n: int) -> bytes:
        if self._handed:
            return self._reference.read(n)
        try:
            data = self._read(n)
        except (_UnusualError, _INFLATE_ERROR):
            return self._hand_over().read(n)
        self._given += len(data)
        return data

    def _hand_over(self) -> IO[bytes]:
        """From now on the reference reads, from where this reader's caller is."""
        self._handed = True
        left = self._given
        while left > 0:
            skipped = len(self._reference.read(min(left, _SKIP)))
            if not skipped:
                break  # the reference ends sooner: its next read says so
            left -= skipped
        return self._reference

    def _compressed(self) -> bytes:
        if self._tail:
            data, self._tail = self._tail, b""
            return data
        if self._compressed_left <= 0:
            raise _UnusualError("the compressed data ends before the deflate stream")
        data = self._file.read(min(_COMPRESSED, self._compressed_left))
        if not data:
            raise _UnusualError("the file ends inside the member")
        self._compressed_left -= len(data)
        return data

    def _read(self, n: int) -> bytes:
        """Up to ``n`` bytes, ``n`` unless the member ends; ``_UnusualError`` for anything the reference must decide."""
        pieces: list[bytes] = []
        want = min(n, self._size - self._given)
        got = 0
        inflater = self._inflater
        while got < want:
            if inflater.eof:
                raise _UnusualError("the deflate stream ends before the size the directory gives")
            piece = inflater.decompress(self._compressed(), want - got)
            self._tail = inflater.unconsumed_tail
            if piece:
                self._crc = isal_zlib.crc32(piece, self._crc)
                pieces.append(piece)
                got += len(piece)
        if self._given + got == self._size and not self._done:
            self._finish()
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def _finish(self) -> None:
        """Every byte the directory gives is out: the stream must end here and its CRC-32 match."""
        inflater = self._inflater
        while not inflater.eof:
            if inflater.decompress(self._compressed(), 1):
                raise _UnusualError("the deflate stream goes on past the size the directory gives")
            self._tail = inflater.unconsumed_tail
        if self._crc != self._crc_expected:
            raise _UnusualError("CRC-32")
        self._done = True

    def close(self) -> None:
        try:
            self._file.close()
        finally:
            self._reference.close()

    def __enter__(self) -> IsalMember:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
