"""The sweep page in a real chromium: a real sweep (synthetic walk-forward, two swept parameters, one task made to
fail) renders every chart with no console error and no request, its heatmap holds the results table's numbers
aggregated over symbol-days, the folds are there and the failed task is listed with its error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pyarrow.parquet as pq
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tapeflow.report.sweep_page import write_sweep_page
from tapeflow.sweep import load_sweep, run_sweep
from tapeflow.sweep.config import TaskSpec
from tapeflow.sweep.task import TaskResult, run_task, task_result
from tests.sweep.helpers import InProcess, write_sweep

from .harness import assert_not_blank, console_errors, open_drawn

SWEEP = """
[sweep]
seed = 1
retries = {retries}
seeds = [1, 2, 3, 4]

[sweep.grid]
"strategy.params.threshold" = [0.2, 0.6]
"exchange.queue_model" = ["FRONT", "BACK"]

[sweep.walk_forward]
train = 2
test = 1
step = 1
metric = "pnl_units"
"""
BROKEN = '*/seed=4|strategy.params.threshold=0.2,exchange.queue_model="BACK"'


def _task(spec: TaskSpec) -> TaskResult:
    if spec.key == BROKEN:
        return task_result(spec, "failed", 2, "RuntimeError: made to fail by the test", 0.0)
    return run_task(spec)


@pytest.fixture(scope="module")
def sweep_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("sweep_page")
    sweep = load_sweep(write_sweep(folder, SWEEP, events=1500).as_posix())
    assert BROKEN in {t.key for t in sweep.tasks}
    out = folder / "sweep.parquet"
    run_sweep(sweep, InProcess(), out, task=_task)
    page = write_sweep_page(out, folder / "sweep.html")
    yield Path(page.path), out


def test_the_sweep_page_draws_every_chart_offline_with_no_console_error_and_no_request(
    page: webdriver.Chrome, sweep_page: tuple[Path, Path]
) -> None:
    path, _ = sweep_page
    open_drawn(page, path)
    shown = page.execute_script("return [...document.querySelectorAll('section[id^=chart-]')].map(s => s.id)")
    assert shown == ["chart-heatmap-0", "chart-walk-forward-equity", "chart-walk-forward-decay"]
    for name in shown:
        plot = page.find_element(By.ID, name.replace("chart-", "plot-"))
        assert page.execute_script("return arguments[0].data.length", plot) > 0, name
        assert_not_blank(plot)
    assert page.execute_script("return performance.getEntriesByType('resource').length") == 0
    sources = page.execute_script(
        "return [...document.querySelectorAll('script[src], link[href], img[src], iframe')].length"
    )
    assert sources == 0
    assert console_errors(page) == []


def test_the_heatmap_cells_are_the_tables_pnl_summed_over_symbol_days(
    page: webdriver.Chrome, sweep_page: tuple[Path, Path]
) -> None:
    path, table_path = sweep_page
    open_drawn(page, path)
    drawn = page.execute_script("var d = document.getElementById('plot-heatmap-0').data[0]; return [d.x, d.y, d.z]")
    sums: dict[tuple[str, str], int | None] = {}
    for row in pq.read_table(table_path).to_pylist():
        params = msgspec.json.decode(row["params"])
        cell = (repr(params["strategy.params.threshold"]), params["exchange.queue_model"])
        if row["status"] != "ok" or (cell in sums and sums[cell] is None):
            sums[cell] = None
        else:
            sums[cell] = sums.get(cell, 0) + row["pnl_units"]  # type: ignore[operator]
    xs, ys, z = drawn
    assert (xs, ys) == (["0.2", "0.6"], ["FRONT", "BACK"])
    expected = [[None if sums[(x, y)] is None else sums[(x, y)] / 10_000 for x in xs] for y in ys]  # type: ignore[operator]
    assert z == [[pytest.approx(v) if v is not None else None for v in row] for row in expected]
    assert z[1][0] is None  # threshold 0.2 BACK: its seed=4 task failed
    assert sum(v is not None for row in z for v in row) == 3


def test_the_failed_task_is_listed_with_its_error_and_the_folds_are_shown(
    page: webdriver.Chrome, sweep_page: tuple[Path, Path]
) -> None:
    path, table_path = sweep_page
    open_drawn(page, path)
    listed = page.execute_script(
        "return [...document.querySelectorAll('#failed tr[data-key]')].map(r => [r.dataset.key, r.innerText])"
    )
    failed = [r["key"] for r in pq.read_table(table_path).to_pylist() if r["status"] != "ok"]
    assert [key for key, _ in listed] == failed == [BROKEN]
    assert "made to fail by the test" in listed[0][1]
    folds = page.execute_script("return [...document.querySelectorAll('#folds tr[data-fold]')].length")
    assert folds == 2
    assert console_errors(page) == []
