"""``build_sources`` keeps each source's reader, so that the run can ask it what it read."""

from __future__ import annotations

from pathlib import Path

import pytest

from tapeflow.backtest.config import DataConfig
from tapeflow.backtest.sources import build_sources
from tapeflow.data.quality import QualityReporter, SourceQuality

NVDA = "backtrader-yahoo-daily/nvda-1999-2014.txt.gz"


def test_a_reader_without_quality_is_counted_by_what_it_yields_after_limit_and_filters(data_dir: Path) -> None:
    path = data_dir / "lobster-samples-2012-06-21" / "LOBSTER_SampleFile_AMZN_2012-06-21_1.zip"
    sources, level, total = build_sources(DataConfig(kind="lobster", paths=[str(path)], limit=100))
    (source,) = sources
    assert level == "L3" and total == 100 and isinstance(source, QualityReporter)
    assert source.quality() == SourceQuality(source=str(path), format="lobster")
    assert len(list(source)) == 100
    q = source.quality()
    assert (q.rows, q.events, q.anomalies) == (100, 100, 0)


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


def test_bar_sources_without_reader_quality_still_report_their_events(data_dir: Path) -> None:
    from tapeflow.data import bars

    if hasattr(bars.BarReader, "quality"):
        pytest.skip("the bar reader reports its own quality now: covered by the test above")
    (source,), _, _ = build_sources(DataConfig(kind="bars", paths=[str(data_dir / NVDA)]))
    assert isinstance(source, QualityReporter)
    events = sum(1 for _ in source)
    assert events == 4_012 and source.quality().events == events
