"""The calibration pages without a browser: one offline file in the tear sheet's shell, its figures and tables
read from the ``--json`` dict, the same dict giving the same bytes."""

from __future__ import annotations

import html
import re
from pathlib import Path

import plotly.offline  # type: ignore[import-untyped]

from tapeflow.calibration.figures import calibration_charts
from tapeflow.calibration.latency_figures import latency_charts
from tapeflow.calibration.page import build_calibration_page, build_latency_page, write_calibration_page
from tests.calibration.calibration_pages import figures

from .test_figures import _calibration, _study


def _offline(page: str) -> None:
    bundle = plotly.offline.get_plotlyjs()
    assert page.count(bundle) == 1
    own = page.replace(bundle, "")
    assert not re.search(r"https?://", own), re.search(r".{80}https?://.{80}", own)
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I)
    assert not re.search(r"<link\b", page, re.I)


def test_the_calibration_page_embeds_each_chart_as_built_and_opens_offline() -> None:
    data = _calibration()
    page = build_calibration_page(data)
    _offline(page)
    embedded = figures(page)
    charts = calibration_charts(data)
    assert list(embedded) == [c.name for c in charts]
    for chart in charts:
        assert embedded[chart.name]["data"] == chart.figure["data"], chart.name
    sections = re.findall(r'<section id="([^"]+)"', page)
    assert sections == ["table-days", "table-best", *(f"chart-{c.name}" for c in charts)]


def test_the_calibration_page_tables_show_the_days_and_the_best_model_of_each_symbol() -> None:
    page = build_calibration_page(_calibration())
    assert re.search(r'<tr data-symbol="AMZN" data-model="FRONT"><td>AMZN</td><td>FRONT</td></tr>', page)
    day = re.search(r'<tr data-symbol="AMZN" data-day="2012-06-21">(.*?)</tr>', page)
    assert day is not None
    cells = [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", day[1])]
    assert cells == ["AMZN", "2012-06-21", "L5", "a.zip", "12", "11", "10", "L5: 1", "L2: 1"]


def test_the_latency_page_embeds_its_charts_and_the_checks_table() -> None:
    data = _study()
    data["checks"] = [
        {"role": "passive", "strategy": "quoter", "measure": "markout_1s_bps", "values": [-2.0, None]}
        | {"tolerance": 0.05, "holds": True}
    ]
    page = build_latency_page(data)
    _offline(page)
    assert list(figures(page)) == [c.name for c in latency_charts(data)]
    row = re.search(r'<tr data-role="passive" data-measure="markout_1s_bps">(.*?)</tr>', page)
    assert row is not None
    assert re.findall(r"<td>(.*?)</td>", row[1]) == [
        "passive",
        "quoter",
        "markout_1s_bps",
        "-2.000, -",
        "0.05",
        "holds",
    ]
    assert "base: lobster_aapl.toml" in page


def test_the_latency_checks_table_shows_each_value_with_its_standard_error_and_the_se_allowance() -> None:
    data = _study()
    data["checks"] = [
        {"role": "passive", "strategy": "quoter", "measure": "markout_1s_bps", "values": [-2.0, None, -1.5]}
        | {"tolerance": 0.05, "holds": True, "ses": [0.25, None, None], "se_multiple": 2.0}
    ]
    row = re.search(r'<tr data-role="passive" data-measure="markout_1s_bps">(.*?)</tr>', build_latency_page(data))
    assert row is not None
    cells = [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", row[1])]
    assert cells[3:] == ["-2.000 ± 0.250, -, -1.500", "0.05 | 2 SE", "holds"]


def test_the_same_dict_gives_the_same_bytes_and_the_file_is_written_whole(tmp_path: Path) -> None:
    data = _calibration()
    out = write_calibration_page(data, tmp_path / "cal.html")
    assert out.read_text() == build_calibration_page(data) == build_calibration_page(_calibration())
    assert [p.name for p in tmp_path.iterdir()] == ["cal.html"]  # no temporary file left beside it
