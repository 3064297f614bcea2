"""``data info`` progress: a day file runs on the 04:00-20:00 New York session clock, which gives an ETA."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tapeflow.cli import data_cmd
from tapeflow.cli.data_cmd import SessionProgress, summarize

SEC = 1_000_000_000
OPEN_2012_06_21 = 1_340_285_400 * SEC  # 09:30 EDT


class _Bar:
    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def update(self, task: object, **kw: Any) -> None:
        self.updates.append(kw)


def test_day_file_progress_counts_seconds_since_four_in_new_york() -> None:
    bar = _Bar()
    progress = SessionProgress(bar, task=0)
    progress("lobster", OPEN_2012_06_21)
    progress("lobster", OPEN_2012_06_21 + 3_600 * SEC)
    assert bar.updates[0] == {"total": 16 * 3_600}
    assert bar.updates[1]["completed"] == 5 * 3_600 + 30 * 60  # 04:00 -> 09:30
    assert bar.updates[2]["completed"] == 6 * 3_600 + 30 * 60
    assert bar.updates[2]["description"] == "session at 2012-06-21 10:30:00 EDT"


def test_bars_progress_has_no_total(tmp_path: Path) -> None:
    bar = _Bar()
    SessionProgress(bar, task=0)("bars", OPEN_2012_06_21)
    assert bar.updates == [{"description": "read up to 2012-06-21 09:30:00 EDT"}]


def test_summarize_reports_progress_while_reading_a_real_day(data_dir: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(data_cmd, "PROGRESS_EVERY", 10_000)
    seen: list[tuple[str, int]] = []
    out = summarize(
        data_dir / "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip",
        progress=lambda fmt, ts: seen.append((fmt, ts)),
    )
    assert len(seen) == out["events"] // 10_000 > 0
    assert all(fmt == "lobster" for fmt, _ in seen)
    assert [ts for _, ts in seen] == sorted(ts for _, ts in seen)
