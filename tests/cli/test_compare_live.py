"""``tapeflow compare --push-pull --live URL``: a table at 80 columns or one JSON object, measured on a paced paper
venue; a bad URL, interval or argument is one line on stderr and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tapeflow.cli import app
from tapeflow.paper.server import PaperServer

from ..live.paced import KEY, SECRET, paced_paper

runner = CliRunner()


@pytest.fixture(scope="module")
def venue(data_dir: Path) -> Iterator[PaperServer]:
    with paced_paper(data_dir, "10x") as server:
        yield server


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.setenv("COLUMNS", "80")


def test_live_push_pull_json_is_one_object_with_the_blind_spot(venue: PaperServer) -> None:
    args = ["compare", "--push-pull", "--live", venue.urls.rest, "--symbols", "aapl", "--poll-ms", "50"]
    result = runner.invoke(app, [*args, "--seconds", "1.5", "--json"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["mode"] == "live" and report["symbols"] == ["AAPL"] and report["poll_ms"] == 50
    assert report["stream_url"].endswith("/v2/iex")
    pull = report["pull"]
    assert pull["polls"] >= 10 and pull["quotes"] > 0
    assert pull["quotes_never_seen"] > 0  # 10x the AAPL day: more changes than 20 polls a second can see
    assert {"reaction_delay_p50_us", "reaction_delay_p90_us", "reaction_delay_p99_us"} <= pull.keys()
    assert report["blind_spot"].startswith("polling every 50 ms never saw")


def test_live_push_pull_table_names_the_measures_and_fits_80_columns(venue: PaperServer) -> None:
    args = ["compare", "--push-pull", "--live", venue.urls.rest, "--symbols", "AAPL", "--poll-ms", "100"]
    result = runner.invoke(app, [*args, "--seconds", "1"])
    assert result.exit_code == 0, result.output
    for words in ("quotes never seen", "prices never known", "reaction delay, p99", "blind spot: polling every 100"):
        assert words in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80


def _one_line_exit_2(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "tapeflow", "compare", *args], capture_output=True, text=True, check=False, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--live", "127.0.0.1:5000", "--symbols", "AAPL"], "http(s)://HOST:PORT"),
        (["--live", "http://127.0.0.1:9", "--symbols", "AAPL", "--poll-ms", "0"], "--poll-ms must be at least 1"),
        (["--live", "http://127.0.0.1:9", "--symbols", "AAPL", "--seconds", "-1"], "--seconds must be positive"),
        (["--live", "http://127.0.0.1:9"], "name the symbols"),
        (["x.toml", "--live", "http://127.0.0.1:9", "--symbols", "AAPL"], "give no CONFIG"),
        ([], "name a CONFIG.toml"),
    ],
)
def test_a_bad_live_comparison_is_one_line_and_exit_2(args: list[str], says: str) -> None:
    assert says in _one_line_exit_2("--push-pull", *args)


def test_a_venue_that_is_not_there_is_one_line_and_exit_2() -> None:
    args = ["--live", "http://127.0.0.1:9", "--symbols", "AAPL", "--connect-timeout", "1"]
    line = _one_line_exit_2("--push-pull", *args)
    assert "did not connect" in line
