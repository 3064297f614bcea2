"""What every chart of the tear sheet shares: New York time axes, shaded sessions, dollars, and thinning.

Times are int ns UTC everywhere in tapeflow; a person reads the market in New York time, so every x axis is New
York wall-clock time (``metrics.new_york_ns``: the offset looked up per hour, exact across DST changes). Sessions
come from the run's exchange calendar (``model/sessions.py``, exchange_calendars): regular hours are shaded, a
half day's shading stops at its early close and is labelled, and holidays have none. Money converts to dollars
only here, for display.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from tapeflow.model.errors import ConfigError
from tapeflow.model.prices import PRICE_SCALE
from tapeflow.model.sessions import Session, SessionCalendar, calendar_for, ny_date
from tapeflow.report.metrics import new_york_ns

IntArray = npt.NDArray[np.int64]
MAX_SHADED_SESSIONS = 60
"""Beyond this many sessions a shaded rectangle per session is clutter (and page weight): none are drawn."""
MAX_POINTS = 20_000
"""Points of one trace beyond which it is thinned (every k-th point kept, the chart says so)."""
SESSION_FILL = "rgba(70, 130, 180, 0.08)"
HALF_DAY_FILL = "rgba(255, 165, 0, 0.12)"


class Chart:
    """One chart of the page: a plotly figure (its JSON dict), its title and a note under it saying what it shows
    (and how it was thinned, when it was)."""

    def __init__(self, name: str, title: str, figure: dict[str, Any], note: str = "") -> None:
        self.name = name
        self.title = title
        self.figure = figure
        self.note = note


def ny_times(ts: Sequence[int] | IntArray) -> npt.NDArray[np.datetime64]:
    """ns UTC to New York wall-clock datetimes (naive: plotly shows them as they are; axes say New York)."""
    return np.asarray(new_york_ns(np.asarray(ts, dtype=np.int64)), dtype=np.int64).astype("datetime64[ns]")


def ny_label(ts: int) -> str:
    """One New York wall-clock time as plotly reads it in a shape or an annotation."""
    return str(ny_times([ts])[0].astype("datetime64[ms]")).replace("T", " ")


def dollars(units: IntArray) -> npt.NDArray[np.float64]:
    """1/10,000 dollar to dollars for plotting (display only: floats never go back into the engine)."""
    return np.asarray(units, dtype=np.float64) / float(PRICE_SCALE)


def dollars_exact(units: int) -> Decimal:
    return Decimal(units) / PRICE_SCALE


def thin(n: int, limit: int = MAX_POINTS) -> tuple[slice, int]:
    """A slice keeping at most about ``limit`` of ``n`` evenly spaced points, and the stride (1: all kept)."""
    stride = max(1, -(-n // limit))
    return slice(None, None, stride), stride


def calendar(name: str | None) -> SessionCalendar | None:
    """The run's exchange calendar by name, None when the run did not record one or it is unknown here."""
    if not name:
        return None
    try:
        return calendar_for(name)
    except ConfigError:
        return None


def sessions_between(start_ns: int, end_ns: int, sessions: SessionCalendar) -> list[Session]:
    """The sessions of every New York date from ``start_ns`` to ``end_ns`` (holidays and weekends have none)."""
    first, last = ny_date(start_ns), ny_date(end_ns)
    found: list[Session] = []
    day = first
    while day <= last:
        try:
            session = sessions.session(day)
        except ConfigError:  # outside the calendar's range: nothing to shade
            session = None
        if session is not None:
            found.append(session)
        day += datetime.timedelta(days=1)
    return found


def session_shapes(start_ns: int, end_ns: int, sessions: SessionCalendar | None) -> tuple[list[dict[str, Any]], str]:
    """Layout shapes shading each regular session (half days in another colour, labelled), and a note."""
    if sessions is None:
        return [], "Sessions not shaded: the run recorded no exchange calendar."
    days = sessions_between(start_ns, end_ns, sessions)
    if len(days) > MAX_SHADED_SESSIONS:
        return [], f"{len(days)} sessions ({sessions.name}); too many to shade one by one."
    shapes: list[dict[str, Any]] = []
    half_days = []
    for s in days:
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": ny_label(s.open),
                "x1": ny_label(s.close),
                "y0": 0,
                "y1": 1,
                "fillcolor": HALF_DAY_FILL if s.early_close else SESSION_FILL,
                "line": {"width": 0},
                "layer": "below",
                "name": f"session {s.day.isoformat()}" + (" (half day)" if s.early_close else ""),
            }
        )
        if s.early_close:
            half_days.append(f"{s.day.isoformat()} closes {ny_label(s.close)[11:16]}")
    note = f"Shaded: regular sessions of {sessions.name} (New York time)."
    if half_days:
        note += " Half days: " + "; ".join(half_days) + "."
    return shapes, note


def base_layout(title: str, **more: Any) -> dict[str, Any]:
    """The layout every chart starts from: title, a compact margin, and a hover that reads well."""
    return {
        "title": {"text": title},
        "margin": {"l": 60, "r": 20, "t": 50, "b": 40},
        "hovermode": "closest",
        "template": "plotly_white",
        "height": 380,
    } | more
