"""``tapeflow compare --push-pull --live URL``: the push feed and a poller on a running venue, as a table or JSON.

Apart from ``compare_cmd`` so that the backtest comparison's module stays about backtests, and so that the live
stack (websockets, the feeds) is imported only when ``--live`` is asked for.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from tapeflow.cli.output import counted_progress
from tapeflow.model.errors import ConfigError

LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})


def live_push_pull(
    url: str,
    symbols: str,
    *,
    poll_ms: int,
    seconds: float,
    stream: str,
    feed: str,
    connect_timeout: float,
    quiet: bool,
) -> dict[str, Any]:
    """Measure for ``seconds`` and return the report (``tapeflow.live.push_pull.compare_live``)."""
    from tapeflow.live.keys import load_keys  # lazy: the live stack, only for --live
    from tapeflow.live.push_pull import compare_live  # lazy: the live stack (websockets), only for --live

    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"give the venue's http(s)://HOST:PORT URL, got {url!r}", field="--live")
    if not seconds > 0:
        raise ConfigError(f"--seconds must be positive, got {seconds}", field="--seconds")
    if not connect_timeout > 0:
        raise ConfigError(f"--connect-timeout must be positive, got {connect_timeout}", field="--connect-timeout")
    names = tuple(s.strip().upper() for s in symbols.split(",") if s.strip())
    if not names:
        raise ConfigError("name the symbols to watch, e.g. --symbols AAPL", field="--symbols")
    keys = load_keys("paper" if parts.hostname in LOOPBACK else "alpaca-paper", None)
    with counted_progress(f"push vs pull every {poll_ms} ms", "quotes pushed", quiet=quiet) as bar:
        task = bar.add_task("live", total=None)
        return asyncio.run(
            compare_live(
                url,
                names,
                key=keys.key_id,
                secret=keys.secret_key,
                poll_ms=poll_ms,
                seconds=seconds,
                stream_url=stream,
                feed=feed,
                connect_timeout=connect_timeout,
                on_tick=lambda pushed, _polled: bar.update(task, completed=pushed),
            )
        )


def print_live(report: dict[str, Any]) -> None:
    push, pull = report["push"], report["pull"]
    table = Table(
        title=f"{', '.join(report['symbols'])} on {report['url']} for {report['seconds']:g} s: the data stream "
        f"(push) vs a poll every {report['poll_ms']} ms (pull)"
    )
    table.add_column("measure")
    table.add_column("push", justify="right")
    table.add_column("pull", justify="right")
    rows: list[tuple[str, str, str]] = [
        ("quotes received", f"{push['quotes']:,}", f"{pull['quotes_seen'] + pull['poll_only']:,}"),
        ("quotes while both looked", f"{pull['quotes']:,}", f"{pull['quotes_seen']:,}"),
        ("quotes never seen", "0", f"{pull['quotes_never_seen']:,} ({pull['never_seen_share']:.1%})"),
        ("prices never known", "0", f"{pull['price_changes_never_seen']:,} of {pull['price_changes']:,}"),
        ("requests", f"{push['connections']:,} connection(s)", f"{pull['polls']:,} polls"),
    ]
    rows.extend(
        (f"reaction delay, {name}", "0 ms", _ms(pull[f"reaction_delay_{name}_us"]))
        for name in ("min", "p50", "p90", "p99", "max")
    )
    for row in rows:
        table.add_row(*row)
    console = Console()
    console.print(table)
    console.print(f"blind spot: {report['blind_spot']}", markup=False, highlight=False)
    notes = []
    if pull["poll_first"]:
        notes.append(f"{pull['poll_first']:,} poll answer(s) reached the loop before the stream's frame (delay < 0)")
    if pull["poll_only"]:
        notes.append(f"{pull['poll_only']:,} polled quote(s) the stream never delivered (its own gap)")
    if pull["errors"] or pull["skipped_polls"]:
        notes.append(f"poll errors by status {pull['errors']}, {pull['skipped_polls']:,} slot(s) overrun")
    if push["status_events"]:
        notes.append(f"the stream was interrupted: {', '.join(push['status_events'])}")
    for note in notes:
        console.print(f"note: {note}", markup=False, highlight=False)


def _ms(us: float | None) -> str:
    return "-" if us is None else f"{us / 1_000:,.2f} ms"
