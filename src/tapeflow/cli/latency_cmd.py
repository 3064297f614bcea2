"""``tapeflow latency``: the geography presets as a table (or one JSON object), from ``venues.geography``.

This module must not import ``tapeflow.cli`` at import time (``cli`` imports it); it imports ``cli.output`` for
the error and JSON helpers, and loads what a command runs only when the command runs (see the ``# lazy:`` lines).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from tapeflow.cli.output import fail, print_json
from tapeflow.model.errors import ConfigError, TapeflowError


def latency_command(
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
    location: Annotated[
        str | None, typer.Option("--location", "-l", help="Only this strategy location (colo, secaucus, aurora, ...).")
    ] = None,
    venue: Annotated[str | None, typer.Option("--venue", "-v", help="Only this venue (XNAS, XNYS, BATS, ...).")] = None,
    no_microwave: Annotated[bool, typer.Option("--no-microwave", help="Fibre routes only.")] = False,
) -> None:
    """One-way and round-trip propagation from strategy locations to the NJ matching engines (fibre, microwave)."""
    from tapeflow.venues import geography as geo  # lazy: numpy (~60 ms), not for --help

    try:
        if location is not None and location not in geo.LOCATIONS:
            raise ConfigError(f"unknown location {location!r}; choose one of {', '.join(geo.LOCATIONS)}")
        if venue is not None and venue not in geo.VENUE_SITES:
            raise ConfigError(f"unknown venue {venue!r}; choose one of {', '.join(geo.VENUE_SITES)}")
        rows = [
            r
            for r in geo.latency_table(include_microwave=not no_microwave)
            if (location is None or r.location == location) and (venue is None or r.venue == venue)
        ]
    except TapeflowError as exc:
        fail(exc, json_out=json_out)
        return
    if json_out:
        print_json(
            {
                "constants": {
                    "fiber_us_per_km": geo.FIBER_US_PER_KM,
                    "microwave_us_per_km": geo.MICROWAVE_US_PER_KM,
                    "fiber_index": geo.FIBER_INDEX,
                    "metro_route_factor": geo.METRO_ROUTE_FACTOR,
                    "long_haul_route_factor": geo.LONG_HAUL_ROUTE_FACTOR,
                    "microwave_route_factor": geo.MICROWAVE_ROUTE_FACTOR,
                    "cross_connect_ns": geo.CROSS_CONNECT_NS,
                },
                "sites": {k: {"name": s.name, "lat": s.lat, "lon": s.lon} for k, s in geo.SITES.items()},
                "routes": [
                    {
                        "location": r.location,
                        "venue": r.venue,
                        "from": r.from_site,
                        "to": r.to_site,
                        "medium": r.medium,
                        "distance_km": round(r.distance_km, 3),
                        "route_factor": r.route_factor,
                        "one_way_ns": r.one_way_ns,
                        "round_trip_ns": r.round_trip_ns,
                    }
                    for r in rows
                ],
            }
        )
        return
    Console().print(_table(rows, geo.FIBER_US_PER_KM))


def _table(rows: list[Any], fiber_us_per_km: float) -> Table:
    """One line a route within 80 columns: short headers with their units, no vertical rules."""
    table = Table(
        title=f"Propagation to the matching engines (fibre {fiber_us_per_km:.3f} us/km)",
        caption="km: great-circle distance; factor: route length over it; RTT: round trip",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        collapse_padding=True,
        pad_edge=False,
    )
    for name, justify in (
        ("from", "left"),
        ("to", "left"),
        ("venue", "left"),
        ("medium", "left"),
        ("km", "right"),
        ("factor", "right"),
        ("one-way us", "right"),
        ("RTT us", "right"),
    ):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(
            r.location,
            r.to_site,
            r.venue,
            r.medium,
            f"{r.distance_km:,.1f}",
            f"{r.route_factor:.2f}",
            f"{r.one_way_ns / 1_000:,.1f}",
            f"{r.round_trip_ns / 1_000:,.1f}",
        )
    return table
