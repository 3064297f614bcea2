"""``itch_date``: the trading day of an ITCH file comes from the user or Nasdaq's file name, never a guess."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tapeflow.data.detect import itch_date
from tapeflow.model.errors import DataError


def test_itch_date_from_nasdaq_file_name() -> None:
    assert itch_date(Path("/x/12302019.NASDAQ_ITCH50.gz")) == date(2019, 12, 30)


def test_itch_date_given_wins_over_the_name() -> None:
    assert itch_date(Path("12302019.NASDAQ_ITCH50"), date(2019, 7, 30)) == date(2019, 7, 30)


@pytest.mark.parametrize("name", ["sample.itch", "13302019.NASDAQ_ITCH50", "itch_12302019.bin"])
def test_itch_date_neither_given_nor_in_name_is_refused_naming_the_file(name: str) -> None:
    with pytest.raises(DataError) as info:
        itch_date(Path(name))
    assert str(info.value) == (
        f"{name}: ITCH times count from midnight and the trading day is not in the file name (Nasdaq's "
        "MMDDYYYY.NASDAQ_ITCH50); pass --date YYYY-MM-DD (in a run configuration: `date` in [data])"
    )
