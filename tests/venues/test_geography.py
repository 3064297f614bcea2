"""Geography presets: distances, media, the preset invariant, and the ``tapeflow latency`` command."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tapeflow.cli import app
from tapeflow.model.errors import ConfigError
from tapeflow.venues import geography as geo
from tapeflow.venues.sim.latency import OrderAction

runner = CliRunner()


def test_speeds_follow_from_the_constants() -> None:
    assert abs(geo.FIBER_US_PER_KM - 4.9034) < 1e-4
    assert abs(geo.MICROWAVE_US_PER_KM - 3.3366) < 1e-4


def test_carteret_to_mahwah_is_about_55_km() -> None:
    d = geo.haversine_km(geo.SITES["carteret"], geo.SITES["mahwah"])
    assert 50 < d < 60


def test_chicago_to_carteret_microwave_is_about_4_ms_and_fibre_slower() -> None:
    mw = geo.route("aurora", "XNAS", medium="microwave")
    fiber = geo.route("aurora", "XNAS")
    assert 1_100 < mw.distance_km < 1_250
    assert 3_900_000 < mw.one_way_ns < 4_200_000  # published Chicago-NJ microwave: ~8 ms round trip
    assert fiber.one_way_ns > mw.one_way_ns
    assert fiber.route_factor == geo.LONG_HAUL_ROUTE_FACTOR


def test_colocation_is_a_cross_connect() -> None:
    for location in ("colo", "carteret"):
        leg = geo.route(location, "XNAS")
        assert leg.medium == "cross-connect"
        assert leg.one_way_ns == geo.CROSS_CONNECT_NS


def test_microwave_where_none_exists_is_refused() -> None:
    with pytest.raises(ConfigError, match="no microwave network is modelled between ashburn and carteret"):
        geo.route("ashburn", "XNAS", medium="microwave")


def test_route_factor_below_one_and_unknown_names_are_refused() -> None:
    with pytest.raises(ConfigError, match="below 1"):
        geo.route("aurora", "XNAS", route_factor=0.9)
    with pytest.raises(ConfigError, match="unknown venue 'XLON'"):
        geo.route("colo", "XLON")
    with pytest.raises(ConfigError, match="unknown location 'tokyo'"):
        geo.route("tokyo", "XNAS")


@pytest.mark.parametrize("location", geo.LOCATIONS)
def test_every_preset_keeps_reports_behind_the_feed(location: str) -> None:
    for venue in geo.VENUE_SITES:
        lat = geo.preset(location, venue)
        assert all(lat.response_delay(a) >= lat.feed_delay() for a in OrderAction)


def test_preset_adds_processing_to_propagation() -> None:
    leg = geo.route("secaucus", "XNYS").one_way_ns
    p = geo.Processing(gateway_insert_ns=10, feed_publish_ns=20, feed_handler_ns=30, ack_insert_ns=1_000, compute_ns=5)
    lat = geo.preset("secaucus", "XNYS", processing=p)
    assert lat.entry_delay(OrderAction.INSERT) == leg + 10
    assert lat.feed_delay() == leg + 50
    assert lat.response_delay(OrderAction.INSERT) == leg + 1_000
    assert lat.compute_delay() == 5


def test_cli_json_prints_one_object() -> None:
    result = runner.invoke(app, ["latency", "--json"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert {r["medium"] for r in data["routes"]} == {"cross-connect", "fiber", "microwave"}
    mahwah = next(r for r in data["routes"] if r["from"] == "carteret" and r["venue"] == "XNYS")
    assert 50 < mahwah["distance_km"] < 60
    assert mahwah["round_trip_ns"] == 2 * mahwah["one_way_ns"]


def test_cli_table_and_filters() -> None:
    result = runner.invoke(app, ["latency", "--location", "aurora", "--venue", "XNAS"])
    assert result.exit_code == 0, result.output
    assert "microwave" in result.stdout and "RTT us" in result.stdout and "RTT: round trip" in result.stdout
    bad = runner.invoke(app, ["latency", "--venue", "XLON"])
    assert bad.exit_code == 2
