"""The pyarrow block path of the TAQ reader: the row-by-row reading of a good block, or it steps aside."""

from __future__ import annotations

import zipfile
from pathlib import Path

import msgspec
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import tapeflow.data.taq as taq
from tapeflow.data.taq_parse import parse_rows

_DAY_MS = 86_400_000
trade_rows = st.tuples(
    st.integers(0, _DAY_MS - 1),
    st.integers(1, 2**63 - 1),
    st.integers(1, 2**63 - 1),
    st.sampled_from("NPQZD"),
    st.integers(0, 2**63 - 1),
    st.sampled_from([0, 1]),
)


def _line(ms: int, price: int, size: int, venue: str, flags: int, suspicious: int) -> bytes:
    return f"{ms},{price},{size},{venue},{flags:X},{suspicious}".encode()


@settings(max_examples=60, deadline=None)
@given(st.lists(trade_rows, min_size=1, max_size=30), st.integers(1, 10**6))
def test_good_trade_block_reads_as_typed_rows_with_their_line_numbers(rows: list[tuple], first: int) -> None:
    rows = sorted(rows)  # times in order
    lines = [_line(*r) for r in rows]
    typed = parse_rows(lines, 6, 0, first)
    assert typed is not None
    out, last = typed
    assert last == rows[-1][0]
    assert out == [
        (ms, first + i, (ms, price, size, venue, flags, bool(susp)))
        for i, (ms, price, size, venue, flags, susp) in enumerate(rows)
    ]


def test_good_quote_block_reads_as_typed_rows() -> None:
    lines = [b"14400554,138400,700,0,0,P,1,0", b"14400554,0,0,139500,20000,P,1,0"]
    assert parse_rows(lines, 8, 14400000, 7) == (
        [
            (14400554, 7, (14400554, 138400, 700, 0, 0, "P", 1, False)),
            (14400554, 8, (14400554, 0, 0, 139500, 20000, "P", 1, False)),
        ],
        14400554,
    )


GOOD = b"36000000,100,1,N,1,0"


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (b"36000001, 100,1,N,1,0", "a space: pyarrow and int would agree, but the block path takes no chances"),
        (b"36000001,+100,1,N,1,0", "a sign"),
        (b"36000001,100,1,N,1,0\r", "a stray carriage return"),
        (b"", "an empty line"),
        (b"35999999,100,1,N,1,0", "a time before the previous row's"),
        (b"86400000,100,1,N,1,0", "a time outside the day"),
        (b"36000001,0,1,N,1,0", "a zero price"),
        (b"36000001,100,0,N,1,0", "a zero size"),
        (b"36000001,100,1,a,1,0", "an exchange that is not a capital letter"),
        (b"36000001,100,1,NN,1,0", "an exchange of two letters"),
        (b"36000001,100,1,N,1,2", "a suspicious flag that is not 0 or 1"),
        (b"36000001,100,1,N,8000000000000000,0", "condition bits beyond 63"),
        (b"36000001,100,1,N,x,0", "condition bits that are not hex"),
        (b"36000001,99999999999999999999,1,N,1,0", "a price beyond int64"),
        (b"36000001,100,1,N,1", "a missing field"),
        (b'36000001,"100",1,N,1,0', "a quote character"),
    ],
)
def test_block_path_steps_aside_for_a_block_with_any_row_the_row_reader_would_judge(bad: bytes, why: str) -> None:
    assert parse_rows([GOOD], 6, 0, 1) is not None
    assert parse_rows([GOOD, bad, GOOD.replace(b"36000000", b"36000002")], 6, 0, 1) is None, why


def test_block_path_steps_aside_for_a_zero_written_00_which_pairing_reads_as_text() -> None:
    assert parse_rows([b"14400554,138400,700,00,0,P,1,0"], 8, 0, 1) is None
    assert parse_rows([b"14400554,138400,700,0,0,P,1,0"], 8, 14400555, 1) is None  # before the previous block


def test_block_path_and_row_by_row_path_read_a_real_day_the_same(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tick = data_dir / "lean-algoseek-us-equity" / "tick" / "aig"
    for kind in ("trade", "quote"):
        with zipfile.ZipFile(tick / f"20131007_{kind}.zip") as zf:
            ((name, data),) = ((n, zf.read(n)) for n in zf.namelist())
        head = b"".join(line + b"\n" for line in data.split(b"\n")[:60_000])
        with zipfile.ZipFile(tmp_path / f"20131007_{kind}.zip", "w") as out:
            out.writestr(name, head)
    taken: list[int] = []

    def spy(lines: list[bytes], width: int, last_ms: int, first_line: int) -> object:
        typed = parse_rows(lines, width, last_ms, first_line)
        taken.append(0 if typed is None else len(lines))
        return typed

    monkeypatch.setattr(taq, "parse_rows", spy)
    reader = taq.TaqReader.for_day(tmp_path / "20131007_trade.zip")
    fast = list(reader.events())
    fast_stats = msgspec.to_builtins(reader.stats)
    assert len(fast) > 60_000 and reader.quality().anomalies == 0
    assert len(taken) > 2 and sum(taken) == reader.stats.rows  # every block of both files took the block path
    monkeypatch.setattr(taq, "parse_rows", lambda *args: None)
    slow = list(reader.events())
    assert slow == fast
    assert msgspec.to_builtins(reader.stats) == fast_stats


def test_bad_row_deep_in_a_real_day_is_counted_at_its_own_line_and_its_block_read_row_by_row(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tick = data_dir / "lean-algoseek-us-equity" / "tick" / "aig"
    with zipfile.ZipFile(tick / "20131007_quote.zip") as zf:
        ((name, data),) = ((n, zf.read(n)) for n in zf.namelist())
    lines = data.split(b"\n")[:90_000]
    assert len(lines) == 90_000 and sum(map(len, lines)) > 2 << 20  # more than two blocks of 1 MiB
    lines[80_000 - 1] = lines[80_000 - 1].replace(b",", b",x", 1)
    with zipfile.ZipFile(tmp_path / "20131007_quote.zip", "w") as out:
        out.writestr(name, b"".join(line + b"\n" for line in lines))
    reader = taq.TaqReader(quotes=tmp_path / "20131007_quote.zip")
    fast = list(reader.events())
    q = reader.quality()
    assert (q.rows, q.malformed) == (90_000, 1)
    assert f"{name}, line 80000: unreadable quote row" in q.first_problem
    monkeypatch.setattr(taq, "parse_rows", lambda *args: None)
    assert list(reader.events()) == fast and reader.quality() == q


_noisy = st.one_of(
    st.sampled_from(["0", "00", "1", "7", "100", "-1", " 5", "+5", "", "x", "99999999999999999999"]),
    st.text("0123456789", min_size=1, max_size=6),
)
_quote_lines = st.lists(
    st.tuples(
        st.integers(14_400_000, 14_400_020).map(str),
        _noisy,
        _noisy,
        _noisy,
        _noisy,
        st.sampled_from(["P", "Q", "q", "PP", " P"]),
        st.sampled_from(["1", "0", "10000", "zz", "8000000000000000"]),
        st.sampled_from(["0", "1", "2", ""]),
    ).map(",".join),
    min_size=1,
    max_size=25,
)


@settings(max_examples=80, deadline=None)
@given(_quote_lines)
def test_quote_file_reads_the_same_with_or_without_the_block_path(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str]
) -> None:
    path = tmp_path_factory.mktemp("q") / "20131007_quote.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("20131007_ABC_Quote_Tick.csv", "\n".join(lines) + "\n")
    reader = taq.TaqReader(quotes=path)
    fast = list(reader.events())
    counts = msgspec.to_builtins(reader.stats)
    event("block path" if parse_rows([line.encode() for line in lines], 8, 0, 1) else "row by row")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(taq, "parse_rows", lambda *args: None)
        assert list(reader.events()) == fast
        assert msgspec.to_builtins(reader.stats) == counts
