"""Latency presets from geography: where the matching engines are, where the strategy runs, and the light between.

One-way propagation delay = great-circle distance x route factor x delay per km of the medium. Light in fibre
travels at c / n with n ~ 1.47 (about 4.90 us/km); a microwave link travels at c / 1.0003 in air (about 3.34 us/km)
on towers laid out close to the geodesic. Fibre follows roads and rail rights of way, so its route is longer than
the great circle; the route factor says by how much. Floats are used only here, before rounding to int ns.

``preset(location, venue)`` adds the venue's and the strategy's processing to that propagation delay and returns a
``FixedLatency`` for the simulated exchange. Every number, its source and its uncertainty is in docs/LATENCY.md.
"""

from __future__ import annotations

import math
from typing import Final, Literal

import msgspec

from tapeflow.model.errors import ConfigError
from tapeflow.venues.sim.latency import FixedLatency

SPEED_OF_LIGHT_KM_S: Final = 299_792.458
"""Exact, by the definition of the metre."""
FIBER_INDEX: Final = 1.47
"""Group index of standard single-mode fibre (G.652) near 1550 nm is 1.467-1.468; 1.47 is the customary round."""
AIR_INDEX: Final = 1.0003
"""Refractive index of air at sea level, for microwave and millimetre-wave links."""
EARTH_RADIUS_KM: Final = 6_371.0088
"""Mean Earth radius (IUGG), for the haversine great-circle distance."""

FIBER_US_PER_KM: Final = 1e6 * FIBER_INDEX / SPEED_OF_LIGHT_KM_S  # 4.9034 us/km
MICROWAVE_US_PER_KM: Final = 1e6 * AIR_INDEX / SPEED_OF_LIGHT_KM_S  # 3.3367 us/km

METRO_ROUTE_FACTOR: Final = 1.5
"""Fibre inside the New Jersey / New York metro: short hops detour around rivers, the Meadowlands and road grids."""
LONG_HAUL_ROUTE_FACTOR: Final = 1.3
"""Carrier long-haul fibre; a purpose-built straight route (Spread Networks, Chicago-NJ) reaches about 1.15."""
MICROWAVE_ROUTE_FACTOR: Final = 1.02
"""Tower chains sit within a few per cent of the geodesic."""
METRO_LIMIT_KM: Final = 100.0
CROSS_CONNECT_NS: Final = 300
"""Same building: tens of metres of fibre (~0.25 us at 4.9 ns/m) plus a layer-1 patch; one way."""

Medium = Literal["fiber", "microwave"]


class Site(msgspec.Struct, frozen=True, kw_only=True):
    """A building, by its public street address and approximate coordinates (WGS84, to ~100 m)."""

    key: str
    name: str
    address: str
    lat: float
    lon: float


SITES: Final[dict[str, Site]] = {
    s.key: s
    for s in (
        Site(
            key="carteret",
            name="Nasdaq data centre, Carteret NJ",
            address="1400 Federal Blvd, Carteret, NJ",
            lat=40.5860,
            lon=-74.2390,
        ),
        Site(
            key="mahwah",
            name="NYSE data centre, Mahwah NJ",
            address="1600 MacArthur Blvd, Mahwah, NJ",
            lat=41.0770,
            lon=-74.1480,
        ),
        Site(
            key="secaucus",
            name="Equinix NY4/NY5 (Cboe equities), Secaucus NJ",
            address="755/800 Secaucus Rd, Secaucus, NJ",
            lat=40.7770,
            lon=-74.0710,
        ),
        Site(
            key="aurora",
            name="CME Group data centre (CyrusOne), Aurora IL",
            address="2905 Diehl Rd, Aurora, IL",
            lat=41.7960,
            lon=-88.2430,
        ),
        Site(
            key="ashburn",
            name="Ashburn VA (AWS us-east-1, Equinix DC)",
            address="21715 Filigree Ct, Ashburn, VA",
            lat=39.0160,
            lon=-77.4590,
        ),
        Site(
            key="san_jose",
            name="Equinix SV1, San Jose CA",
            address="11 Great Oaks Blvd, San Jose, CA",
            lat=37.2420,
            lon=-121.7830,
        ),
    )
}

VENUE_SITES: Final[dict[str, str]] = {
    "XNAS": "carteret",  # Nasdaq Stock Market
    "XNYS": "mahwah",  # New York Stock Exchange
    "ARCX": "mahwah",  # NYSE Arca
    "BATS": "secaucus",  # Cboe BZX (matching in NY5)
    "EDGX": "secaucus",  # Cboe EDGX
}
"""Venue (MIC) -> the building that holds its matching engine."""

LOCATIONS: Final[tuple[str, ...]] = ("colo", "secaucus", "carteret", "mahwah", "aurora", "ashburn", "san_jose")
"""Where a strategy can run: ``colo`` is the venue's own building; the rest are ``SITES`` keys."""

_MICROWAVE_SITES: Final = frozenset({"carteret", "mahwah", "secaucus", "aurora"})
"""Commercial microwave networks link the NJ triangle and Chicago (Aurora); none is modelled elsewhere."""


class Route(msgspec.Struct, frozen=True, kw_only=True):
    """One leg from a strategy location to a venue, with the figures the ``tapeflow latency`` table prints."""

    location: str
    venue: str
    from_site: str
    to_site: str
    medium: str
    distance_km: float
    route_factor: float
    one_way_ns: int

    @property
    def round_trip_ns(self) -> int:
        return 2 * self.one_way_ns


def haversine_km(a: Site, b: Site) -> float:
    """Great-circle distance on a sphere; the ellipsoid would change NJ-Chicago distances by under 0.5%."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi = phi2 - phi1
    dlam = math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _site(key: str, what: str) -> Site:
    try:
        return SITES[key]
    except KeyError:
        raise ConfigError(f"unknown {what} {key!r}; choose one of {', '.join(sorted(SITES))}", field=what) from None


def venue_site(venue: str) -> Site:
    try:
        return SITES[VENUE_SITES[venue]]
    except KeyError:
        known = ", ".join(sorted(VENUE_SITES))
        raise ConfigError(f"unknown venue {venue!r}; choose one of {known}", field="venue") from None


def microwave_available(a: str, b: str) -> bool:
    return a != b and a in _MICROWAVE_SITES and b in _MICROWAVE_SITES


def route(location: str, venue: str, *, medium: Medium = "fiber", route_factor: float | None = None) -> Route:
    """The propagation leg from ``location`` to ``venue``; ``colo`` or the venue's own site is a cross-connect."""
    to = venue_site(venue)
    from_key = to.key if location == "colo" else _site(location, "location").key
    if from_key == to.key:
        return Route(
            location=location,
            venue=venue,
            from_site=from_key,
            to_site=to.key,
            medium="cross-connect",
            distance_km=0.0,
            route_factor=1.0,
            one_way_ns=CROSS_CONNECT_NS,
        )
    distance = haversine_km(SITES[from_key], to)
    if medium == "microwave":
        if not microwave_available(from_key, to.key):
            raise ConfigError(
                f"no microwave network is modelled between {from_key} and {to.key}; "
                "microwave exists between the NJ data centres and Chicago only: use medium 'fiber'",
                field="medium",
            )
        factor = MICROWAVE_ROUTE_FACTOR if route_factor is None else route_factor
        us_per_km = MICROWAVE_US_PER_KM
    elif medium == "fiber":
        default = METRO_ROUTE_FACTOR if distance < METRO_LIMIT_KM else LONG_HAUL_ROUTE_FACTOR
        factor = default if route_factor is None else route_factor
        us_per_km = FIBER_US_PER_KM
    else:
        raise ConfigError(f"unknown medium {medium!r}; choose 'fiber' or 'microwave'", field="medium")
    if factor < 1.0:
        raise ConfigError(
            f"route factor {factor} is below 1; no path is shorter than the great circle", field="route_factor"
        )
    one_way = round(distance * factor * us_per_km * 1_000)
    return Route(
        location=location,
        venue=venue,
        from_site=from_key,
        to_site=to.key,
        medium=medium,
        distance_km=distance,
        route_factor=factor,
        one_way_ns=one_way,
    )


class Processing(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Time spent in software and switches on top of propagation, in ns (order-of-magnitude defaults, see docs).

    ``gateway_*``: the venue's order gateway and risk checks before the matching engine sees the message.
    ``ack_*``: matching and the gateway sending the report back. ``feed_publish_ns``: matching engine to the
    market data multicast. ``feed_handler_ns``: the strategy decoding the feed. ``compute_ns``: the decision.
    """

    gateway_insert_ns: int = 6_000
    gateway_modify_ns: int = 6_000
    gateway_cancel_ns: int = 5_000
    ack_insert_ns: int = 8_000
    ack_modify_ns: int = 8_000
    ack_cancel_ns: int = 6_000
    feed_publish_ns: int = 4_000
    feed_handler_ns: int = 1_000
    compute_ns: int = 2_000


DEFAULT_PROCESSING: Final = Processing()


def preset(
    location: str,
    venue: str,
    *,
    medium: Medium = "fiber",
    route_factor: float | None = None,
    processing: Processing = DEFAULT_PROCESSING,
) -> FixedLatency:
    """A ``FixedLatency`` for a strategy at ``location`` trading on ``venue``.

    Reports are clamped to at least the feed delay (the exchange's invariant): when a venue acks faster than it
    publishes, the model waits for the feed, which keeps fills from overtaking the data that shows them.
    """
    leg = route(location, venue, medium=medium, route_factor=route_factor).one_way_ns
    p = processing
    feed = leg + p.feed_publish_ns + p.feed_handler_ns
    return FixedLatency(
        feed_ns=feed,
        insert_entry_ns=leg + p.gateway_insert_ns,
        modify_entry_ns=leg + p.gateway_modify_ns,
        cancel_entry_ns=leg + p.gateway_cancel_ns,
        insert_response_ns=max(feed, leg + p.ack_insert_ns),
        modify_response_ns=max(feed, leg + p.ack_modify_ns),
        cancel_response_ns=max(feed, leg + p.ack_cancel_ns),
        compute_ns=p.compute_ns,
    )


def latency_table(*, include_microwave: bool = True) -> list[Route]:
    """Every location x venue leg (and its microwave twin where one exists), for the CLI and the docs."""
    rows: list[Route] = []
    for location in LOCATIONS:
        for venue in VENUE_SITES:
            rows.append(route(location, venue))
            to_key = VENUE_SITES[venue]
            from_key = to_key if location == "colo" else location
            if include_microwave and microwave_available(from_key, to_key):
                rows.append(route(location, venue, medium="microwave"))
    return rows
