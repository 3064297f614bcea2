"""Which LOBSTER day a zip holds, from its member names: read right, refused with the name when wrong, and cheap."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

import pytest

from tapeflow.data.lobster_file import open_lobster
from tapeflow.model import DataError


def _zip(path: Path, stem: str, *, orderbook: bool = True, levels: int = 1) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{stem}_message_{levels}.csv", "34200.000000001,1,10,100,1000000,1\n")
        if orderbook:
            zf.writestr(f"{stem}_orderbook_{levels}.csv", "1000100,50,1000000,100\n")
    return path


def test_the_member_names_give_symbol_day_levels_and_window(tmp_path: Path) -> None:
    lf = open_lobster(_zip(tmp_path / "day.zip", "GOOG_2012-06-21_34200000_57600000", levels=5))
    assert (lf.symbol, lf.day, lf.levels, lf.start_ms, lf.end_ms) == (
        "GOOG",
        date(2012, 6, 21),
        5,
        34_200_000,
        57_600_000,
    )
    assert (lf.message_member, lf.orderbook_member) == (
        "GOOG_2012-06-21_34200000_57600000_message_5.csv",
        "GOOG_2012-06-21_34200000_57600000_orderbook_5.csv",
    )


def test_message_file_without_orderbook_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "lonely.zip", "TEST_2012-06-21_34200000_57600000", orderbook=False)
    with pytest.raises(DataError, match="has no orderbook file"):
        open_lobster(path)


def test_impossible_date_in_the_member_name_is_refused_naming_it(tmp_path: Path) -> None:
    path = _zip(tmp_path / "day.zip", "TEST_2012-13-45_34200000_57600000")
    with pytest.raises(DataError, match=r"day\.zip: TEST_2012-13-45_.*'2012-13-45' in the name is not a calendar date"):
        open_lobster(path)


def test_time_window_beyond_one_day_in_the_member_name_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "day.zip", "TEST_2012-06-21_34200000_99999999")
    with pytest.raises(DataError, match="time window 34200000-99999999 ms in the name is not within one day"):
        open_lobster(path)


def test_importing_the_module_does_not_import_pyarrow() -> None:
    """``tapeflow book replay`` reads the description for its progress bar before the decoder is needed."""
    code = "import sys, tapeflow.data.lobster_file; sys.exit('pyarrow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
