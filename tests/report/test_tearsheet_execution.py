"""Tear sheet phase 2: fills on the price with the bid/ask band, slippage split, queue and time to fill, latency
per leg, and risk refusals by rule (checked against the run that made them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest

from tapeflow.backtest.config import load_backtest_config
from tapeflow.report.figures_orders import latency_legs, queue_chart
from tapeflow.report.fill_costs import fill_costs
from tapeflow.report.run_data import RunData, Table, load_run
from tapeflow.report.tearsheet import build_tearsheet
from tapeflow.venues.sim.latency import OrderAction
from tests.report.tearsheet_pages import figures, synthetic_run, trace_points, values


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunData, dict[str, Any], str, Path]:
    folder = tmp_path_factory.mktemp("execution") / "results"
    report = synthetic_run(folder)
    data = load_run(folder)
    return data, report, build_tearsheet(data), folder.parent / "synthetic.toml"


def test_a_quoter_run_has_every_execution_chart_with_points_in_every_trace(
    run: tuple[RunData, dict[str, Any], str, Path],
) -> None:
    figs = figures(run[2])
    for name in ("price", "depth", "slippage", "queue", "latency", "rejections"):
        assert name in figs, f"chart {name} missing"
        assert figs[name]["data"], name
        assert all(trace_points(t) > 0 for t in figs[name]["data"]), name


def test_every_fill_is_on_the_price_chart_inside_the_band_s_time_range(
    run: tuple[RunData, dict[str, Any], str, Path],
) -> None:
    data, report, page, _ = run
    traces = {t["name"]: t for t in figures(page)["price"]["data"]}
    shown = trace_points(traces["buy fills"]) + trace_points(traces["sell fills"])
    assert shown == report["summary"]["fills"]
    assert trace_points(traces["bid"]) == trace_points(traces["ask"]) > 100
    assert traces["ask"]["fill"] == "tonexty"
    buys = sorted(values(traces["buy fills"]["y"]))
    fills = data.tables["fills"]
    assert buys == sorted(
        (p / 10_000 for p, s in zip(fills.ints("price"), fills.strings("side"), strict=True) if s == "BUY")
    )


def test_slippage_parts_add_up_to_the_total_and_the_total_is_the_summary_s(
    run: tuple[RunData, dict[str, Any], str, Path],
) -> None:
    data, report, _, _ = run
    costs = fill_costs(data)
    assert costs is not None and costs.left_out == 0
    assert (costs.spread_x2 + costs.latency_x2 + costs.depth_walk_x2 == costs.total_x2).all()
    average = (costs.total_x2 * costs.quantity).sum() / costs.quantity.sum() / 2
    assert average == pytest.approx(report["summary"]["avg_slippage_units"], rel=1e-12)
    assert (costs.spread_x2[costs.maker] <= 0).all()  # a maker earns the half spread


def test_latency_legs_are_the_configured_model_s_delays(run: tuple[RunData, dict[str, Any], str, Path]) -> None:
    data, _, _, config = run
    model = load_backtest_config(config).latency.build()
    legs = latency_legs(data)
    assert set(legs["compute"].tolist()) == {model.compute_delay()}
    assert set(legs["order entry"].tolist()) == {model.entry_delay(OrderAction.INSERT)}
    assert len(legs["ack"]) and (legs["ack"] >= model.response_delay(OrderAction.INSERT)).all()
    assert set(legs["feed"].tolist()) == {model.feed_delay()}


def test_refusals_are_drawn_one_marker_each_under_their_rule(run: tuple[RunData, dict[str, Any], str, Path]) -> None:
    _, report, page, _ = run
    counts = {r["rule"]: r["count"] for r in report["risk_rejections"]}
    assert counts, "the quoter's refusals (short_locate, duplicate_order) should be there"
    traces = figures(page)["rejections"]["data"]
    drawn = {t["name"].split(" ")[0]: trace_points(t) for t in traces}
    assert drawn == counts
    for trace in traces:
        assert set(values(trace["y"])) == {trace["name"].split(" ")[0]}


def test_time_to_fill_counts_each_filled_order_once(run: tuple[RunData, dict[str, Any], str, Path]) -> None:
    data, _, page, _ = run
    fills = data.tables["fills"]
    filled_orders = len(set(zip(fills.strings("strategy_id"), fills.strings("client_order_id"), strict=True)))
    waits = figures(page)["queue"]["data"][0]
    assert trace_points(waits) == filled_orders
    assert min(values(waits["x"])) >= 0


def test_alerts_in_the_run_become_a_table_of_them(run: tuple[RunData, dict[str, Any], str, Path]) -> None:
    data = run[0]
    alert = {"kind": "spoofing", "symbol": "AAPL", "ts": 1_718_976_600_000_000_000, "strategy_id": "q", "summary": "x"}
    with_alerts = RunData(folder=data.folder, run=data.run | {"compliance_alerts": [alert]}, tables=data.tables)
    table = figures(build_tearsheet(with_alerts))["alerts"]["data"][0]
    assert table["type"] == "table"
    assert [column[0] for column in table["cells"]["values"]] == [
        "2024-06-21 09:30:00 EDT",
        "spoofing",
        "AAPL",
        "q",
        "x",
    ]
    assert "alerts" not in figures(run[2])


def test_a_bar_run_without_a_sampled_book_draws_no_empty_trace(tmp_path: Path) -> None:
    data = load_run(_bars_folder(tmp_path))
    for name, fig in figures(build_tearsheet(data)).items():
        assert all(trace_points(t) > 0 for t in fig["data"]), name


def _bars_folder(tmp_path: Path) -> Path:
    """A synthetic run's folder with its market samples removed, as a bar run has none."""
    folder = tmp_path / "results"
    synthetic_run(folder, events=2_000)
    for stem in ("top", "depth", "order_marks"):
        (folder / f"{stem}.parquet").unlink()
    return folder


def test_every_trace_time_is_new_york_time(run: tuple[RunData, dict[str, Any], str, Path]) -> None:
    xs = values(next(t for t in figures(run[2])["price"]["data"] if t["name"] == "bid")["x"])
    hours = {int(str(x)[11:13]) for x in xs}
    assert hours <= set(range(9, 17)) and 9 in hours  # 09:30-16:00 New York, not 13:30-20:00 UTC
    assert np.all(np.diff(np.asarray(xs, dtype="datetime64[ns]")) > np.timedelta64(0, "ns"))


def test_queue_chart_shows_the_venue_s_exact_queue_ahead_when_the_fills_carry_it(
    run: tuple[RunData, dict[str, Any], str, Path],
) -> None:
    data = run[0]
    fills = data.tables["fills"]
    keys = list(zip(fills.strings("strategy_id"), fills.strings("client_order_id"), strict=True))
    exact: dict[tuple[str, str], int] = {}
    for key, value in zip(keys, fills.ints("queue_ahead_at_arrival").tolist(), strict=True):
        if value >= 0:
            exact.setdefault(key, value)
    assert len(exact) > 10, "the quoter's maker fills should carry the simulated exchange's queue"
    chart = queue_chart(data, None)
    assert chart is not None
    scatter = chart.figure["data"][1]
    assert sorted(values(scatter["x"])) == sorted(exact.values())
    assert "exact" in chart.figure["layout"]["xaxis2"]["title"]["text"]
    assert f"{len(exact):,} exact" in chart.note and "), 0 derived" in chart.note


def test_queue_chart_falls_back_to_the_derived_estimate_for_results_without_the_column(
    run: tuple[RunData, dict[str, Any], str, Path],
) -> None:
    data = run[0]
    old_fills = Table(pq.read_table(Path(data.folder) / "fills.parquet").drop_columns(["queue_ahead_at_arrival"]))
    old = RunData(folder=data.folder, run=data.run, tables=data.tables | {"fills": old_fills})
    chart = queue_chart(old, None)
    assert chart is not None
    assert "(derived)" in chart.figure["layout"]["xaxis2"]["title"]["text"]
    assert "Shares ahead: 0 exact" in chart.note
