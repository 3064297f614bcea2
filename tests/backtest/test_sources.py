"""``build_sources`` keeps each source's reader, so that the run can ask it what it read."""

from __future__ import annotations

from datetime import UTC, date, datetime
from fractions import Fraction
from itertools import islice
from pathlib import Path

import pytest

from tapeflow.backtest.config import DataConfig
from tapeflow.backtest.sources import build_sources, prices_used
from tapeflow.config import SyntheticConfig
from tapeflow.data.bars import daily_close_ns
from tapeflow.data.detect import open_events
from tapeflow.data.parquet_store import write_store
from tapeflow.data.quality import QualityReporter, SourceQuality
from tapeflow.model.errors import ConfigError
from tapeflow.model.events import Event
from tapeflow.model.market import Bar, Dividend

NVDA = "backtrader-yahoo-daily/nvda-1999-2014.txt.gz"


def test_a_source_without_reader_counts_is_counted_by_what_it_yields_after_the_limit() -> None:
    cfg = SyntheticConfig(symbols=("AAA", "BBB"), events_per_symbol=500)
    sources, level, total = build_sources(DataConfig(kind="synthetic", synthetic=cfg, limit=100))
    assert level == "L2" and total == 200 and len(sources) == 2
    for name, source in zip(("AAA", "BBB"), sources, strict=True):
        assert isinstance(source, QualityReporter)
        assert source.quality() == SourceQuality(source=f"synthetic:{name}", format="synthetic")
        assert len(list(source)) == 100
        q = source.quality()
        assert (q.rows, q.events, q.anomalies) == (100, 100, 0)


def test_the_lobster_reader_reports_what_a_limited_run_consumed(data_dir: Path) -> None:
    path = data_dir / "lobster-samples-2012-06-21" / "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip"
    (source,), level, total = build_sources(DataConfig(kind="lobster", paths=[str(path)], limit=100))
    assert level == "L3" and total == 100 and isinstance(source, QualityReporter)
    assert len(list(source)) == 100
    q = source.quality()
    assert q.format == "lobster" and q.events == 100 and q.rows >= 1 and q.anomalies == 0


def test_a_reader_that_reports_quality_is_asked_directly_without_a_change_here(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bar reader gains ``quality()`` (as readers will, one by one): the run's source answers with it."""
    from tapeflow.data import bars

    answer = SourceQuality(source="from the reader", format="bars", rows=4_013, malformed=1)

    class CountingBarReader(bars.BarReader):  # a subclass: the protocol check's cache stays clean for the others
        def quality(self) -> SourceQuality:
            return answer

    monkeypatch.setattr(bars, "BarReader", CountingBarReader)
    (source,), _, _ = build_sources(DataConfig(kind="bars", paths=[str(data_dir / NVDA)]))
    assert isinstance(source, QualityReporter) and source.quality() is answer


ITCH = "nasdaq-itch50-head-fixture/sample.itch"
DBN = "databento-dbn-us-equity-fixtures"


def test_itch_is_an_l3_input_dated_by_the_config_and_reports_the_readers_quality(data_dir: Path) -> None:
    data = DataConfig(kind="itch", paths=(str(data_dir / ITCH),), date=date(2019, 12, 30))
    (source,), level, _ = build_sources(data)
    events = list(source)
    assert level == "L3" and len(events) == 3  # the fixture's three trading-action messages
    day = int(datetime(2019, 12, 30, tzinfo=UTC).timestamp()) * 1_000_000_000
    assert all(day <= e.ts_init < day + 86_400 * 1_000_000_000 for e in events)
    assert isinstance(source, QualityReporter)
    q = source.quality()
    assert (q.format, q.rows, q.events, q.anomalies) == ("itch", 1000, 3, 0)


def test_itch_without_a_day_is_refused_before_reading(data_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"set `date = YYYY-MM-DD` in \[data\]") as info:
        build_sources(DataConfig(kind="itch", paths=(str(data_dir / ITCH),)))
    assert info.value.field == "data.date"


@pytest.mark.parametrize(
    ("rel", "level", "events"),
    [("XNAS.ITCH/test_data.mbo.dbn.zst", "L3", 4), ("XNAS.ITCH/test_data.mbp-10.dbn.zst", "L2", 4),
     ("XNAS.ITCH/test_data.mbp-1.dbn.zst", "L1", 4), ("EQUS.MINI/test_data.tbbo.dbn.zst", "L1", 8),
     ("EQUS.MINI/test_data.trades.dbn.zst", "L1", 4), ("EQUS.MINI/test_data.bbo-1s.dbn.zst", "L1", 4),
     ("XNAS.ITCH/test_data.ohlcv-1m.dbn.zst", "L2", 4)],
)  # fmt: skip
def test_dbn_book_level_follows_the_schema_and_no_record_is_lost_to_the_peek(
    data_dir: Path, rel: str, level: str, events: int
) -> None:
    (source,), found, _ = build_sources(DataConfig(kind="dbn", paths=(str(data_dir / DBN / rel),)))
    assert found == level
    assert len(list(source)) == events
    assert isinstance(source, QualityReporter) and source.quality().events == events


def test_dbn_files_that_need_different_books_are_refused(data_dir: Path) -> None:
    paths = (
        str(data_dir / DBN / "XNAS.ITCH/test_data.mbo.dbn.zst"),
        str(data_dir / DBN / "XNAS.ITCH/test_data.mbp-1.dbn.zst"),
    )
    with pytest.raises(ConfigError, match=r"different book levels \(mbo: L3; mbp-1: L1\)"):
        build_sources(DataConfig(kind="dbn", paths=paths))


def test_parquet_store_level_and_symbol_and_day_filters(data_dir: Path, tmp_path: Path) -> None:
    src = data_dir / "lobster-samples-2012-06-21/LOBSTER_SampleFile_GOOG_2012-06-21_1.zip"
    _, events, _ = open_events(src)
    original = list(events)
    write_store(original, tmp_path / "store")
    (source,), level, _ = build_sources(DataConfig(kind="parquet", paths=(str(tmp_path / "store"),)))
    assert level == "L3" and list(source) == original
    assert isinstance(source, QualityReporter) and source.quality().events == len(original)
    for symbols, dates, expected in [(("GOOG",), (date(2012, 6, 21),), original), (("AAPL",), (), []),
                                     ((), (date(2012, 6, 22),), [])]:  # fmt: skip
        (only,), _, _ = build_sources(DataConfig(kind="parquet", paths=(str(tmp_path / "store"),),
                                                 symbols=symbols, dates=dates))  # fmt: skip
        assert list(only) == expected


def test_parquet_of_quotes_is_l1_and_a_plain_folder_is_refused(data_dir: Path, tmp_path: Path) -> None:
    _, events, _ = open_events(data_dir / DBN / "EQUS.MINI/test_data.tbbo.dbn.zst")
    write_store(list(events), tmp_path / "store")
    assert build_sources(DataConfig(kind="parquet", paths=(str(tmp_path / "store"),)))[1] == "L1"
    (tmp_path / "plain").mkdir()
    with pytest.raises(ConfigError, match="is not a tapeflow Parquet store"):
        build_sources(DataConfig(kind="parquet", paths=(str(tmp_path / "plain"),)))


LEAN_AAPL = "lean-algoseek-us-equity/daily/aapl.zip"
QUANDL = "zipline-test-daily/QUANDL_ARCHIVE.zip"
CSVDIR = "zipline-test-daily/csvdir_daily_AAPL.csv.gz"


def _bars(data_dir: Path, rel: str, **kw: object) -> tuple[list[Event], str]:
    (source,), _, _ = build_sources(DataConfig(kind="bars", paths=(str(data_dir / rel),), **kw))  # type: ignore[arg-type]
    return list(source), prices_used([source])


def _close_on(events: list[Event], day: date, symbol: str = "AAPL") -> int:
    ts = daily_close_ns(day)
    (bar,) = [e for e in events if isinstance(e, Bar) and e.ts_event == ts and e.symbol == symbol]
    return bar.close


def test_lean_daily_bars_without_a_split_source_are_refused_by_default(data_dir: Path) -> None:
    with pytest.raises(ConfigError) as info:
        build_sources(DataConfig(kind="bars", paths=(str(data_dir / LEAN_AAPL),)))
    assert info.value.field == "data.adjust"
    assert "daily bars as traded and the file carries no splits" in str(info.value)
    assert 'factors = { AAPL = "factor_files/aapl.csv" }' in str(info.value) and 'adjust = "none"' in str(info.value)
    events, prices = _bars(data_dir, LEAN_AAPL, adjust="none")
    assert prices == "as traded" and _close_on(events, date(2014, 6, 6)) == 6_455_700


def test_lean_daily_bars_with_a_factor_file_are_split_adjusted(data_dir: Path, tmp_path: Path) -> None:
    factors = tmp_path / "aapl.csv"
    factors.write_text("20140606,0.9,0.142857142857\n20501231,1,1\n")  # the price (dividend) factor is not used
    events, prices = _bars(data_dir, LEAN_AAPL, factors={"aapl": str(factors)})
    assert prices == "split-adjusted"
    assert _close_on(events, date(2014, 6, 6)) == round(Fraction(6_455_700) * Fraction("0.142857142857")) == 922_243
    assert _close_on(events, date(2014, 6, 9)) == 937_000
    with pytest.raises(ConfigError, match="holds dividends as price factors"):
        build_sources(DataConfig(kind="bars", paths=(str(data_dir / LEAN_AAPL),), factors={"AAPL": str(factors)},
                                 adjust="splits+dividends"))  # fmt: skip


def test_quandl_is_split_adjusted_by_its_own_column_and_pays_dividends_when_asked(data_dir: Path) -> None:
    raw, prices = _bars(data_dir, QUANDL, adjust="none", symbols=("AAPL",))
    assert prices == "as traded" and _close_on(raw, date(2014, 6, 6)) == 6_455_700
    adjusted, prices = _bars(data_dir, QUANDL, symbols=("AAPL",))
    assert prices == "split-adjusted" and _close_on(adjusted, date(2014, 6, 6)) == 922_243
    assert not any(isinstance(e, Dividend) for e in adjusted)
    paid, prices = _bars(data_dir, QUANDL, adjust="splits+dividends", symbols=("AAPL",))
    assert prices == "split-adjusted, dividends as cash"
    assert [e.amount for e in paid if isinstance(e, Dividend)] == [4_357, 4_700, 4_700, 4_700]
    assert [e for e in paid if not isinstance(e, Dividend)] == adjusted


def test_csvdir_split_column_is_not_applied_twice_and_its_dividends_are_per_adjusted_share(data_dir: Path) -> None:
    events, prices = _bars(data_dir, CSVDIR, adjust="splits+dividends")
    assert prices == "split-adjusted, dividends as cash"
    assert _close_on(events, date(2014, 6, 6)) == 922_243  # as in the file: $92.224289 rounded
    assert [e.amount for e in events if isinstance(e, Dividend)][-4:] == [4_357, 4_700, 4_700, 4_700]


def test_yahoo_is_split_adjusted_already_and_has_no_dividend_amounts(data_dir: Path) -> None:
    assert _bars(data_dir, NVDA)[1] == "split-adjusted"
    assert _bars(data_dir, NVDA, adjust="none")[1] == "split-adjusted"
    with pytest.raises(ConfigError, match=r'no dividend amounts .*; use adjust = "splits"'):
        build_sources(DataConfig(kind="bars", paths=(str(data_dir / NVDA),), adjust="splits+dividends"))


def test_intraday_bars_and_ticks_are_as_traded_and_mixed_bases_are_spelled_out(data_dir: Path) -> None:
    assert _bars(data_dir, "lean-algoseek-us-equity/minute/aapl/20140609_trade.zip")[1] == "as traded"
    lean = build_sources(DataConfig(kind="bars", paths=(str(data_dir / LEAN_AAPL),), adjust="none"))[0]
    yahoo = build_sources(DataConfig(kind="bars", paths=(str(data_dir / NVDA),)))[0]
    assert prices_used([*lean, *yahoo]) == "mixed: as traded; split-adjusted"
    synthetic = build_sources(DataConfig(kind="synthetic", limit=1))[0]
    assert prices_used(synthetic) == "as traded"


def test_a_store_of_bars_is_refused_unless_used_as_stored(data_dir: Path, tmp_path: Path) -> None:
    """Bars converted from LEAN's daily file are as traded, but the store cannot say so: no silent raw run."""
    _, events, _ = open_events(data_dir / LEAN_AAPL)
    write_store(list(islice(events, 3)), tmp_path / "store")  # a store partitions by day: three days are enough
    with pytest.raises(ConfigError, match="holds bars, and a store keeps no split data") as info:
        build_sources(DataConfig(kind="parquet", paths=(str(tmp_path / "store"),)))
    assert info.value.field == "data.adjust"
    sources, level, _ = build_sources(DataConfig(kind="parquet", paths=(str(tmp_path / "store"),), adjust="none"))
    assert level == "L2" and prices_used(sources) == "as stored"
