"""The sweep page from the command line: ``tapeflow sweep ... --report`` writes it beside the table, ``tapeflow
report TABLE.parquet`` writes it from a finished sweep (``--metric``, ``--x``, ``--y``); a bad choice is exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tapeflow.cli import app
from tests.sweep.helpers import write_sweep

RUN = ["--executor", "processes", "--workers", "1", "--json"]


def test_sweep_with_report_writes_the_page_beside_the_table_and_says_where(tmp_path: Path) -> None:
    path, out = write_sweep(tmp_path, events=1000), tmp_path / "runs" / "grid.parquet"
    result = CliRunner().invoke(app, ["sweep", str(path), *RUN, "-o", str(out), "--report"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["report"] == str(out.with_suffix(".html"))
    page = out.with_suffix(".html").read_text()
    assert 'id="fig-heatmap-0"' in page and 'id="fig-heatmap-1"' in page  # the third parameter: one map per value
    assert "No task failed." in page


def test_report_on_a_sweep_table_writes_the_page_with_the_chosen_metric_and_axes(tmp_path: Path) -> None:
    path, out = write_sweep(tmp_path, events=1000), tmp_path / "grid.parquet"
    assert CliRunner().invoke(app, ["sweep", str(path), *RUN, "-o", str(out)]).exit_code == 0
    page = tmp_path / "page.html"
    args = ["report", str(out), "-o", str(page), "--metric", "fills", "--x", "exchange.queue_model", "--json"]
    args += ["--y", "data.synthetic.seed"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["report"] == str(page)
    text = page.read_text()
    assert "metric: fills; heatmap axes: exchange.queue_model (x), data.synthetic.seed (y)" in text
    assert "fills (sum over slices) at strategy.params.threshold=0.2" in text


def test_an_unknown_metric_for_a_sweep_page_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path, out = write_sweep(tmp_path, events=1000), tmp_path / "grid.parquet"
    assert CliRunner().invoke(app, ["sweep", str(path), *RUN, "-o", str(out)]).exit_code == 0
    result = CliRunner().invoke(app, ["report", str(out), "--metric", "profit"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "unknown metric 'profit'" in lines[0]
    assert not out.with_suffix(".html").exists()


def test_sweep_options_on_a_run_folder_are_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(tmp_path), "--metric", "sharpe"])
    assert result.exit_code == 2, result.output
    assert "for a sweep's results table" in result.stderr
