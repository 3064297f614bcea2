"""``tapeflow data ...``: what a market-data file holds, and conversion to the Parquet event store.

This module must not import ``tapeflow.cli`` at import time (``cli`` imports it); it imports ``cli.output`` for
the error and JSON helpers, and loads what a command runs only when the command runs (see the ``# lazy:`` lines).
"""

from __future__ import annotations

import functools
import signal
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import msgspec
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from tapeflow.cli.output import fail, print_json
from tapeflow.data.quality import QualityReporter
from tapeflow.model.display import NEW_YORK, ny_time, utc_iso
from tapeflow.model.errors import ConfigError, TapeflowError
from tapeflow.model.events import Event

data_app = typer.Typer(
    name="data", help="Market data: inspect files, convert them to the Parquet store.", no_args_is_help=True
)


DateOption = Annotated[
    str | None,
    typer.Option(
        "--date", metavar="YYYY-MM-DD", help="Trading day of an ITCH file whose name does not carry Nasdaq's MMDDYYYY."
    ),
]


def parse_day(text: str | None) -> date | None:
    """``--date`` as a calendar day; a wrong one is a one-line error, not a click usage box."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--date {text!r} is not a calendar day; give it as YYYY-MM-DD, e.g. 2019-12-30") from None


def open_dated(path: Path, day: date | None) -> tuple[str, Iterator[Event], object]:
    """``open_events`` with ``--date``, which only an ITCH file takes: elsewhere it is refused, not ignored."""
    from tapeflow.data.detect import detect_format, open_events  # lazy: format sniffing, gzip (~3 ms), not for --help

    fmt = detect_format(path)
    if day is not None and fmt != "itch":
        raise ConfigError(f"--date is the trading day of an ITCH file; {path} is {fmt}, which carries its own dates: "
                          "leave --date out")  # fmt: skip
    return open_events(path, fmt, day=day)


PROGRESS_EVERY = 65_536
INTRADAY = frozenset({"lobster", "taq", "itch", "dbn"})
"""Formats that hold one trading day (or less): progress runs on the session clock, 04:00 to 20:00 New York."""
SESSION_START_S, SESSION_END_S = 4 * 3600, 20 * 3600


class SessionProgress:
    """Progress of a read through a trading day, on its own clock: a day file's size says nothing about how many
    events are left, but its event times say how much of the 04:00-20:00 session is done, which gives an ETA
    (rough: the open and close are busier). A file that is not a day (bars) gets a count and elapsed time only.
    """

    def __init__(self, bar: Any, task: Any) -> None:
        self.bar = bar
        self.task = task
        self.start_ns: int | None = None

    def __call__(self, fmt: str, ts_ns: int) -> None:
        if fmt not in INTRADAY:
            self.bar.update(self.task, description=f"read up to {ny_time(ts_ns, precision='s')}")
            return
        if self.start_ns is None:
            self.start_ns = _session_start_ns(ts_ns)
            self.bar.update(self.task, total=SESSION_END_S - SESSION_START_S)
        done = min(max((ts_ns - self.start_ns) // 1_000_000_000, 0), SESSION_END_S - SESSION_START_S)
        self.bar.update(self.task, completed=done, description=f"session at {ny_time(ts_ns, precision='s')}")


def _session_start_ns(ts_ns: int) -> int:
    """04:00 New York time on the New York date of ``ts_ns``, as ns UTC (daylight saving included)."""

    day = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts_ns // 1_000)).astimezone(NEW_YORK)
    start = day.replace(hour=SESSION_START_S // 3600, minute=0, second=0, microsecond=0)
    return int(start.timestamp()) * 1_000_000_000


def summarize(
    path: Path, day: date | None = None, progress: Callable[[str, int], None] | None = None
) -> dict[str, Any]:
    """Format, symbols, time span and counts by event type of one input (read once, streaming).

    The reader's counts are read after the stream is exhausted (readers reset them when a pass starts);
    ``quality`` is the shape every reader shares, present for any reader that reports one. ``progress`` is told
    the format and the event time reached, every ``PROGRESS_EVERY`` events.
    """
    fmt, events, reader = open_dated(path, day)
    counts: dict[str, int] = {}
    symbols: dict[str, None] = {}
    first = last = None
    for n, ev in enumerate(events, 1):
        if progress is not None and n % PROGRESS_EVERY == 0:
            progress(fmt, ev.ts_init)
        name = type(ev).__name__
        counts[name] = counts.get(name, 0) + 1
        sym = getattr(ev, "symbol", None)
        if sym is not None and sym not in symbols:
            symbols[sym] = None
        if first is None:
            first = ev.ts_init
        last = ev.ts_init
    out: dict[str, Any] = {
        "file": str(path),
        "format": fmt,
        "symbols": sorted(symbols),
        "events": sum(counts.values()),
        "counts": dict(sorted(counts.items())),
        "first_ts": first,
        "last_ts": last,
        "first_utc": None if first is None else utc_iso(first),
        "last_utc": None if last is None else utc_iso(last),
    }
    stats = reader if isinstance(reader, msgspec.Struct) else getattr(reader, "stats", None)
    if counts.get("Quote") and fmt == "taq":
        out["nbbo_quotes"] = getattr(stats, "nbbo_quotes", 0)
    if stats is not None:
        out["stats"] = msgspec.to_builtins(stats)
    if isinstance(reader, QualityReporter):
        out["quality"] = msgspec.to_builtins(reader.quality())
    return out


def _summarize_with_progress(file: Path, day: date | None, *, quiet: bool) -> dict[str, Any]:
    """A day of TAQ takes minutes to read: an ETA on stderr, off under --json and when stderr is not a TTY."""
    err = Console(stderr=True)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True, disable=quiet or not err.is_terminal) as bar:
        task = bar.add_task(f"reading {file.name}", total=None)
        return summarize(file, day, progress=SessionProgress(bar, task))


def _iso(ts: int | None) -> str:
    """New York time with the zone, exact to the microsecond (no float seconds); ``--json`` keeps ns UTC."""
    if ts is None:
        return "-"

    return ny_time(ts)


@data_app.command("info")
def info_cmd(
    file: Annotated[
        Path,
        typer.Argument(help="A data file (LOBSTER zip, ITCH, LEAN tick/bar zip, bar CSV, DBN) or a Parquet store."),
    ],
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")] = False,
    day: DateOption = None,
) -> None:
    """Say what FILE holds: format, symbols, time span, events by type."""

    try:
        summary = _summarize_with_progress(file, parse_day(day), quiet=json_out)
    except TapeflowError as exc:
        fail(exc, json_out=json_out)
        return
    if json_out:
        print_json(summary)
        return
    table = Table(title=f"{file.name}  ({summary['format']})")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("symbols", ", ".join(summary["symbols"][:10]) + (" ..." if len(summary["symbols"]) > 10 else ""))
    table.add_row("first event", _iso(summary["first_ts"]))
    table.add_row("last event", _iso(summary["last_ts"]))
    for name, n in summary["counts"].items():
        table.add_row(f"  {name} events", f"{n:,}")
    table.add_row("events", f"{summary['events']:,}")
    quality = summary.get("quality")
    if quality is not None:
        table.add_row("records read", f"{quality['rows']:,}")
        for name in ("malformed", "out_of_order", "duplicates", "unknown_ids"):
            table.add_row(name.replace("_", " "), f"{quality[name]:,}")
        if quality["first_problem"]:
            table.add_row("first problem", quality["first_problem"])
    Console().print(table)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@data_app.command("convert")
def convert_cmd(
    source: Annotated[Path, typer.Argument(help="Any input `tapeflow data info` reads.")],
    to: Annotated[Path, typer.Option("--to", help="Output folder of the Parquet store (must not exist).")],
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing tapeflow store at --to (never anything else).")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    day: DateOption = None,
) -> None:
    """Write SOURCE's events to a Parquet store partitioned by symbol and date; nothing is left on failure."""
    from tapeflow.data.store_manifest import check_output  # lazy: pyarrow (~0.1 s), not for --help
    from tapeflow.data.store_writer import write_store  # lazy: pyarrow (~0.1 s), not for --help

    err = Console(stderr=True)
    progress = Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), TextColumn("{task.completed:,} events"),
        TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal,
    )  # fmt: skip
    # SIGTERM (a timeout, a killed job) would end the process without cleanup and leave the .partial folder:
    # turned into SystemExit, it unwinds through write_store's clean-up like Ctrl-C does
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        given = parse_day(day)
        check_output(to, overwrite=overwrite)  # a wrong --to is refused before the input is opened
        fmt, events, _ = open_dated(source, given)
        tables = None
        if fmt == "lobster":  # its orderbook rows too, for `tapeflow book replay STORE --verify`
            from tapeflow.data.lobster_store import write_lobster_book  # lazy: pyarrow (~0.1 s), not for --help

            tables = functools.partial(write_lobster_book, path=source)
        with progress:
            task = progress.add_task(f"convert {source.name}", total=None)
            n = write_store(
                events, to, overwrite=overwrite, progress=lambda k: progress.update(task, completed=k), tables=tables
            )
    except TapeflowError as exc:
        fail(exc, json_out=json_out)
        return
    finally:
        signal.signal(signal.SIGTERM, previous)
    if json_out:
        print_json({"source": str(source), "format": fmt, "out": str(to), "events": n})
    else:
        typer.echo(f"{n:,} events from {source} ({fmt}) -> {to}")
