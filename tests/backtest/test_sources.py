"""``build_sources`` keeps each source's reader, so that the run can ask it what it read."""

from __future__ import annotations

from pathlib import Path

import pytest

from tapeflow.backtest.config import DataConfig
from tapeflow.backtest.sources import build_sources
from tapeflow.config import SyntheticConfig
from tapeflow.data.quality import QualityReporter, SourceQuality

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
