"""``LobsterEvents``: a LOBSTER day as an iterable of events whose counts are complete when the iteration ends."""

from __future__ import annotations

import zipfile
from pathlib import Path

from tapeflow.data.lobster import open_lobster
from tapeflow.data.lobster_events import LobsterEvents, iter_events
from tapeflow.data.quality import QualityReporter
from tapeflow.model import OrderAdded

SAMPLES = "lobster-samples-2012-06-21"
STEM = "TEST_2012-06-21_34200000_57600000"


def _zip(path: Path, messages: list[str], books: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{STEM}_message_1.csv", "\n".join(messages) + "\n")
        zf.writestr(f"{STEM}_orderbook_1.csv", "\n".join(books) + "\n")
    return path


def test_real_day_quality_counts_every_row_and_event_and_no_anomaly_but_discoveries(data_dir: Path) -> None:
    path = data_dir / SAMPLES / "LOBSTER_SampleFile_GOOG_2012-06-21_1.zip"
    reader = iter_events(path)
    assert isinstance(reader, LobsterEvents) and isinstance(reader, QualityReporter)
    n = sum(1 for _ in reader)
    q = reader.quality()
    assert (q.format, q.rows, q.events) == ("lobster", 49_482, n)
    assert q.source == f"{path}!GOOG_2012-06-21_34200000_57600000_message_1.csv"
    assert q.discovered == reader.counts.discovered > 0 and q.unknown_ids == 0 and q.anomalies == 0
    assert q.first_problem == ""


def test_second_iteration_reads_again_with_fresh_counts(tmp_path: Path) -> None:
    path = _zip(
        tmp_path / "day.zip",
        ["34200.1,1,1,10,1000200,-1", "34200.2,1,2,5,1000000,1"],
        ["1000200,10,-9999999999,0", "1000200,10,1000000,5"],
    )
    reader = LobsterEvents(open_lobster(path))
    first = list(reader)
    assert list(reader) == first
    assert (reader.quality().rows, reader.quality().events) == (2, len(first))


def test_order_id_added_twice_is_counted_not_applied_and_named(tmp_path: Path) -> None:
    msgs = ["34200.1,1,7,10,1000200,-1", "34200.2,1,8,5,1000000,1", "34200.3,1,7,99,1000100,1"]
    books = ["1000200,10,-9999999999,0", "1000200,10,1000000,5", "1000200,10,1000000,5"]
    reader = LobsterEvents(_zip(tmp_path / "dup.zip", msgs, books))
    added = [e for e in reader if isinstance(e, OrderAdded)]
    assert [(e.order_id, e.size) for e in added] == [(7, 10), (8, 5)]
    q = reader.quality()
    assert (q.rows, q.duplicates, q.anomalies) == (3, 1, 1)
    assert q.first_problem == (
        f"{tmp_path / 'dup.zip'}!{STEM}_message_1.csv, line 3: order id 7 added again (already added that day); "
        "not applied"
    )
