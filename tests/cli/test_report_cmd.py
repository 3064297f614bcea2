"""``tapeflow report`` and ``tapeflow backtest --report``: the page is written, bad paths are one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tapeflow.cli import app
from tapeflow.cli.backtest_cmd import bare_report
from tests.report.tearsheet_pages import SYNTHETIC, figures, synthetic_run

runner = CliRunner()


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli") / "results"
    synthetic_run(folder, events=3_000)
    return folder


def test_report_writes_the_page_and_json_says_where_and_how_big(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "page.html"
    result = runner.invoke(app, ["report", str(results), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    said = json.loads(result.stdout)
    assert said == {"report": str(out), "bytes": out.stat().st_size}
    assert "equity" in figures(out.read_text())


def test_report_without_output_writes_report_html_in_the_results_folder(results: Path) -> None:
    result = runner.invoke(app, ["report", str(results)])
    assert result.exit_code == 0, result.output
    assert (results / "report.html").is_file()


def test_report_of_a_folder_that_is_no_results_is_one_line_and_exit_two(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(tmp_path), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "results folder without orders.parquet" in lines[0], result.stderr
    assert not (tmp_path / "r.html").exists()


def test_report_of_a_missing_folder_names_it_not_the_page_inside_it(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {tmp_path / 'nope'}: not a results folder (run `tapeflow backtest CONFIG --out FOLDER` first)"
    )


def test_report_to_a_folder_is_refused_with_exit_two(results: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(results), "-o", str(tmp_path)])
    assert result.exit_code == 2 and "is a folder" in result.stderr


def test_backtest_report_path_writes_results_beside_the_page_then_the_page(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(SYNTHETIC.format(events=3_000))
    page = tmp_path / "run.html"
    result = runner.invoke(app, ["backtest", str(config), "--report", str(page), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["report"] == str(page)
    assert (tmp_path / "run.results" / "run.json").is_file()
    assert set(figures(page.read_text())) >= {"equity", "returns"}


def test_backtest_bare_report_puts_the_page_in_the_out_folder(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(SYNTHETIC.format(events=3_000))
    args = bare_report(["backtest", str(config), "--out", str(tmp_path / "res"), "--report", "--json"])
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["report"] == str(tmp_path / "res" / "report.html")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["backtest", "c.toml", "--report"], ["backtest", "c.toml", "--report="]),
        (["backtest", "c.toml", "--report", "--json"], ["backtest", "c.toml", "--report=", "--json"]),
        (["backtest", "c.toml", "--report", "p.html"], ["backtest", "c.toml", "--report", "p.html"]),
        (["report", "r", "--report"], ["report", "r", "--report"]),
    ],
)
def test_bare_report_gets_an_empty_value_only_when_no_path_follows(args: list[str], expected: list[str]) -> None:
    assert bare_report(args) == expected
