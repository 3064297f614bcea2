"""Inflating the orderbook member in a thread: the same bytes, the same errors, a bounded read-ahead, no thread
left behind (``tapeflow.data.lobster_inflate``)."""

from __future__ import annotations

import threading
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from tapeflow.book import L3Book
from tapeflow.data.lobster import COMPILED_AVAILABLE, Impl, LobsterDecoder
from tapeflow.data.lobster_file import open_lobster
from tapeflow.data.lobster_inflate import InflateThread
from tapeflow.model import DataError

SAMPLE = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"
compiled_only = pytest.mark.skipif(not COMPILED_AVAILABLE, reason="compiled cores not built (make .venv/.installed)")


def _inflaters() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "tapeflow-lobster-inflate"]


class _Stream:
    """``blocks`` reads of ``n`` bytes, then ``fail`` raised (or the end); counts its reads."""

    def __init__(self, blocks: int, fail: BaseException | None = None) -> None:
        self.blocks = blocks
        self.fail = fail
        self.reads = 0

    def read(self, n: int) -> bytes:
        self.reads += 1
        if self.reads <= self.blocks:
            return bytes([self.reads % 256]) * n
        if self.fail is not None:
            raise self.fail
        return b""


def test_inflate_thread_gives_the_blocks_the_member_gives_then_ends(data_dir: Path) -> None:
    lf = open_lobster(data_dir / SAMPLE)
    with zipfile.ZipFile(lf.path) as zf:
        with zf.open(lf.orderbook_member) as direct:
            expected = [direct.read(1 << 16) for _ in range(400)]
        with zf.open(lf.orderbook_member) as member:
            reader = InflateThread(member, 1 << 16)
            got = [reader.read(1 << 16) for _ in range(400)]
            assert reader.read(1 << 16) == b""  # past the end: stays at the end
            reader.close()
    assert got == expected and expected[-1] == b""
    assert not reader.alive


def test_error_while_inflating_is_raised_by_the_read_that_needed_the_block_and_ends_the_thread() -> None:
    reader = InflateThread(_Stream(2, zlib.error("Error -3 while decompressing data: invalid distance")), 8)
    assert reader.read(8) == b"\x01" * 8
    assert reader.read(8) == b"\x02" * 8
    with pytest.raises(zlib.error, match="invalid distance"):
        reader.read(8)
    assert reader.read(8) == b""
    reader.close()
    assert not reader.alive


def test_read_ahead_is_bounded_and_close_stops_a_thread_waiting_on_a_full_queue() -> None:
    stream = _Stream(1_000_000)
    reader = InflateThread(stream, 4, depth=2)
    deadline = time.monotonic() + 10
    while stream.reads < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # the thread has had time to read on, were it not bounded
    assert stream.reads == 3  # two blocks waiting, one in hand waiting for room
    reader.close()
    assert not reader.alive


def test_read_of_another_size_is_refused() -> None:
    reader = InflateThread(_Stream(1), 8)
    with pytest.raises(ValueError, match="8 bytes at a time"):
        reader.read(16)
    reader.close()


def _corrupt(src: Path, out: Path) -> Path:
    """The zip with 64 bytes in the middle of the orderbook member's deflate stream flipped."""
    lf = open_lobster(src)
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as zf:
        info = zf.getinfo(lf.orderbook_member)
    name_len = int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len + info.compress_size // 2
    data[start : start + 64] = bytes(b ^ 0xFF for b in data[start : start + 64])
    out.write_bytes(bytes(data))
    return out


def _error(path: Path, impl: Impl, thread: bool) -> str:
    lf = open_lobster(path)
    decoder = LobsterDecoder(lf, L3Book(lf.symbol), impl=impl, inflate_thread=thread)
    assert decoder.inflate_thread == (thread and impl == "compiled")
    with pytest.raises(DataError) as info:
        for _ in decoder.run():
            pass
    return str(info.value)


@compiled_only
def test_corrupt_orderbook_member_fails_with_the_same_one_line_error_with_or_without_the_thread(
    tmp_path: Path, data_dir: Path
) -> None:
    path = _corrupt(data_dir / SAMPLE, tmp_path / "corrupt.zip")
    threaded = _error(path, "compiled", True)
    assert threaded == _error(path, "compiled", False) == _error(path, "python", False)
    assert "corrupt" in threaded and "\n" not in threaded
    assert not _inflaters()


@compiled_only
def test_decoder_stopped_after_its_first_block_leaves_no_inflate_thread(data_dir: Path) -> None:
    lf = open_lobster(data_dir / SAMPLE)
    decoder = LobsterDecoder(lf, L3Book(lf.symbol), impl="compiled")
    assert decoder.inflate_thread
    run = decoder.run()
    assert next(run) > 0
    assert _inflaters()
    run.close()
    assert not _inflaters()


@compiled_only
def test_decoder_failing_on_a_bad_message_row_leaves_no_inflate_thread(tmp_path: Path, data_dir: Path) -> None:
    lf = open_lobster(data_dir / SAMPLE)
    with zipfile.ZipFile(lf.path) as zf:
        messages = zf.read(lf.message_member).split(b"\n")
        books = zf.read(lf.orderbook_member)
    messages[20_000] = b"34300.5,1,x,100,2200000,1"
    bad = tmp_path / Path(lf.path).name
    with zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr(lf.message_member, b"\n".join(messages))
        zf.writestr(lf.orderbook_member, books)
    with pytest.raises(DataError, match="line 20001"):
        for _ in LobsterDecoder(open_lobster(bad), L3Book(lf.symbol), impl="compiled").run():
            pass
    assert not _inflaters()
