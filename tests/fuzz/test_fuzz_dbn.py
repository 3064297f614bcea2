"""Databento's real DBN fixtures, mutated and recompressed: only ``DataError`` escapes, nothing changes unseen.

Each example takes one fixture of ``databento-dbn-us-equity-fixtures``, mutates its decompressed bytes (cut,
flip, insert, delete, duplicate, move a byte range), compresses it again with zstd and reads it; a second
family mutates the compressed bytes themselves. The contract:

- nothing but ``DataError`` escapes (the decoder's Rust panics included), and it names the file;
- the counts add up: records by type sum to the records, events counted = events yielded, and every byte is
  consumed unless a problem is counted;
- when nothing is counted, the events are the original's, or the mutated stream is itself well-formed DBN
  (header, metadata of the length it announces, then whole records each exactly the size of its type, checked
  here independently of the reader's framing), i.e. a valid file that says something else. That is
  undetectable by design: a changed value inside a record or the metadata (a price, a size, a symbol, a time
  that stays in order), a record type changed to another type of the same size (MBO and OHLCV are both 56
  bytes), whole records removed, repeated or moved in order. The detectable ones are tested strictly: a cut
  inside a record or the metadata, a changed record length, a corrupt or cut zstd stream.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from pathlib import Path

import databento_dbn
import msgspec
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.data.dbn import DbnReader
from tapeflow.data.dbn_stream import RECORD_SIZES
from tapeflow.data.quality import SourceQuality
from tapeflow.model.errors import DataError
from tapeflow.model.events import Event

FIXTURES = [
    "XNAS.ITCH/test_data.mbo.dbn.zst", "XNAS.ITCH/test_data.trades.dbn.zst", "XNAS.ITCH/test_data.mbp-10.dbn.zst",
    "EQUS.MINI/test_data.tbbo.dbn.zst", "EQUS.MINI/test_data.bbo-1s.dbn.zst", "XNAS.ITCH/test_data.ohlcv-1h.dbn.zst",
    "XNAS.ITCH/test_data.definition.dbn.zst", "XNAS.ITCH/test_data.imbalance.dbn.zst",
]  # fmt: skip
FUZZ = settings(max_examples=50, deadline=None)


class Read(msgspec.Struct):
    events: list[Event]
    quality: SourceQuality
    consumed: int
    records: int
    by_record: int


class Fixture(msgspec.Struct):
    name: str
    plain: bytes
    read: Read

    def __repr__(self) -> str:
        return f"<{self.name}>"


class Scratch(msgspec.Struct):
    path: Path

    def __repr__(self) -> str:
        return "<scratch file>"


def _unzstd(data: bytes) -> bytes:
    return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()


def _read(path: Path, data: bytes) -> Read | DataError:
    path.write_bytes(data)
    reader = DbnReader(path)
    try:
        events = list(reader.events())
    except DataError as exc:
        return exc
    st_ = reader.stats
    return Read(events, reader.quality(), st_.bytes, st_.records, sum(st_.by_record.values()))


def _well_formed(plain: bytes) -> bool:
    """Whether ``plain`` is header, announced metadata and whole records of exactly their type's size."""
    if len(plain) < 8:
        return False
    magic, version, meta_len = struct.unpack_from("<3sBI", plain)
    if magic != b"DBN" or version not in RECORD_SIZES or 8 + meta_len > len(plain):
        return False
    pos = 8 + meta_len
    while pos < len(plain):
        if pos + 2 > len(plain) or RECORD_SIZES[version].get(plain[pos + 1]) != plain[pos] * 4:
            return False
        pos += plain[pos] * 4
    return pos == len(plain)


@pytest.fixture(scope="module")
def fixtures(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Fixture]:
    scratch = tmp_path_factory.mktemp("dbn") / "original.dbn.zst"
    out = []
    for rel in FIXTURES:
        packed = (data_dir / "databento-dbn-us-equity-fixtures" / rel).read_bytes()
        read = _read(scratch, packed)
        assert isinstance(read, Read) and read.quality.anomalies == 0 and read.records > 0
        plain = _unzstd(packed)
        assert _well_formed(plain) and read.consumed == len(plain)
        out.append(Fixture(rel, plain, read))
    return out


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Scratch:
    return Scratch(tmp_path_factory.mktemp("dbn-fuzz") / "mutated.dbn.zst")


def _pack(plain: bytes) -> bytes:
    return zstandard.ZstdCompressor(write_checksum=True).compress(plain)


def _check_contract(scratch: Scratch, packed: bytes, original: Fixture, plain: bytes | None) -> Read | DataError:
    """The promises of the module docstring; ``plain`` is the decompressed mutated stream when known."""
    got = _read(scratch.path, packed)
    if isinstance(got, DataError):
        assert str(got).startswith(str(scratch.path))
        return got
    assert got.records == got.by_record == got.quality.rows
    assert got.quality.events == len(got.events)
    if plain is not None:
        assert got.consumed == len(plain) or got.quality.malformed > 0
    if got.quality.anomalies == 0 and got.events != original.read.events:
        assert plain is not None and _well_formed(plain), "a change that nothing counted"
    return got


def _move(data: bytes, p: int, q: int, n: int) -> bytes:
    piece, rest = data[p : p + n], data[:p] + data[p + n :]
    q = min(q, len(rest))
    return rest[:q] + piece + rest[q:]


def _mutation(size: int) -> st.SearchStrategy[Callable[[bytes], bytes]]:
    at, span, junk = st.integers(0, size - 1), st.integers(1, 120), st.binary(min_size=1, max_size=64)
    return st.one_of(
        st.builds(lambda p: lambda d: d[:p], at),
        st.builds(lambda p, m: lambda d: d[:p] + bytes([d[p] ^ m]) + d[p + 1 :], at, st.integers(1, 255)),
        st.builds(lambda p, j: lambda d: d[:p] + j + d[p:], at, junk),
        st.builds(lambda p, n: lambda d: d[:p] + d[p + n :], at, span),
        st.builds(lambda p, n: lambda d: d[: p + n] + d[p : p + n] + d[p + n :], at, span),
        st.builds(lambda p, q, n: lambda d: _move(d, p, q, n), at, at, span),
    )


def test_the_record_size_table_agrees_with_the_decoder_for_the_current_version() -> None:
    classes = {0: "TradeMsg", 1: "MBP1Msg", 10: "MBP10Msg", 160: "MBOMsg", 32: "OHLCVMsg", 18: "StatusMsg",
               19: "InstrumentDefMsg", 20: "ImbalanceMsg", 21: "ErrorMsg", 22: "SymbolMappingMsg", 23: "SystemMsg",
               24: "StatMsg", 195: "BBOMsg", 177: "CMBP1Msg"}  # fmt: skip
    assert {rtype: getattr(databento_dbn, cls).size_hint for rtype, cls in classes.items()} == {
        rtype: RECORD_SIZES[3][rtype] for rtype in classes
    }


@FUZZ
@given(data=st.data())
def test_any_mutation_of_the_decompressed_stream_raises_only_data_error_and_never_hides_a_change(
    fixtures: list[Fixture], scratch: Scratch, data: st.DataObject
) -> None:
    original = data.draw(st.sampled_from(fixtures))
    plain = data.draw(_mutation(len(original.plain)))(original.plain)
    _check_contract(scratch, _pack(plain), original, plain)


@FUZZ
@given(data=st.data())
def test_any_mutation_of_the_compressed_file_raises_only_data_error_or_is_counted(
    fixtures: list[Fixture], scratch: Scratch, data: st.DataObject
) -> None:
    original = data.draw(st.sampled_from(fixtures))
    packed = _pack(original.plain)
    mutated = data.draw(_mutation(len(packed)))(packed)
    try:
        plain: bytes | None = _unzstd(mutated)
    except zstandard.ZstdError:
        plain = None
    got = _check_contract(scratch, mutated, original, plain)
    if plain is None:  # zstd itself refuses it: the reader must not have read it as if whole
        assert isinstance(got, DataError) or got.quality.anomalies > 0


@FUZZ
@given(data=st.data())
def test_a_cut_is_a_data_error_in_the_metadata_counted_inside_a_record_and_a_prefix_between(
    fixtures: list[Fixture], scratch: Scratch, data: st.DataObject
) -> None:
    original = data.draw(st.sampled_from(fixtures))
    plain = original.plain
    cut = data.draw(st.integers(0, len(plain) - 1))
    head = 8 + struct.unpack_from("<I", plain, 4)[0]
    got = _check_contract(scratch, _pack(plain[:cut]), original, plain[:cut])
    if cut < head:
        assert isinstance(got, DataError)
        return
    assert isinstance(got, Read)
    size = plain[head] * 4
    whole = (cut - head) // size
    assert got.records == whole
    assert (got.quality.malformed, got.quality.anomalies) == ((1, 1) if (cut - head) % size else (0, 0))
    if (cut - head) % size:
        assert f"byte offset {head + whole * size}: the input ends inside a record" in got.quality.first_problem


@FUZZ
@given(data=st.data())
def test_a_changed_record_length_is_always_detected_and_a_changed_type_unless_of_the_same_size(
    fixtures: list[Fixture], scratch: Scratch, data: st.DataObject
) -> None:
    original = data.draw(st.sampled_from(fixtures))
    plain = original.plain
    head = 8 + struct.unpack_from("<I", plain, 4)[0]
    size = plain[head] * 4
    at = head + size * data.draw(st.integers(0, (len(plain) - head) // size - 1)) + data.draw(st.sampled_from([0, 1]))
    new = plain[at] ^ data.draw(st.integers(1, 255))
    mutated = plain[:at] + bytes([new]) + plain[at + 1 :]
    got = _check_contract(scratch, _pack(mutated), original, mutated)
    same_size = (at - head) % size == 1 and RECORD_SIZES[3].get(new) == size
    if same_size:
        # by design a record of another type of the same size is read as that type (its times may then go back:
        # counted if so), unless the decoder cannot make one of it (bbo-1s turned into a type whose fields it
        # cannot fill): then the file is refused at that record, never read as something else
        if isinstance(got, DataError):
            assert f"byte offset {at - 1}: the DBN decoder refused the data" in str(got)
        else:
            assert got.quality.malformed == 0
    else:
        assert isinstance(got, DataError) or got.quality.malformed > 0


def test_a_record_the_decoder_refuses_is_named_by_its_own_offset_not_its_blocks(
    fixtures: list[Fixture], scratch: Scratch
) -> None:
    """Every record type changed to each other type of its size, in the second, a middle and the last record:
    a refusal names that record's offset (it once named the first record of the block the decoder was fed)."""
    refused = 0
    for original in fixtures:
        plain = original.plain
        head = 8 + struct.unpack_from("<I", plain, 4)[0]
        size = plain[head] * 4
        n = (len(plain) - head) // size
        for k in sorted({min(1, n - 1), n // 2, n - 1}):
            at = head + k * size
            for new in (t for t, s in RECORD_SIZES[3].items() if s == size and t != plain[at + 1]):
                mutated = plain[: at + 1] + bytes([new]) + plain[at + 2 :]
                got = _check_contract(scratch, _pack(mutated), original, mutated)
                if isinstance(got, DataError):
                    refused += 1
                    assert f"byte offset {at}: the DBN decoder refused the data" in str(got), (original, k, new)
    assert refused  # the quote and trade records the decoder cannot make into a BBO are refused
