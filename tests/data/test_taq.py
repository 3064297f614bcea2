"""TAQ reader on LEAN's AlgoSeek files: counts checked by an independent count, NBBO sanity, Lee-Ready shares."""

from __future__ import annotations

import csv
import io
import itertools
import zipfile
from datetime import date
from pathlib import Path

import msgspec
import pytest

from tapeflow.data.nytime import ny_to_utc_ns
from tapeflow.data.taq import SUSPICIOUS, TaqReader, condition_names, open_taq
from tapeflow.model.errors import DataError
from tapeflow.model.market import Quote, Trade


def _rows(path: Path) -> list[list[str]]:
    with zipfile.ZipFile(path) as zf:
        text = zf.read(zf.namelist()[0]).decode()
    return list(csv.reader(io.StringIO(text)))


def test_condition_bits_by_name() -> None:
    assert condition_names(0x20002020) == ("INTERMARKET_SWEEP", "EXTENDED_HOURS", "TRADE_THROUGH_EXEMPT")
    assert condition_names(0x80000000, suspicious=True) == ("ODD_LOT", SUSPICIOUS)


def test_real_day_counts_nbbo_never_crossed_and_rule_shares(data_dir: Path) -> None:
    tick = data_dir / "lean-algoseek-us-equity" / "tick" / "bac"
    trade_rows = _rows(tick / "20131007_trade.zip")
    quote_rows = _rows(tick / "20131007_quote.zip")
    assert (len(trade_rows), len(quote_rows)) == (88_172, 476_855)  # also in SOURCE.md / MANIFEST.tsv
    reader = TaqReader.for_day(tick / "20131007_trade.zip")
    trades = 0
    last = 0
    first_trade_ts = -1
    nbbo_quotes = 0
    for e in reader.events():
        assert e.ts_init == e.ts_event >= last
        last = e.ts_init
        if isinstance(e, Trade):
            if not trades:
                first_trade_ts = e.ts_event
            trades += 1
        elif isinstance(e, Quote) and e.venue == "NBBO" and e.bid_price and e.ask_price:
            nbbo_quotes += 1
            assert e.bid_price <= e.ask_price  # never crossed: the data has no crossed top row on this day
    # the never-crossed check above ran on nearly every NBBO update
    assert reader.stats.nbbo.updates * 99 // 100 < nbbo_quotes <= reader.stats.nbbo.updates
    st = reader.stats
    assert trades == st.trades == len(trade_rows)
    assert st.quote_rows == len(quote_rows) and st.malformed == 0
    q = reader.quality()
    assert (q.format, q.rows, q.anomalies, q.first_problem) == ("taq", len(trade_rows) + len(quote_rows), 0, "")
    assert q.rows == st.trades + st.quotes_applied + st.suspicious_quotes + st.empty_quotes
    assert q.events == st.trades + st.exchange_quotes + st.nbbo_quotes
    assert st.nbbo.crossed_updates == 0
    assert 0 < st.nbbo.locked_updates < st.nbbo.updates // 20  # locked on about 2% of updates
    shares = st.lee_ready.shares()
    assert shares["quote_rule"] > 0.9 and shares["unclassified"] == 0
    # first trade: 14400614 ms = 04:00:00.614 EDT (UTC-4) = 2013-10-07 08:00:00.614 UTC
    first = int(trade_rows[0][0]) * 1_000_000
    assert ny_to_utc_ns(date(2013, 10, 7), first) == 1381132800614000000 == first_trade_ts


def test_suspicious_spy_trades_are_kept_flagged_and_can_be_excluded(data_dir: Path) -> None:
    path = data_dir / "lean-algoseek-us-equity" / "tick" / "spy" / "20131010_trade.zip"
    flagged = sum(1 for r in _rows(path) if r[5] == "1")
    assert flagged == 10
    reader = TaqReader(path, exclude={SUSPICIOUS})
    n = sum(1 for _ in reader.events())
    assert reader.stats.suspicious_trades == 10 and reader.stats.filtered == 10
    assert n == 460_032 - 10


def test_malformed_rows_are_counted_not_fatal(tmp_path: Path) -> None:
    p = tmp_path / "20131007_trade.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr(
            "20131007_abc_Trade_Tick.csv", "36000000,100,1,N,1,0\nbad\n36000001,x,1,N,1,0\n36000002,100,1,N,1,0\n"
        )
    reader = TaqReader(p)
    assert len(list(reader.events())) == 2
    assert reader.stats.malformed == 2
    assert "line 2" in reader.stats.first_problem
    with pytest.raises(DataError, match="line 2"):
        list(TaqReader(p, strict=True).events())


def test_not_a_tick_zip_names_the_member(tmp_path: Path) -> None:
    p = tmp_path / "x.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("hello.csv", "1\n")
    with pytest.raises(DataError, match="not a LEAN tick file"):
        open_taq(p)


def _trade_zip(path: Path, text: str, member: str = "20131007_abc_Trade_Tick.csv") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, text)
    return path


def test_impossible_date_in_the_member_name_is_refused_naming_it(tmp_path: Path) -> None:
    p = _trade_zip(tmp_path / "x_trade.zip", "36000000,100,1,N,1,0\n", "20131345_abc_Trade_Tick.csv")
    with pytest.raises(DataError, match=r"x_trade\.zip: '20131345_abc_Trade_Tick\.csv': '20131345' in the name is not"):
        open_taq(p)


def test_file_without_rows_is_refused(tmp_path: Path) -> None:
    p = _trade_zip(tmp_path / "20131007_trade.zip", "\n\n")
    with pytest.raises(DataError, match=r"20131007_abc_Trade_Tick\.csv: the file has no rows"):
        list(TaqReader(p).events())


def test_times_backwards_or_outside_the_day_are_counted_out_of_order_with_their_line(tmp_path: Path) -> None:
    rows = ["36000000,100,1,N,1,0", "35999999,100,1,N,1,0", "86400000,100,1,N,1,0", "-1,100,1,N,1,0"]
    p = _trade_zip(tmp_path / "20131007_trade.zip", "\n".join([*rows, "36000001,101,1,N,1,0"]) + "\n")
    reader = TaqReader(p)
    assert [e.price for e in reader.events() if isinstance(e, Trade)] == [100, 101]
    q = reader.quality()
    assert (q.rows, q.events, q.out_of_order, q.malformed) == (5, 2, 3, 0)
    assert q.first_problem.endswith(
        "20131007_abc_Trade_Tick.csv, line 2: time 35999999 ms is before the previous row's 36000000 ms"
    )
    strict = TaqReader(_trade_zip(tmp_path / "20131007_trade.zip", f"{rows[0]}\n{rows[2]}\n"), strict=True)
    with pytest.raises(DataError, match=r"Tick\.csv, line 2: time 86400000 ms is outside the day"):
        list(strict.events())


@pytest.mark.parametrize(
    ("row", "why"),
    [
        ("36000001,99999999999999999999,1,N,1,0", "out of range"),
        ("36000001,100,1,N,1,x", "unreadable trade row"),
        ("36000001,100,1,%,1,0", "out of range"),
    ],
)
def test_bad_value_is_counted_malformed_at_its_own_line(tmp_path: Path, row: str, why: str) -> None:
    p = _trade_zip(tmp_path / "20131007_trade.zip", f"36000000,100,1,N,1,0\n\n{row}\n36000002,100,1,N,1,0\n")
    reader = TaqReader(p)
    assert len(list(reader.events())) == 2
    q = reader.quality()
    assert (q.rows, q.malformed) == (3, 1)
    assert ", line 3: " in q.first_problem and why in q.first_problem


def test_second_pass_starts_from_an_empty_nbbo_and_fresh_counts_in_the_same_stats(data_dir: Path) -> None:
    path = data_dir / "lean-algoseek-us-equity" / "tick" / "aig" / "20131007_trade.zip"
    reader = TaqReader.for_day(path)
    held = reader.stats
    first = list(itertools.islice(iter(reader), 20_000))
    counts = msgspec.to_builtins(held)
    assert counts["rows"] > 0 and counts["nbbo"]["updates"] > 0
    second = list(itertools.islice(iter(reader), 20_000))
    assert second == first and reader.stats is held
    assert msgspec.to_builtins(held) == counts
