"""The ISA-L zip member reader gives exactly zipfile's bytes and errors, read for read.

Every member of every shared LOBSTER zip, read in blocks of several sizes, must come out as ``zipfile`` gives it;
damaged zips (flipped deflate bytes, a CRC or a size in the directory that is wrong, a file cut short) must give
the same bytes up to the same read and then the same exception with the same text (hypothesis picks the damage).
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tapeflow.data.zip_isal import ISAL_AVAILABLE, IsalMember, open_member

pytestmark = pytest.mark.skipif(not ISAL_AVAILABLE, reason="isal not installed")

SAMPLES = "lobster-samples-2012-06-21"
SMALL = "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip"


def _reads(path: Path, name: str, block: int, fast: bool) -> list[object]:
    """Each read's bytes in turn, ending with b"" or with the exception raised (type and text)."""
    out: list[object] = []
    with zipfile.ZipFile(path) as zf:
        stream = open_member(zf, name) if fast else zf.open(name)
        assert isinstance(stream, IsalMember) == fast
        with stream:
            while True:
                try:
                    data = stream.read(block)
                except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
                    out.append((type(exc), str(exc)))
                    return out
                out.append(data)
                if not data:
                    return out


def test_every_member_of_every_shared_zip_reads_as_zipfile_reads_it(data_dir: Path) -> None:
    zips = sorted((data_dir / SAMPLES).glob("*.zip"))
    assert zips
    for path in zips:
        with zipfile.ZipFile(path) as zf:
            members = zf.namelist()
        for member in members:
            for block in (1 << 20, 3 << 20, 65_537):
                assert _reads(path, member, block, True) == _reads(path, member, block, False), (path, member)


def _damaged(src: Path, out: Path, how: str, at: float, width: int) -> tuple[Path, str]:
    """A copy of ``src`` with its largest member damaged: ``flip`` XORs ``width`` deflate bytes at fraction
    ``at`` of the stream; ``crc`` changes the CRC-32 the central directory gives; ``size`` adds ``width - 8`` to
    the size it gives (so also less); ``cut`` ends the file at fraction ``at`` of the member's compressed data."""
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as zf:
        info = max(zf.infolist(), key=lambda i: i.file_size)
    name_len = int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    inside = start + int(info.compress_size * at)
    if how == "flip":
        data[inside : inside + width] = bytes(b ^ 0xA5 for b in data[inside : inside + width])
    elif how == "cut":
        data = data[:inside]
    else:
        central = _central_entry(data, info.filename.encode())
        if how == "crc":
            field = central + 16
            value = (info.CRC ^ (1 << (width % 32))).to_bytes(4, "little")
        else:
            field = central + 24
            value = max(0, info.file_size + width - 8).to_bytes(4, "little")
        data[field : field + 4] = value
    path = out / f"{how}.zip"
    path.write_bytes(bytes(data))
    return path, info.filename


def _central_entry(data: bytearray, name: bytes) -> int:
    """Offset of the central directory entry of the member ``name``."""
    pos = data.index(b"PK\x01\x02")
    while True:
        name_len = int.from_bytes(data[pos + 28 : pos + 30], "little")
        if bytes(data[pos + 46 : pos + 46 + name_len]) == name:
            return pos
        extra = int.from_bytes(data[pos + 30 : pos + 32], "little")
        comment = int.from_bytes(data[pos + 32 : pos + 34], "little")
        pos = data.index(b"PK\x01\x02", pos + 46 + name_len + extra + comment)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    how=st.sampled_from(["flip", "crc", "size", "cut"]),
    at=st.floats(0.0, 0.999),
    width=st.integers(1, 16),
    block=st.sampled_from([1 << 16, 1 << 20, 3 << 20]),
)
def test_a_damaged_member_gives_zipfiles_bytes_and_error_read_for_read(
    data_dir: Path, tmp_path_factory: pytest.TempPathFactory, how: str, at: float, width: int, block: int
) -> None:
    tmp = tmp_path_factory.mktemp("damaged")
    path, name = _damaged(data_dir / SAMPLES / SMALL, tmp, how, at, width)
    try:
        with zipfile.ZipFile(path) as zf:
            zf.getinfo(name)
    except zipfile.BadZipFile:
        return  # a zip cut before its directory: nothing opens it, with or without this reader
    assert _reads(path, name, block, True) == _reads(path, name, block, False)


def test_a_wrong_crc_is_zipfiles_error_at_the_same_read(data_dir: Path, tmp_path: Path) -> None:
    path, name = _damaged(data_dir / SAMPLES / SMALL, tmp_path, "crc", 0.0, 3)
    reads = _reads(path, name, 1 << 20, True)
    assert reads[-1] == (zipfile.BadZipFile, f"Bad CRC-32 for file {name!r}")
    assert reads == _reads(path, name, 1 << 20, False)


def test_a_stored_member_is_read_by_zipfile(tmp_path: Path) -> None:
    path = tmp_path / "stored.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.csv", b"1,2\n" * 1000)
    with zipfile.ZipFile(path) as zf, open_member(zf, "a.csv") as stream:
        assert not isinstance(stream, IsalMember)
        assert stream.read(1 << 20) == b"1,2\n" * 1000
