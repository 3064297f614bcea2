"""Mutations of real text files for the reader fuzz tests: what a disk, a transfer or a careless edit does to a CSV.

Each mutation works on the decompressed bytes of one member and says what it did, so that a test can state which
outcomes that change allows. ``structural`` mutations change the number of lines (or cut the last one); the
others keep the line count and change bytes inside lines (a flip) or their order (a swap).
"""

from __future__ import annotations

import gzip
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

OPS = ("truncate", "flip", "insert", "delete", "duplicate", "swap")


@dataclass(frozen=True)
class Mutation:
    op: str
    data: bytes
    """The mutated bytes."""
    lines: tuple[int, ...]
    """0-based indices of the lines of the original that the mutation touched."""

    @property
    def structural(self) -> bool:
        return self.op in ("truncate", "insert", "delete", "duplicate")


def head_lines(data: bytes, n: int) -> bytes:
    """The first ``n`` lines of ``data``, each ending in a newline: a small slice of a real file."""
    return b"".join(line + b"\n" for line in data.split(b"\n")[:n])


@st.composite
def mutations(draw: st.DrawFn, data: bytes, first_line: int = 0) -> Mutation:
    """One mutation of ``data`` (whole lines ending in newlines); lines before ``first_line`` (a header) are kept
    unless the mutation is a byte flip or a truncation, which may land anywhere."""
    lines = data.split(b"\n")[:-1]
    n = len(lines)
    assert n > first_line + 1, "the slice must have data rows to mutate"
    op = draw(st.sampled_from(OPS))
    if op == "truncate":
        at = draw(st.integers(0, len(data) - 1))
        return Mutation(op, data[:at], (data.count(b"\n", 0, at),))
    if op == "flip":
        at = draw(st.integers(0, len(data) - 1))
        byte = draw(st.one_of(st.sampled_from(b"0123456789,.-\n\r 9"), st.integers(0, 255)))
        return Mutation(op, data[:at] + bytes([byte]) + data[at + 1 :], (data.count(b"\n", 0, at),))
    i = draw(st.integers(first_line, n - 1))
    out = list(lines)
    if op == "insert":
        extra = draw(
            st.one_of(st.sampled_from(lines[first_line:]), st.binary(max_size=40).filter(lambda b: b"\n" not in b))
        )
        out.insert(i, extra)
    elif op == "delete":
        del out[i]
    elif op == "duplicate":
        out.insert(i, lines[i])
    else:
        j = draw(st.integers(first_line, n - 1))
        out[i], out[j] = out[j], out[i]
        return Mutation(op, b"".join(line + b"\n" for line in out), (i, j))
    return Mutation(op, b"".join(line + b"\n" for line in out), (i,))


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_gzip(path: Path, data: bytes) -> Path:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        gz.write(data)
    path.write_bytes(buf.getvalue())
    return path
