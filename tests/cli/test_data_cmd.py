"""``tapeflow data info`` on every shared folder's files, and ``convert``'s contract."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tapeflow.cli import app
from tapeflow.cli.data_cmd import summarize

runner = CliRunner()
ITCH_DAY = ["--date", "2019-12-30"]
"""The fixture's name carries no day (SOURCE.md: probably 2019-12-30); other formats refuse --date."""

CASES = [  # file, format, counts (verified independently: SOURCE.md / MANIFEST.tsv rows, unzip | wc -l)
    ("lobster-samples-2012-06-21/LOBSTER_SampleFile_AMZN_2012-06-21_1.zip", "lobster", None),
    ("nasdaq-itch50-head-fixture/sample.itch", "itch", {"TradingStatus": 3}),
    ("lean-algoseek-us-equity/tick/spy/20131007_trade.zip", "taq", {"Trade": 250_601}),
    ("lean-algoseek-us-equity/daily/spy.zip", "bars", {"Bar": 5849}),
    ("lean-algoseek-us-equity/second/ibm/20131007_trade.zip", "bars", None),
    ("backtrader-yahoo-daily/orcl-1995-2014.txt.gz", "bars", {"Bar": 5036}),
    ("zipline-test-daily/csvdir_daily_KO.csv.gz", "bars", {"Bar": 754}),
    ("zipline-test-daily/QUANDL_ARCHIVE.zip", "bars", {"Bar": 916}),
    ("databento-dbn-us-equity-fixtures/EQUS.MINI/test_data.tbbo.dbn.zst", "dbn", {"Quote": 4, "Trade": 4}),
]


@pytest.mark.parametrize(("rel", "fmt", "counts"), CASES)
def test_info_reads_every_shared_folder(data_dir: Path, rel: str, fmt: str, counts: dict[str, int] | None) -> None:
    result = runner.invoke(app, ["data", "info", str(data_dir / rel), "--json", *(ITCH_DAY if fmt == "itch" else [])])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["format"] == fmt and out["events"] > 0
    if counts is not None:
        assert out["counts"] == counts


def test_info_unknown_file_one_line_exit_2(tmp_path: Path) -> None:
    p = tmp_path / "junk.bin"
    p.write_bytes(b"\x00\x01hello world, not market data" * 10)
    result = runner.invoke(app, ["data", "info", str(p)])
    assert result.exit_code == 2
    assert "junk.bin" in result.output and "offset 0" in result.output


def test_convert_then_info_on_the_store(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "store"
    src = data_dir / "zipline-test-daily/pipeline_inputs_MSFT.csv.gz"
    result = runner.invoke(app, ["data", "convert", str(src), "--to", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["events"] == 127
    info = json.loads(runner.invoke(app, ["data", "info", str(out), "--json"]).stdout)
    assert info["format"] == "parquet-store" and info["counts"] == {"Bar": 127}


def test_convert_corrupt_input_leaves_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04" + b"\x00" * 50)
    result = runner.invoke(app, ["data", "convert", str(bad), "--to", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.zip"]


def test_convert_to_an_existing_file_is_refused_before_the_input_is_read(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("not a store")
    result = runner.invoke(app, ["data", "convert", str(tmp_path / "no-such-input"), "--to", str(tmp_path / "out"),
                                 "--overwrite"])  # fmt: skip
    assert result.exit_code == 2
    assert "output exists and is not a folder; give --to a new folder path" in result.output
    assert "no-such-input" not in result.output  # the input was never opened
    assert (tmp_path / "out").read_text() == "not a store"


def test_convert_to_a_symlink_is_refused(data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    src = data_dir / "zipline-test-daily/pipeline_inputs_MSFT.csv.gz"
    result = runner.invoke(app, ["data", "convert", str(src), "--to", str(tmp_path / "link")])
    assert result.exit_code == 2
    assert "output is a symbolic link; give a real folder path to --to" in result.output
    assert list((tmp_path / "real").iterdir()) == []


def test_convert_overwrite_keeps_a_folder_that_is_not_a_store(data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("keep me")
    src = data_dir / "zipline-test-daily/pipeline_inputs_MSFT.csv.gz"
    result = runner.invoke(app, ["data", "convert", str(src), "--to", str(tmp_path / "docs"), "--overwrite"])
    assert result.exit_code == 2
    assert "--overwrite replaces only a tapeflow Parquet store" in result.output
    assert (tmp_path / "docs" / "a.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs"]


def test_convert_overwrite_replaces_a_store(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "store"
    for rel, n in (
        ("zipline-test-daily/pipeline_inputs_MSFT.csv.gz", 127),
        ("zipline-test-daily/csvdir_daily_KO.csv.gz", 754),
    ):
        result = runner.invoke(app, ["data", "convert", str(data_dir / rel), "--to", str(out), "--overwrite", "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["events"] == n
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]
    info = json.loads(runner.invoke(app, ["data", "info", str(out), "--json"]).stdout)
    assert info["counts"] == {"Bar": 754}


def test_convert_terminated_by_sigterm_leaves_no_partial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal
    from collections.abc import Iterator

    from tapeflow.data import detect
    from tapeflow.model.events import Event
    from tapeflow.model.market import Trade

    sent = []

    def feed() -> Iterator[Event]:
        for t in range(1, 200_000):
            if t == 1000:
                sent.append(t)
                os.kill(os.getpid(), signal.SIGTERM)  # as `timeout` or a scheduler would
            yield Trade(ts_event=t, ts_init=t, symbol=f"S{t % 7}", price=t, size=1)

    monkeypatch.setattr(detect, "detect_format", lambda path: "itch")
    monkeypatch.setattr(detect, "open_events", lambda path, fmt=None, day=None: ("itch", feed(), None))
    before = signal.getsignal(signal.SIGTERM)
    result = runner.invoke(app, ["data", "convert", str(tmp_path / "in.itch"), "--to", str(tmp_path / "out")])
    assert sent == [1000], result.output
    assert result.exit_code == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) == before


_QUANDL = b"ticker,date,open,high,low,close,volume\n"


def test_convert_symbol_that_climbs_out_of_the_folder_stays_inside(tmp_path: Path) -> None:
    """The issue's example: a ticker ``/../../X`` in the data must not write beside or above the store."""
    src = tmp_path / "in" / "bars.csv"
    src.parent.mkdir()
    src.write_bytes(_QUANDL + b"AAPL,2014-01-02,1,2,0.5,1.5,100\n/../../x,2014-01-02,1,2,0.5,1.5,100\n")
    out = tmp_path / "a" / "b" / "store"
    out.parent.mkdir(parents=True)
    result = runner.invoke(app, ["data", "convert", str(src), "--to", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["events"] == 2
    assert sorted(p.name for p in out.iterdir()) == ["_tapeflow_store.json", "symbol=%2F..%2F..%2FX", "symbol=AAPL"]
    assert sorted(
        p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file() and out not in p.parents
    ) == ["in/bars.csv"]
    info = json.loads(runner.invoke(app, ["data", "info", str(out), "--json"]).stdout)
    assert info["symbols"] == ["/../../X", "AAPL"]


def test_convert_symbol_outside_printable_ascii_is_one_line_exit_2(tmp_path: Path) -> None:
    src = tmp_path / "bars.csv"
    src.write_bytes(_QUANDL + b"AAPL,2014-01-02,1,2,0.5,1.5,100\nA\xffB,2014-01-03,1,2,0.5,1.5,100\n")
    result = runner.invoke(app, ["data", "convert", str(src), "--to", str(tmp_path / "out")])
    assert result.exit_code == 2
    line = " ".join(result.output.split())
    assert "event #2 (Bar at ts_init=" in line
    assert "symbol 'A\ufffdB' has a character outside printable ASCII" in line
    assert "fix or filter the input" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bars.csv"]


# --- the reader's counts, read after the stream is exhausted (they were all zero before) ---


def _info(path: Path) -> dict[str, Any]:
    result = runner.invoke(app, ["data", "info", str(path), "--json", *(ITCH_DAY if path.suffix == ".itch" else [])])
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def test_info_itch_fixture_stats_and_quality_are_the_files_real_counts(data_dir: Path) -> None:
    out = _info(data_dir / "nasdaq-itch50-head-fixture/sample.itch")
    stats = out["stats"]
    assert (stats["messages"], stats["bytes"], stats["events"], stats["framing"]) == (1000, 40_874, 3, "length")
    assert out["quality"] == {
        "source": str(data_dir / "nasdaq-itch50-head-fixture/sample.itch"), "format": "itch", "rows": 1000,
        "events": 3, "malformed": 0, "out_of_order": 0, "duplicates": 0, "unknown_ids": 0, "first_problem": "",
        "discovered": 0,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("rel", "records", "events"),
    [("XNAS.ITCH/test_data.mbo.dbn.zst", 4, 4), ("EQUS.MINI/test_data.tbbo.dbn.zst", 4, 8),
     ("XNAS.ITCH/test_data.definition.dbn.zst", 1, 0)],
)  # fmt: skip
def test_info_dbn_fixture_stats_and_quality_are_the_files_real_counts(
    data_dir: Path, rel: str, records: int, events: int
) -> None:
    result = runner.invoke(app, ["data", "info", str(data_dir / "databento-dbn-us-equity-fixtures" / rel), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["stats"]["records"], out["stats"]["events"], out["stats"]["version"]) == (records, events, 3)
    assert (out["quality"]["rows"], out["quality"]["events"], out["quality"]["malformed"]) == (records, events, 0)
    assert out["stats"]["dataset"] == rel.split("/")[0]


def test_info_cut_itch_file_counts_the_cut_and_says_where(data_dir: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.itch"
    cut.write_bytes((data_dir / "nasdaq-itch50-head-fixture/sample.itch").read_bytes()[:-5])
    with pytest.warns(UserWarning, match="ends inside a message"):
        out = summarize(cut, date(2019, 12, 30))
    assert out["quality"]["rows"] == 999 and out["quality"]["malformed"] == 1
    assert out["quality"]["first_problem"].startswith(f"{cut}, byte offset 40833: the input ends inside a message")
    with pytest.warns(UserWarning, match="ends inside a message"):
        table = runner.invoke(app, ["data", "info", str(cut), *ITCH_DAY])
    assert table.exit_code == 0 and "malformed" in table.output and "first problem" in table.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file; tapeflow reads a LOBSTER zip"),
        (gzip.compress(b""), "empty once decompressed; tapeflow reads"),
    ],
    ids=["empty", "empty-gzip"],
)
def test_info_empty_file_is_one_line_naming_the_accepted_formats(tmp_path: Path, content: bytes, message: str) -> None:
    p = tmp_path / "empty.itch"
    p.write_bytes(content)
    result = runner.invoke(app, ["data", "info", str(p)])
    assert result.exit_code == 2
    assert f"{p}, byte offset 0: {message}" in result.output
    assert "NASDAQ ITCH 5.0" in result.output and "DBN" in result.output


@pytest.mark.parametrize(("rel", "fmt", "counts"), [c for c in CASES if c[1] != "lobster"])
def test_info_stats_of_every_reader_are_read_after_the_stream_not_left_at_zero(
    data_dir: Path, rel: str, fmt: str, counts: dict[str, int] | None
) -> None:
    out = _info(data_dir / rel)
    numbers = [v for v in out["stats"].values() if isinstance(v, int) and not isinstance(v, bool)]
    assert max(numbers, default=0) >= out["events"] > 0  # some count covers every event; it was all zeros


def test_info_itch_without_a_day_in_name_or_option_is_refused_in_one_line(data_dir: Path) -> None:
    result = runner.invoke(app, ["data", "info", str(data_dir / "nasdaq-itch50-head-fixture/sample.itch")])
    assert result.exit_code == 2
    assert "pass --date YYYY-MM-DD" in result.output and "sample.itch" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_info_itch_date_option_dates_every_event_on_that_day(data_dir: Path) -> None:
    out = _info(data_dir / "nasdaq-itch50-head-fixture/sample.itch")
    assert out["first_ts"] is not None and out["last_ts"] is not None
    day = datetime(2019, 12, 30, tzinfo=UTC).timestamp() * 1e9
    assert day <= out["first_ts"] <= out["last_ts"] < day + 86_400e9  # not 1970


def test_info_bad_date_option_is_one_line_exit_2(data_dir: Path) -> None:
    result = runner.invoke(app, ["data", "info", str(data_dir / "nasdaq-itch50-head-fixture/sample.itch"),
                                 "--date", "2019-13-30"])  # fmt: skip
    assert result.exit_code == 2
    assert "--date '2019-13-30' is not a calendar day; give it as YYYY-MM-DD" in result.output


def test_convert_itch_writes_the_given_date_partition_not_1970(data_dir: Path, tmp_path: Path) -> None:
    src = data_dir / "nasdaq-itch50-head-fixture/sample.itch"
    refused = runner.invoke(app, ["data", "convert", str(src), "--to", str(tmp_path / "none")])
    assert refused.exit_code == 2 and "pass --date YYYY-MM-DD" in refused.output
    assert not (tmp_path / "none").exists()
    result = runner.invoke(app, ["data", "convert", str(src), "--to", str(tmp_path / "s"), *ITCH_DAY])
    assert result.exit_code == 0, result.output
    partitions = sorted(p.name for p in (tmp_path / "s").glob("symbol=*/date=*"))
    assert partitions and set(partitions) == {"date=2019-12-30"}


def test_date_option_on_a_format_with_its_own_dates_is_refused_not_ignored(data_dir: Path) -> None:
    src = data_dir / "zipline-test-daily/pipeline_inputs_MSFT.csv.gz"
    result = runner.invoke(app, ["data", "info", str(src), *ITCH_DAY])
    assert result.exit_code == 2
    assert f"--date is the trading day of an ITCH file; {src} is bars, which carries its own dates" in result.output
