"""The calibration page's figure builders on hand-built ``--json`` dicts where every plotted value is known: each
trace holds the JSON's numbers at the right level, model or preset, a missing cell is a gap (not a zero), and the
latency error bars reach the range across windows exactly."""

from __future__ import annotations

from typing import Any

import pytest

from tapeflow.calibration.figures import (
    agreement_chart,
    calibration_charts,
    chart_id,
    confusion_chart,
    fill_prob_chart,
    ttf_error_chart,
)
from tapeflow.calibration.latency_figures import latency_charts, markout_chart, measure_chart, preset_label


def _score(model: str, symbol: str, level: int, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "model": model,
        "symbol": symbol,
        "level": level,
        "probes": 10,
        "fill_prob": 0.5,
        "truth_fill_prob": 0.6,
        "both": 5,
        "model_only": 0,
        "truth_only": 1,
        "neither": 4,
        "agreement": 0.9,
        "mean_ttf_s": 12.0,
        "median_ttf_s": 10.0,
        "mae_ttf_s": 2.0,
        "median_ae_ttf_s": 1.0,
    }
    return row | over


def _calibration() -> dict[str, Any]:
    """AMZN at levels 1 and 2 (and pooled); BACK has no row at level 2 (as when no probe was scored there)."""
    scores = [
        _score("L3", "AMZN", 0, fill_prob=0.6, both=6, truth_only=0, agreement=1.0, mae_ttf_s=0.0),
        _score("FRONT", "AMZN", 0, fill_prob=0.7, both=6, model_only=1, truth_only=0, neither=3, agreement=0.9),
        _score("BACK", "AMZN", 0, fill_prob=0.4, both=4, truth_only=2, neither=4, agreement=0.8, mae_ttf_s=None),
        _score("L3", "AMZN", 1, truth_fill_prob=0.8, fill_prob=0.8),
        _score("FRONT", "AMZN", 1, truth_fill_prob=0.8, fill_prob=0.9, mae_ttf_s=3.5, median_ae_ttf_s=0.25),
        _score("BACK", "AMZN", 1, truth_fill_prob=0.8, fill_prob=0.1, mae_ttf_s=7.0, median_ae_ttf_s=6.0),
        _score("L3", "AMZN", 2, truth_fill_prob=0.3, fill_prob=0.3),
        _score("FRONT", "AMZN", 2, truth_fill_prob=0.3, fill_prob=0.2, agreement=0.7),
    ]
    return {
        "seed": 1,
        "horizon_s": 60,
        "window": ["09:40", "09:43"],
        "models": ["FRONT", "BACK"],
        "days": [
            {
                "symbol": "AMZN",
                "day": "2012-06-21",
                "depth": 5,
                "file": "a.zip",
                "probes": 12,
                "placed": 11,
                "scored": 10,
            }
        ],
        "scores": scores,
        "unplaced": {"AMZN": {"5": 1}},
        "unseen": {"AMZN": {"2": 1}},
        "best": {"AMZN": "FRONT"},
    }


def _traces(chart: Any) -> dict[tuple[str, str], list[Any]]:
    return {(t["name"], t.get("meta", "")): t["y"] for t in chart.figure["data"]}


def test_fill_probability_puts_the_truth_first_then_each_model_by_level_with_a_gap_where_a_model_has_no_row() -> None:
    chart = fill_prob_chart(_calibration(), "AMZN")
    data = chart.figure["data"]
    assert [t["name"] for t in data] == ["truth (L3 FIFO)", "FRONT", "BACK"]  # the L3 check row is the truth
    assert all(t["x"] == ["L1", "L2", "all"] for t in data)
    assert data[0]["y"] == [0.8, 0.3, 0.6]
    assert data[1]["y"] == [0.9, 0.2, 0.7]
    assert data[2]["y"] == [0.1, None, 0.4]


def test_the_time_to_fill_error_shows_mean_above_and_median_below_per_model_and_level() -> None:
    chart = ttf_error_chart(_calibration(), "AMZN")
    traces = _traces(chart)
    assert traces[("FRONT", "mae_ttf_s")] == [3.5, 2.0, 2.0]
    assert traces[("FRONT", "median_ae_ttf_s")] == [0.25, 1.0, 1.0]
    assert traces[("BACK", "mae_ttf_s")] == [7.0, None, None]
    axes = {(t["name"], t["meta"]): t["yaxis"] for t in chart.figure["data"]}
    assert axes[("FRONT", "mae_ttf_s")] == "y" and axes[("FRONT", "median_ae_ttf_s")] == "y2"
    assert sum(t["showlegend"] for t in chart.figure["data"]) == 2  # one legend entry per model


def test_the_confusion_stacks_the_four_outcomes_per_model_over_all_levels_and_adds_up_to_the_probes() -> None:
    chart = confusion_chart(_calibration(), "AMZN")
    assert chart.figure["layout"]["barmode"] == "stack"
    traces = {t["meta"]: t for t in chart.figure["data"]}
    assert list(traces) == ["both", "model_only", "truth_only", "neither"]
    assert traces["both"]["x"] == ["L3", "FRONT", "BACK"]
    assert traces["model_only"]["y"] == [0, 1, 0] and traces["truth_only"]["y"] == [0, 0, 2]
    for i in range(3):
        assert sum(t["y"][i] for t in traces.values()) == 10


def test_the_agreement_map_is_model_by_level_and_names_the_best_model() -> None:
    chart = agreement_chart(_calibration(), "AMZN")
    (trace,) = chart.figure["data"]
    assert trace["y"] == ["FRONT", "BACK"] and trace["x"] == ["L1", "L2", "all"]
    assert trace["z"] == [[0.9, 0.7, 0.9], [0.9, None, 0.8]]
    assert trace["text"][1] == ["0.90", "-", "0.80"]
    assert "best over all levels: FRONT" in chart.figure["layout"]["title"]["text"]


def test_every_symbol_gets_its_four_charts_under_ids_safe_for_html() -> None:
    data = _calibration()
    data["scores"] += [dict(r, symbol="BRK.B") for r in data["scores"]]
    names = [c.name for c in calibration_charts(data)]
    assert names == [
        f"{kind}-{sym}" for sym in ("AMZN", "BRK_B") for kind in ("fill-prob", "ttf-error", "confusion", "agreement")
    ]
    assert chart_id("a b/c") == "a_b_c"


def _row(role: str, location: str, entry: float, pnl: list[float], markout: list[float] | None) -> dict[str, Any]:
    mean_pnl = sum(pnl) / len(pnl)
    mean: dict[str, float | None] = {"pnl_dollars": mean_pnl, "fill_rate": 0.5, "slippage_bps": 1.0}
    rng: dict[str, list[float] | None] = {"pnl_dollars": [min(pnl), max(pnl)], "fill_rate": [0.4, 0.6]}
    rng["slippage_bps"] = [1.0, 1.0]
    for h in (1, 10, 60):
        mean[f"markout_{h}s_bps"] = None if markout is None else sum(markout) / len(markout) * h
        rng[f"markout_{h}s_bps"] = None if markout is None else [min(markout) * h, max(markout) * h]
    strategy = "quoter" if role == "passive" else "crosser"
    return {"role": role, "strategy": strategy, "location": location, "order_entry_us": entry, "mean": mean} | {
        "range": rng,
        "windows": [],
    }


def _study() -> dict[str, Any]:
    rows = [
        _row("passive", "colo", 6.3, [-10.0, -20.0, -60.0], [-1.0, -3.0]),
        _row("passive", "san_jose", 26015.7, [-40.0, -50.0], None),  # no fill could be marked out
        _row("aggressive", "colo", 6.3, [5.0, 7.0], [0.5, 1.5]),
        _row("aggressive", "san_jose", 26015.7, [1.0, 3.0], [0.25, 0.75]),
    ]
    return {
        "base": "/x/lobster_aapl.toml",
        "locations": ["colo", "san_jose"],
        "windows": [1000, 2000],
        "horizons_s": [1, 10, 60],
        "rows": rows,
        "checks": [],
    }


def test_a_latency_measure_is_a_trace_per_strategy_whose_bars_reach_the_range_across_windows() -> None:
    chart = measure_chart(_study(), "pnl_dollars", "pnl", "PnL", "PnL $", "")
    passive, aggressive = chart.figure["data"]
    assert passive["name"] == "passive (quoter)" and aggressive["name"] == "aggressive (crosser)"
    assert passive["x"] == ["colo (6.3 us)", "san_jose (26,015.7 us)"]
    assert passive["y"] == pytest.approx([-30.0, -45.0])
    bars = passive["error_y"]
    assert [y + up for y, up in zip(passive["y"], bars["array"], strict=True)] == pytest.approx([-10.0, -40.0])
    assert [y - down for y, down in zip(passive["y"], bars["arrayminus"], strict=True)] == pytest.approx([-60.0, -50.0])


def test_the_markouts_of_a_strategy_are_a_trace_per_horizon_with_a_gap_where_nothing_was_measured() -> None:
    chart = markout_chart(_study(), "passive", "quoter")
    assert [t["name"] for t in chart.figure["data"]] == ["1 s", "10 s", "60 s"]
    ten = chart.figure["data"][1]
    assert ten["y"] == [pytest.approx(-20.0), None]
    assert ten["error_y"]["array"] == [pytest.approx(10.0), 0.0] and ten["error_y"]["arrayminus"][1] == 0.0
    assert "markouts 1 s, 10 s, 60 s" in chart.title


def test_the_latency_page_has_three_measures_and_a_markout_chart_per_strategy() -> None:
    names = [c.name for c in latency_charts(_study())]
    assert names == [
        "latency-pnl",
        "latency-fill-rate",
        "latency-slippage",
        "latency-markouts-passive-quoter",
        "latency-markouts-aggressive-crosser",
    ]
    assert preset_label({"location": "aurora", "order_entry_us": 7516.1}) == "aurora (7,516.1 us)"
