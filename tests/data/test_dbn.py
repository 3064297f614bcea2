"""DBN fixtures: every schema decodes, counts match the files' own record counts, prices exact."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from tapeflow.data.dbn import DbnReader
from tapeflow.data.quality import SourceQuality
from tapeflow.model.errors import DataError
from tapeflow.model.events import Event
from tapeflow.model.market import Bar, BookSnapshot, OrderAdded, Quote, Trade

EXPECTED = {  # schema: (records per SOURCE.md, events)
    "mbo": (4, 4), "mbp-1": (4, 4), "mbp-10": (4, 4), "tbbo": (4, 8), "trades": (4, 4),
    "ohlcv-1s": (4, 4), "ohlcv-1d": (1, 1), "definition": (1, 0), "imbalance": (4, 0),
}  # fmt: skip


@pytest.mark.parametrize("schema", sorted(EXPECTED))
def test_xnas_itch_fixtures(data_dir: Path, schema: str) -> None:
    reader = DbnReader(data_dir / "databento-dbn-us-equity-fixtures/XNAS.ITCH" / f"test_data.{schema}.dbn.zst")
    events = list(reader.events())
    assert (reader.stats.records, len(events)) == EXPECTED[schema]
    assert reader.stats.rounded == 0 and all(getattr(e, "symbol", "NVDA") == "NVDA" for e in events)


def test_values_match_the_documented_records(data_dir: Path) -> None:
    base = data_dir / "databento-dbn-us-equity-fixtures/XNAS.ITCH"
    mbo = list(DbnReader(base / "test_data.mbo.dbn.zst").events())
    first = mbo[0]
    assert isinstance(first, OrderAdded)
    assert (first.ts_event, first.price, first.size, first.order_id) == (1609146088297098637, 5020000, 2, 196851)
    trades = [e for e in DbnReader(base / "test_data.trades.dbn.zst").events() if isinstance(e, Trade)]
    assert [(t.price, t.size) for t in trades] == [(5210000, 36), (5210000, 4), (5210000, 1), (5210100, 1)]
    bar = next(iter(DbnReader(base / "test_data.ohlcv-1d.dbn.zst").events()))
    assert isinstance(bar, Bar) and bar.ts_event == 1609113600000000000 + 86400 * 10**9  # stamped at the close
    snap = next(iter(DbnReader(base / "test_data.mbp-10.dbn.zst").events()))
    assert isinstance(snap, BookSnapshot) and snap.bids


def test_equs_mini_bbo_uses_ts_recv_when_ts_event_is_undefined(data_dir: Path) -> None:
    events = list(DbnReader(data_dir / "databento-dbn-us-equity-fixtures/EQUS.MINI/test_data.bbo-1s.dbn.zst").events())
    assert len(events) == 4 and all(isinstance(e, Quote) and e.ts_event == e.ts_init < 2**63 for e in events)


# --- bad input: every case a DataError naming file and byte offset, or a count with the first problem's place ---

MBO = "databento-dbn-us-equity-fixtures/XNAS.ITCH/test_data.mbo.dbn.zst"
FIRST = 360  # the decompressed byte offset of the MBO fixture's first record (8-byte prefix, 352 of metadata)
SIZE = 56  # an MBO record


def _plain(data_dir: Path) -> bytes:
    return zstandard.ZstdDecompressor().stream_reader(io.BytesIO((data_dir / MBO).read_bytes())).read()


def _read(tmp_path: Path, data: bytes, *, zst: bool = False) -> tuple[list[Event], DbnReader]:
    path = tmp_path / ("bad.dbn.zst" if zst else "bad.dbn")
    path.write_bytes(zstandard.ZstdCompressor(write_checksum=True).compress(data) if zst else data)
    reader = DbnReader(path)
    return list(reader.events()), reader


def _patch(data: bytes, offset: int, value: bytes) -> bytes:
    return data[:offset] + value + data[offset + len(value) :]


def test_mbo_fixture_layout_is_what_these_tests_assume(data_dir: Path) -> None:
    plain = _plain(data_dir)
    assert plain[:4] == b"DBN\x03" and len(plain) == FIRST + 4 * SIZE
    assert [plain[FIRST + i * SIZE] * 4 for i in range(4)] == [SIZE] * 4 and plain[FIRST + 1] == 160


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b"", r"bad.dbn, byte offset 0: empty: no DBN header"),
        (lambda b: b[:50], r"byte offset 50: the DBN metadata is cut: 360 bytes announced, 50 present"),
        (lambda b: b"DBN\x09" + b[4:], r"byte offset 3: DBN version 9, this reader decodes versions \(1, 2, 3\)"),
        (lambda b: b"XYZ" + b[3:], r"byte offset 0: not DBN: the file starts with 58 59 5a 03"),
        (lambda b: _patch(b, FIRST, b"\x02"), r"byte offset 360: DBN record length 8 bytes is shorter than a record"),
    ],
    ids=["empty", "cut-metadata", "version", "magic", "lost-framing"],
)
def test_unreadable_dbn_is_a_data_error_with_file_and_offset(
    data_dir: Path, tmp_path: Path, mutate: Callable[[bytes], bytes], message: str
) -> None:
    with pytest.raises(DataError, match=message):
        _read(tmp_path, mutate(_plain(data_dir)))


def test_corrupt_zstd_is_a_data_error_and_a_cut_one_is_counted(data_dir: Path, tmp_path: Path) -> None:
    packed = (data_dir / MBO).read_bytes()
    corrupt = tmp_path / "corrupt.dbn.zst"
    corrupt.write_bytes(_patch(packed, 60, bytes([packed[60] ^ 0xFF])))
    with pytest.raises(DataError, match=r"corrupt\.dbn\.zst, byte offset \d+: corrupt zstd data"):
        list(DbnReader(corrupt).events())
    cut = tmp_path / "cut.dbn.zst"
    cut.write_bytes(packed[:-4])  # the frame's checksum is gone: every byte of data is there, the end is not
    reader = DbnReader(cut)
    assert len(list(reader.events())) == 4
    assert reader.quality().malformed == 1
    assert (
        reader.quality().first_problem
        == f"{cut}, byte offset 584: the zstd stream ends inside a frame (the file is truncated)"
    )


def test_record_of_the_wrong_length_or_type_is_skipped_by_its_length_and_counted(
    data_dir: Path, tmp_path: Path
) -> None:
    plain = _plain(data_dir)
    events, reader = _read(tmp_path, _patch(plain, FIRST + 1, b"\x63"), zst=True)  # rtype 99
    assert [e.order_id for e in events] == [196855, 198583, 200963]  # type: ignore[attr-defined]
    assert reader.quality().malformed == 1
    assert reader.quality().first_problem.endswith("byte offset 360: unknown DBN record type 99 (56 bytes); skipped")
    events, reader = _read(
        tmp_path, _patch(plain, FIRST + SIZE, bytes([SIZE // 4 + 2]))
    )  # 64 bytes: misframes the rest
    assert [e.order_id for e in events] == [196851]  # type: ignore[attr-defined]
    assert reader.stats.malformed >= 2  # the long record, then whatever the lost framing makes of the rest
    assert "byte offset 416: DBN record type 160 is 64 bytes, version 3 says 56; skipped" in reader.stats.first_problem


def test_a_cut_last_record_is_counted_with_its_offset(data_dir: Path, tmp_path: Path) -> None:
    events, reader = _read(tmp_path, _plain(data_dir)[:-10], zst=True)
    assert len(events) == 3
    quality = reader.quality()
    assert (quality.rows, quality.events, quality.malformed) == (3, 3, 1)
    assert quality.first_problem.endswith(
        "byte offset 528: the input ends inside a record: 46 trailing bytes (the file is cut)"
    )


def test_values_past_int64_and_negative_prices_are_malformed_and_skipped(data_dir: Path, tmp_path: Path) -> None:
    plain = _plain(data_dir)
    big = _patch(plain, FIRST + 40, (2**63).to_bytes(8, "little"))  # ts_recv of the first record
    negative = _patch(big, FIRST + SIZE + 24, (-5).to_bytes(8, "little", signed=True))  # price of the second
    events, reader = _read(tmp_path, negative)
    assert [e.order_id for e in events] == [198583, 200963]  # type: ignore[attr-defined]
    assert reader.quality().malformed == 2
    assert "byte offset 360: DBN MBOMsg: value 9223372036854775808 does not fit int64" in reader.quality().first_problem


def test_time_going_back_and_a_live_order_added_again_are_counted_and_skipped(data_dir: Path, tmp_path: Path) -> None:
    plain = _plain(data_dir)
    second = FIRST + SIZE
    back = _patch(plain, second + 40, (1609146088297098637 - 1).to_bytes(8, "little"))  # before the first record
    events, reader = _read(tmp_path, back)
    assert len(events) == 3 and reader.quality().out_of_order == 1
    assert "byte offset 416: time goes back for instrument" in reader.quality().first_problem
    again = _patch(plain, second + 16, (196851).to_bytes(8, "little"))  # the first record's live order id
    events, reader = _read(tmp_path, again)
    assert len(events) == 3 and reader.quality().duplicates == 1
    cleared = _patch(_patch(again, second + 38, b"R"), second + 39, b"N")  # a clear of the book in between
    third = _patch(cleared, second + SIZE + 16, (196851).to_bytes(8, "little"))  # the first id, added again
    events, reader = _read(tmp_path, third)
    assert [e.order_id for e in events] == [196851, 196851, 200963]  # type: ignore[attr-defined]
    assert reader.quality().anomalies == 0  # after a clear, no id is live: not a duplicate
    cancel = _patch(plain, second + 38, b"C")  # a cancel of order 196855, which was never added
    events, reader = _read(tmp_path, cancel)
    assert len(events) == 4 and reader.quality().unknown_ids == 1 and reader.quality().anomalies == 1


def test_stats_held_before_reading_show_the_pass_and_a_second_pass_starts_from_zero(data_dir: Path) -> None:
    reader = DbnReader(data_dir / MBO)
    stats = reader.stats
    for _ in range(2):
        assert len(list(reader.events())) == 4
        assert reader.stats is stats and (stats.records, stats.events, stats.version) == (4, 4, 3)
    assert reader.quality() == SourceQuality(source=str(data_dir / MBO), format="dbn", rows=4, events=4)


@pytest.mark.parametrize(("raw", "price"), [(1_000_050_000, 10_000), (1_000_150_000, 10_002), (1_000_149_999, 10_001)])
def test_off_grid_prices_round_half_to_even_in_integers_and_are_counted(raw: int, price: int) -> None:
    reader = DbnReader("unused.dbn")
    assert reader._price(raw) == price and reader.stats.rounded == 1


@pytest.mark.parametrize("zst", [False, True])
def test_a_file_larger_than_one_read_block_loses_no_record(data_dir: Path, tmp_path: Path, zst: bool) -> None:
    plain = _plain(data_dir)
    record = plain[FIRST : FIRST + SIZE]
    n = 3000  # 168,000 bytes of records: several 64 KiB blocks
    body = b"".join(_patch(record, 16, (10**6 + i).to_bytes(8, "little")) for i in range(n))
    events, reader = _read(tmp_path, plain[:FIRST] + body, zst=zst)
    assert [e.order_id for e in events] == [10**6 + i for i in range(n)]  # type: ignore[attr-defined]
    assert reader.quality() == SourceQuality(source=str(reader.path), format="dbn", rows=n, events=n)
    assert reader.stats.bytes == FIRST + n * SIZE


def test_zstd_of_several_frames_reads_as_one_stream(data_dir: Path, tmp_path: Path) -> None:
    plain = _plain(data_dir)
    pack = zstandard.ZstdCompressor(write_checksum=True).compress
    path = tmp_path / "frames.dbn.zst"
    path.write_bytes(pack(plain[:400]) + pack(plain[400:]))  # the cut falls inside the first record
    reader = DbnReader(path)
    assert list(reader.events()) == list(DbnReader(data_dir / MBO).events())
    assert reader.quality().anomalies == 0


def test_a_negative_price_in_a_book_level_is_malformed_not_read_as_no_price(data_dir: Path, tmp_path: Path) -> None:
    rel = "databento-dbn-us-equity-fixtures/XNAS.ITCH/test_data.mbp-1.dbn.zst"
    plain = _unzstd_file(data_dir / rel)
    first = 8 + int.from_bytes(plain[4:8], "little")
    assert plain[first + 1] == 1  # mbp-1: header 16, price 8, size 4, action, side, flags, depth, ts_recv 8, ...
    level = first + 48  # bid_px of the one level
    events, reader = _read(tmp_path, _patch(plain, level, (-1).to_bytes(8, "little", signed=True)))
    assert len(events) == 3 and reader.quality().malformed == 1
    assert "negative price -1" in reader.quality().first_problem


def _unzstd_file(path: Path) -> bytes:
    return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(path.read_bytes())).read()


def test_a_record_the_decoder_cannot_make_is_refused_at_its_offset_not_read_as_another(
    data_dir: Path, tmp_path: Path
) -> None:
    """Found by the fuzz test: the first bbo-1s record's type byte turned into another type of the same size makes
    the Rust decoder panic; that is one DataError naming the file and the record's offset, never a crash."""
    source = data_dir / "databento-dbn-us-equity-fixtures/EQUS.MINI/test_data.bbo-1s.dbn.zst"
    plain = zstandard.ZstdDecompressor().stream_reader(source.open("rb")).read()
    head = 8 + int.from_bytes(plain[4:8], "little")
    mutated = plain[: head + 1] + bytes([plain[head + 1] ^ 6]) + plain[head + 2 :]
    path = tmp_path / "mutated.dbn.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(mutated))
    with pytest.raises(DataError, match=rf"mutated\.dbn\.zst, byte offset {head}: the DBN decoder refused the data"):
        list(DbnReader(path).events())
