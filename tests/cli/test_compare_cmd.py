"""``tapeflow compare CONFIG --out DIR --report``: the event-driven run's results folder carries the comparison, and
its tear sheet draws it with the numbers the command prints (real NVDA bars; skips without the shared data)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tapeflow.cli import app
from tapeflow.cli.backtest_cmd import bare_report
from tapeflow.report.run_data import load_run
from tests.report.tearsheet_pages import figures, trace_points, values

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "compare_nvda.toml"


def compare_to_folder(folder: Path, data_dir: Path, *extra: str) -> dict[str, Any]:
    """Run the command with ``--json --out folder`` plus ``extra``; its JSON output."""
    result = CliRunner().invoke(
        app, ["compare", str(EXAMPLE), "--json", "--out", str(folder), *extra], env={"TAPEFLOW_DATA": str(data_dir)}
    )
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)
    return out


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("compare") / "results"
    return folder, compare_to_folder(folder, data_dir, "--report=")


def test_compare_out_writes_the_results_folder_with_the_printed_comparison_in_run_json(
    saved: tuple[Path, dict[str, Any]],
) -> None:
    folder, printed = saved
    for name in ("orders.parquet", "fills.parquet", "equity.parquet", "run.json", "top.parquet"):
        assert (folder / name).is_file(), name
    run = load_run(folder).run
    shown = {k: v for k, v in printed.items() if k not in ("written", "report")}
    assert run["comparison"] == shown
    assert printed["written"] and all(Path(p).parent == folder for p in printed["written"])


def test_compare_out_folder_is_the_event_driven_side_of_the_comparison(saved: tuple[Path, dict[str, Any]]) -> None:
    """The folder's run (the configured assembly) fills as the comparison's event-driven run: same trades, same
    final equity; else the tear sheet would show one run's equity beside another's comparison."""
    folder, printed = saved
    summary = load_run(folder).run["summary"]
    assert summary["fills"] == printed["event_driven"]["trades"] > 50
    assert summary["final_equity_units"] == printed["event_driven"]["final_equity_units"]


def test_compare_report_page_draws_the_comparison_with_the_printed_numbers(saved: tuple[Path, dict[str, Any]]) -> None:
    folder, printed = saved
    page = Path(printed["report"])
    assert page == folder / "report.html"
    fig = figures(page.read_text())["comparison"]
    bars, pairs = fig["data"]
    assert values(bars["y"]) == pytest.approx(
        [printed["vectorized"]["total_return"] * 100, printed["event_driven"]["total_return"] * 100]
    )
    assert trace_points(pairs) == len(printed["paired_trades"]) > 0
    assert values(pairs["y"]) == pytest.approx([p["price_difference"] / 10_000 for p in printed["paired_trades"]])


def test_compare_report_without_out_puts_the_results_beside_the_page(tmp_path: Path, data_dir: Path) -> None:
    page = tmp_path / "cmp.html"
    result = CliRunner().invoke(
        app, ["compare", str(EXAMPLE), "--json", "--report", str(page)], env={"TAPEFLOW_DATA": str(data_dir)}
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["report"] == str(page)
    assert "comparison" in figures(page.read_text())
    assert "comparison" in load_run(tmp_path / "cmp.results").run


def test_compare_out_on_a_file_is_refused_before_running(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRunner().invoke(app, ["compare", str(EXAMPLE), "--json", "--out", str(blocker)])
    assert result.exit_code == 2
    assert "not a folder" in result.stdout


def test_compare_out_with_push_pull_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["compare", str(EXAMPLE), "--push-pull", "--json", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "--push-pull" in result.stdout
    assert not any(tmp_path.iterdir())


def test_bare_report_after_compare_becomes_an_empty_value() -> None:
    assert bare_report(["compare", "c.toml", "--report"]) == ["compare", "c.toml", "--report="]
    assert bare_report(["compare", "c.toml", "--report", "--json"]) == ["compare", "c.toml", "--report=", "--json"]
    assert bare_report(["report", "dir", "--report"]) == ["report", "dir", "--report"]
