"""Intraday walk-forward: durations cut the session into blocks (slices and periods), a block's task reads a LOBSTER
file holding only its messages and the book rebuilt from it matches the orderbook file, deterministic, resumable."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tapeflow.data.lobster_file import open_lobster
from tapeflow.model.errors import ConfigError, DataError
from tapeflow.report.book_replay import replay
from tapeflow.sweep.config import load_sweep
from tapeflow.sweep.intraday import Blocks, _time_ns, cut_lobster, duration_ms, is_intraday
from tapeflow.sweep.run import run_sweep
from tapeflow.sweep.walk_forward import plan_folds
from tests.sweep.helpers import InProcess

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sweep_walk_forward_intraday.toml"
AAPL = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
GOOG = "lobster-samples-2012-06-21/LOBSTER_SampleFile_GOOG_2012-06-21_1.zip"
MINUTE = 60_000


def test_durations_read_minutes_hours_seconds_and_bare_minutes() -> None:
    assert duration_ms("60min", "f") == duration_ms("1h", "f") == duration_ms("60", "f") == 60 * MINUTE
    assert duration_ms("90s", "f") == 90_000
    assert duration_ms(30, "f") == 30 * MINUTE
    for bad in ("soon", "0min", "-5m", "1.5h"):
        with pytest.raises(ConfigError, match="not a duration"):
            duration_ms(bad, "sweep.walk_forward.train")


def test_windows_are_all_durations_or_all_counts_never_mixed() -> None:
    assert is_intraday("60min", "30min", None)
    assert not is_intraday(2, 1, 1)
    with pytest.raises(ConfigError, match="all as durations"):
        is_intraday("60min", 1, None)


def test_the_session_is_cut_into_blocks_of_the_common_length_and_windows_counted_in_them() -> None:
    blocks = Blocks("60min", "30min", "30min", ("09:30", "16:00"))
    assert (blocks.size_ms, blocks.train, blocks.test, blocks.step) == (30 * MINUTE, 2, 1, 1)
    windows = blocks.windows()
    assert len(windows) == 13
    assert windows[0] == ("09:30", 34_200_000, 36_000_000)
    assert windows[-1] == ("15:30", 55_800_000, 57_600_000)
    uneven = Blocks("45min", "30min", None, ("09:30", "16:00"))  # 15-minute blocks; step defaults to test
    assert (uneven.size_ms, uneven.train, uneven.test, uneven.step) == (15 * MINUTE, 3, 2, 2)


def test_windows_longer_than_the_session_or_a_backwards_session_are_refused() -> None:
    with pytest.raises(ConfigError, match="do not fit in the session"):
        Blocks("6h", "1h", None, ("09:30", "16:00"))
    with pytest.raises(ConfigError, match="ends before it starts"):
        Blocks("60min", "30min", None, ("16:00", "09:30"))


@given(st.integers(0, 86_399), st.integers(0, 999_999_999))
def test_message_times_are_read_to_the_nanosecond_without_floats(seconds: int, nanos: int) -> None:
    line = f"{seconds}.{nanos:09d},1,2,3,4,1\n".encode()
    assert _time_ns(line) == seconds * 1_000_000_000 + nanos
    assert _time_ns(f"{seconds},1\n".encode()) == seconds * 1_000_000_000


def test_the_example_gives_one_task_per_block_and_threshold_and_eleven_folds(data_dir: Path) -> None:
    sweep = load_sweep(EXAMPLE)
    assert len(sweep.tasks) == 13 * 2
    first, last = sweep.tasks[0], sweep.tasks[-1]
    assert first.slice == "AAPL/2012-06-21T09:30" and first.window_ms == (34_200_000, 36_000_000)
    assert last.slice == "AAPL/2012-06-21T15:30" and last.window_ms == (55_800_000, 57_600_000)
    assert len({t.config_hash for t in sweep.tasks}) == len(sweep.tasks)  # the window is part of the hash
    assert sweep.periods[:2] == ("2012-06-21T09:30", "2012-06-21T10:00")
    folds = plan_folds(sweep)
    assert len(folds) == 11
    assert (folds[0].train, folds[0].test) == (("2012-06-21T09:30", "2012-06-21T10:00"), ("2012-06-21T10:30",))


def test_intraday_windows_on_data_without_a_per_message_book_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "syn.toml"
    path.write_text(
        '[data]\nkind = "synthetic"\n[strategy]\nname = "imbalance_quoter"\n[sweep]\n'
        '[sweep.grid]\n"strategy.params.threshold" = [0.2]\n'
        '[sweep.walk_forward]\ntrain = "60min"\ntest = "30min"\n'
    )
    with pytest.raises(ConfigError, match="intraday windows cut LOBSTER files"):
        load_sweep(path)


def test_a_cut_block_holds_exactly_the_messages_of_its_window_and_their_book_rows(
    data_dir: Path, tmp_path: Path
) -> None:
    source = open_lobster(data_dir / AAPL)
    start, end = 36_000_000, 37_800_000  # 10:00-10:30
    cut = open_lobster(cut_lobster(data_dir / AAPL, start, end, tmp_path))
    assert (cut.start_ms, cut.end_ms, cut.symbol, cut.day) == (start, end, source.symbol, source.day)
    with zipfile.ZipFile(source.path) as zf:
        messages = zf.read(source.message_member).splitlines(keepends=True)
        books = zf.read(source.orderbook_member).splitlines(keepends=True)
    picked = [i for i, m in enumerate(messages) if start * 1_000_000 <= _time_ns(m) < end * 1_000_000]
    assert picked == list(range(picked[0], picked[-1] + 1)) and len(picked) > 1000
    with zipfile.ZipFile(cut.path) as zf:
        assert zf.read(cut.message_member) == b"".join(messages[i] for i in picked)
        assert zf.read(cut.orderbook_member) == b"".join(books[i] for i in picked)


@pytest.mark.parametrize("name", [AAPL, GOOG])
def test_the_book_rebuilt_from_a_block_matches_the_orderbook_file_at_every_message(
    data_dir: Path, tmp_path: Path, name: str
) -> None:
    report = replay(cut_lobster(data_dir / name, 43_200_000, 45_000_000, tmp_path), verify=True)  # 12:00-12:30
    assert report.rows > 0
    assert report.mismatches == 0, report.mismatch_examples[:3]
    assert report.unknown_order_refs == 0


def test_a_window_without_messages_is_a_data_error(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no message between 17:00 and 17:30"):
        cut_lobster(data_dir / AAPL, 61_200_000, 63_000_000, tmp_path)


def _two_blocks(folder: Path) -> Path:
    text = EXAMPLE.read_text().replace('base = "lobster_aapl.toml"', f'base = "{EXAMPLE.parent / "lobster_aapl.toml"}"')
    text = text.replace('session = ["09:30", "16:00"]', 'session = ["10:00", "11:30"]')
    path = folder / "intraday.toml"
    path.write_text(text)
    return path


def test_an_intraday_walk_forward_is_deterministic_and_resumes_without_rerunning(
    data_dir: Path, tmp_path: Path
) -> None:
    sweep = load_sweep(_two_blocks(tmp_path))  # 3 blocks x 2 thresholds, 1 fold
    assert len(sweep.tasks) == 6
    a = run_sweep(sweep, InProcess(), tmp_path / "a.parquet")
    b = run_sweep(sweep, InProcess(), tmp_path / "b.parquet")
    assert [r.status for r in a.results] == ["ok"] * 6, [r.error for r in a.results]
    strip = [(r.key, r.metrics, r.equity_ts, r.equity) for r in a.results]
    assert strip == [(r.key, r.metrics, r.equity_ts, r.equity) for r in b.results]
    assert a.walk_forward == b.walk_forward and len(a.walk_forward) == 1
    again = run_sweep(sweep, InProcess(), tmp_path / "a.parquet", resume=True)
    assert (again.ran, again.resumed) == (0, 6)
