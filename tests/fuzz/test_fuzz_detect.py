"""Format detection on mutated real files and on random bytes: a format or a ``DataError``, never a crash.

Detection decides which reader sees a file, so a wrong answer is a silent wrong reader. The contract, for
real files of every binary-ish kind in the shared data (ITCH, DBN/zstd, gzip CSV, zip), mutated by cutting,
flipping, inserting, deleting, duplicating or moving bytes, and for arbitrary bytes:

- ``detect_format`` returns a format or raises ``DataError`` naming the file; nothing else escapes;
- an empty file is a ``DataError`` that lists the accepted formats;
- a mutated file is detected as its own format, or refused, or (only when the mutation put another format's
  magic bytes at the start) as that format;
- whatever is detected as ITCH or DBN then reads to the end through ``open_events`` raising only
  ``DataError``. (The text readers' own fuzz tests cover what bars, TAQ and LOBSTER do with what they get.)
"""

from __future__ import annotations

import gzip
import warnings
from datetime import date
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.data.detect import ZSTD_MAGIC, detect_format, open_events
from tapeflow.data.files import GZIP_MAGIC, ZIP_MAGIC
from tapeflow.model.errors import DataError

FILES = {
    "nasdaq-itch50-head-fixture/sample.itch": "itch",
    "databento-dbn-us-equity-fixtures/XNAS.ITCH/test_data.mbo.dbn.zst": "dbn",
    "databento-dbn-us-equity-fixtures/EQUS.MINI/test_data.trades.dbn.zst": "dbn",
    "zipline-test-daily/csvdir_daily_KO.csv.gz": "bars",
    "zipline-test-daily/QUANDL_ARCHIVE.zip": "bars",
}
MAGIC = {ZIP_MAGIC: {"bars", "taq", "lobster"}, GZIP_MAGIC: {"bars", "itch"}, ZSTD_MAGIC: {"dbn"}, b"DBN": {"dbn"}}
FUZZ = settings(max_examples=60, deadline=None)


class Original(msgspec.Struct):
    name: str
    data: bytes
    fmt: str

    def __repr__(self) -> str:
        return f"<{self.name}>"


class Scratch(msgspec.Struct):
    folder: Path

    def __repr__(self) -> str:
        return "<scratch folder>"


@pytest.fixture(scope="module")
def originals(data_dir: Path) -> list[Original]:
    out = [Original(rel, (data_dir / rel).read_bytes(), fmt) for rel, fmt in FILES.items()]
    assert [detect_format(data_dir / o.name) for o in out] == [o.fmt for o in out]
    return out


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Scratch:
    return Scratch(tmp_path_factory.mktemp("detect-fuzz"))


def _detect_and_read(path: Path, data: bytes) -> str | DataError:
    """The format detected for ``data`` (read to the end if ITCH or DBN), or the ``DataError`` raised."""
    path.write_bytes(data)
    try:
        fmt = detect_format(path)
        if fmt in ("itch", "dbn"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, events, _ = open_events(path, fmt, day=date(2019, 12, 30))
                for _ in events:
                    pass
    except DataError as exc:
        assert str(exc).startswith(str(path))
        return exc
    return fmt


def _allowed(data: bytes, own: str) -> set[str]:
    allowed = {own}
    for magic, formats in MAGIC.items():
        if data.startswith(magic):
            allowed |= formats
    return allowed


def _move(data: bytes, p: int, q: int, n: int) -> bytes:
    piece, rest = data[p : p + n], data[:p] + data[p + n :]
    q = min(q, len(rest))
    return rest[:q] + piece + rest[q:]


@st.composite
def _mutated(draw: st.DrawFn, data: bytes) -> bytes:
    p = draw(st.integers(0, len(data) - 1))
    n = draw(st.integers(1, 200))
    kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "duplicate", "move"]))
    if kind == "truncate":
        return data[:p]
    if kind == "flip":
        return data[:p] + bytes([data[p] ^ draw(st.integers(1, 255))]) + data[p + 1 :]
    if kind == "insert":
        return data[:p] + draw(st.binary(min_size=1, max_size=64)) + data[p:]
    if kind == "delete":
        return data[:p] + data[p + n :]
    if kind == "duplicate":
        return data[: p + n] + data[p : p + n] + data[p + n :]
    return _move(data, p, draw(st.integers(0, len(data))), n)


@FUZZ
@given(data=st.data())
def test_a_mutated_real_file_is_its_own_format_or_refused_and_reads_raising_only_data_error(
    originals: list[Original], scratch: Scratch, data: st.DataObject
) -> None:
    original = data.draw(st.sampled_from(originals))
    mutated = data.draw(_mutated(original.data))
    got = _detect_and_read(scratch.folder / Path(original.name).name, mutated)
    if not mutated:
        assert isinstance(got, DataError) and "empty file; tapeflow reads" in str(got)
    assert isinstance(got, DataError) or got in _allowed(mutated, original.fmt)


@FUZZ
@given(data=st.data())
def test_gzip_of_a_mutated_itch_file_is_detected_as_the_plain_one(
    originals: list[Original], scratch: Scratch, data: st.DataObject
) -> None:
    mutated = data.draw(_mutated(originals[0].data))
    plain = _detect_and_read(scratch.folder / "plain.itch", mutated)
    zipped = _detect_and_read(scratch.folder / "zipped.itch.gz", gzip.compress(mutated, mtime=0))
    if isinstance(plain, DataError):
        assert isinstance(zipped, DataError)
    elif plain == "itch":
        assert zipped == "itch"


@FUZZ
@given(blob=st.binary(max_size=600) | st.sampled_from([b"DBN\x03", b"\x28\xb5\x2f\xfd", b"\x1f\x8b", b"PK\x03\x04"]))
def test_arbitrary_bytes_are_a_format_or_a_data_error(scratch: Scratch, blob: bytes) -> None:
    got = _detect_and_read(scratch.folder / "blob.bin", blob)
    assert isinstance(got, DataError) or got in _allowed(blob, "itch") | {"bars"}


def test_random_bytes_are_refused_not_read_as_itch(scratch: Scratch) -> None:
    import random

    rng = random.Random(12)
    refused = 0
    for _ in range(300):
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(20, 400)))
        if isinstance(_detect_and_read(scratch.folder / "random.bin", blob), DataError):
            refused += 1
    assert refused == 300  # the old detector took any file whose third byte was a known type as ITCH
