"""A calibration of the shared LOBSTER days, subsampled (a few minutes, a few dozen probes): the exact queue
placed again matches the truth exactly, two runs are identical, and the order days are listed in changes nothing.
The full-day figures come from the CLI (docs/REALISM.md)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from tapeflow.calibration.config import CalibrateSection, find_days, load_calibrate_config
from tapeflow.calibration.follow import L3
from tapeflow.calibration.run import CalibrationReport, run_calibration
from tapeflow.model.errors import ConfigError, DataError

AMZN_5 = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"
GOOG_5 = "lobster-samples-2012-06-21/LOBSTER_SampleFile_GOOG_2012-06-21_5.zip"
AMZN_1 = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AMZN_2012-06-21_1.zip"


def _cfg(data_dir: Path, days: tuple[str, ...]) -> CalibrateSection:
    return CalibrateSection(days=days, root=str(data_dir), probes=40, horizon_s=60, start="09:40", end="09:43", seed=5)


@pytest.fixture(scope="module")
def report(data_dir: Path) -> CalibrationReport:
    return run_calibration(_cfg(data_dir, (AMZN_5, GOOG_5)))


def test_the_exact_queue_placed_again_scores_zero_error_against_the_truth(report: CalibrationReport) -> None:
    rows = [s for s in report.scores if s.model == L3]
    assert {s.symbol for s in rows} == {"AMZN", "GOOG"}
    filled = 0
    for row in rows:
        assert (row.model_only, row.truth_only, row.agreement) == (0, 0, 1.0), row
        assert row.fill_prob == row.truth_fill_prob
        assert row.mae_ttf_s in (0.0, None) and row.median_ae_ttf_s in (0.0, None)
        filled += row.both if row.level == 0 else 0
    assert filled > 10  # the check compared real fills, not only probes that never filled


def test_every_model_is_scored_per_symbol_and_level_and_the_counts_add_up(report: CalibrationReport) -> None:
    models = {s.model for s in report.scores}
    assert models == {L3, "FRONT", "BACK", "PROPORTIONAL", "POWER2", "POWER3"}
    for s in report.scores:
        assert s.both + s.model_only + s.truth_only + s.neither == s.probes
    pooled = sum(s.probes for s in report.scores if s.model == "BACK" and s.level == 0)
    assert pooled == sum(d.scored for d in report.days)
    assert sum(d.probes for d in report.days) == 80
    unseen = sum(n for levels in report.unseen.values() for n in levels.values())
    assert pooled + unseen == sum(d.placed for d in report.days)
    assert set(report.best) == {"AMZN", "GOOG"}


def test_two_runs_give_identical_figures(data_dir: Path, report: CalibrationReport) -> None:
    again = run_calibration(_cfg(data_dir, (AMZN_5, GOOG_5)))
    assert msgspec.json.encode(again) == msgspec.json.encode(report)


def test_the_order_days_are_listed_in_changes_nothing(data_dir: Path, report: CalibrationReport) -> None:
    swapped = run_calibration(_cfg(data_dir, (GOOG_5, AMZN_5)))
    assert msgspec.json.encode(swapped) == msgspec.json.encode(report)


def test_a_day_listed_at_two_depths_runs_once_from_the_deeper_file(data_dir: Path) -> None:
    (day,) = find_days(_cfg(data_dir, (AMZN_1, AMZN_5)), None)
    assert (day.symbol, day.levels) == ("AMZN", 5)


def test_no_days_listed_means_every_lobster_day_under_the_root(data_dir: Path) -> None:
    days = find_days(CalibrateSection(root=str(data_dir)), None)
    assert [(d.symbol, d.levels) for d in days] == [("AAPL", 1), ("AMZN", 5), ("GOOG", 5)]


def test_a_missing_day_names_every_place_looked(data_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.zip"):
        find_days(_cfg(data_dir, ("nope.zip",)), None)


def test_a_file_that_is_not_a_lobster_zip_is_a_data_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable zip"):
        find_days(CalibrateSection(days=(str(bad),)), None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("probes = 0", "calibrate.probes"),
        ("levels = [0, 1]", "calibrate.levels"),
        ("levels = [1, 1]", "calibrate.levels"),
        ("sizes = [-5]", "calibrate.sizes"),
        ("horizon_s = 0", "calibrate.horizon_s"),
        ('start = "10:00"\nend = "09:00"', "calibrate.end"),
        ('start = "25:00"', "calibrate.start"),
        ('models = ["FIFO"]', "calibrate.models"),
        ("models = []", "calibrate.models"),
        ("colour = 1", "calibrate"),
    ],
)
def test_a_bad_field_is_one_error_naming_it(tmp_path: Path, body: str, field: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[calibrate]\n{body}\n")
    with pytest.raises(ConfigError) as info:
        load_calibrate_config(path)
    assert field in str(info.value)
