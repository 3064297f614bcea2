"""``tapeflow audit verify|show|export`` and ``tapeflow surveil``: reading an audit trail from the command line.

``verify`` exits 1 when the trail was tampered with (and names the first bad record or the missing range), 0 when
it verifies, 2 on a user error (a missing or unreadable key file, a damaged or foreign database file, a malformed
``--expect-head``), so that a nightly job can gate on it. It checks the head file beside the database when there
is one, and ``--expect-head`` against a head the user kept. ``export`` and ``surveil`` verify the trail the same
way before they read it and exit 1 on a tampered one; with ``--no-verify`` they say on stderr (and in their JSON)
that they did not. Thresholds and CAT identifiers come from a TOML file with ``[surveillance]`` and ``[cat]``
tables.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import msgspec
import typer

from tapeflow.cli.output import fail, print_json, say
from tapeflow.model.codec import to_dict
from tapeflow.model.display import duration, money, ny_time, price, utc_iso
from tapeflow.model.errors import ConfigError, TapeflowError

if TYPE_CHECKING:
    from tapeflow.compliance.chain import VerifyResult

audit_app = typer.Typer(help="Read, verify and export an audit trail.", no_args_is_help=True)

T = TypeVar("T")
DbArg = Annotated[Path, typer.Argument(help="The audit SQLite file a run wrote.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML with surveillance and cat tables.")]
KeyFileOpt = Annotated[Path | None, typer.Option("--key-file", help="File holding the checkpoint key.")]
KeyEnvOpt = Annotated[str | None, typer.Option("--key-env", help="Environment variable holding the key.")]
NoVerifyOpt = Annotated[
    bool, typer.Option("--no-verify", help="Read the trail without verifying it first (said on stderr and in JSON).")
]
UNSIGNED = "note: the chain and head file verified, but not the signed checkpoints: pass --key-file to check them"
UNVERIFIED = "WARNING: the audit trail was NOT verified (--no-verify): what follows may come from altered records"


def _section(path: Path | None, name: str, kind: type[T]) -> T:
    if path is None:
        return msgspec.convert({}, kind)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", field=name) from exc
    try:
        return msgspec.convert(data.get(name, {}), kind)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"[{name}] in {path}: {exc}", field=name) from exc


def _key(key_file: Path | None, key_env: str | None) -> bytes | None:
    if key_file is not None:
        try:
            key = key_file.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the key file ({exc.strerror}); pass the file that holds the checkpoint key",
                path=key_file,
            ) from exc
        if not key:
            raise ConfigError("the key file is empty; pass the file that holds the checkpoint key", path=key_file)
        return key
    if key_env:
        value = os.environ.get(key_env)
        if value is None:
            raise ConfigError(f"environment variable {key_env} is not set; export the checkpoint key", field="key")
        return value.encode()
    return None


def _store(db: Path) -> Any:
    from tapeflow.compliance.audit_store import SqliteAuditStore  # lazy: sqlite3 audit stack (~15 ms), not for --help

    return SqliteAuditStore(db, readonly=True)


def _verify(store: Any, key: bytes | None, expect: str | None = None) -> VerifyResult:
    """The chain, its checkpoints (signed with ``key``), its runs, the head file beside it, and ``expect``."""
    from tapeflow.compliance.audit_store import verify_store  # lazy: sqlite3 audit stack (~15 ms), not for --help
    from tapeflow.compliance.head import parse_expected  # lazy: sqlite3 audit stack (~15 ms), not for --help

    return verify_store(store, key, parse_expected(expect) if expect is not None else None)


def _tampered(result: VerifyResult) -> str:
    where = f"first bad record {result.first_bad_seq}: " if result.first_bad_seq is not None else ""
    return f"TAMPERED: {where}{result.problem}"


def _verified_store(db: Path, key_file: Path | None, key_env: str | None, no_verify: bool) -> Any:
    """The store of ``db`` once its trail verified; exit 1 with the finding on stderr if it did not. With
    ``no_verify`` the warning goes to stderr instead and the store is read as it is."""
    store = _store(db)
    if no_verify:
        typer.echo(UNVERIFIED, err=True)
        return store
    key = _key(key_file, key_env)
    result = _verify(store, key)
    if not result.ok:
        typer.echo(f"{_tampered(result)}; nothing was read from the trail (--no-verify reads it anyway)", err=True)
        raise typer.Exit(code=1)
    if key is None:
        typer.echo(UNSIGNED, err=True)
    return store


@audit_app.command("verify")
def verify_command(
    db: DbArg,
    key_file: KeyFileOpt = None,
    key_env: KeyEnvOpt = None,
    expect_head: Annotated[
        str | None,
        typer.Option("--expect-head", help="The head printed at the end of a run (SEQ:HEX, or HEX); must be there."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Recompute the hash chain, check signed checkpoints (with a key), the head file and an expected head; exit 1
    if anything was altered, cut off or rewritten."""

    try:
        result = _verify(_store(db), _key(key_file, key_env), expect_head)
    except TapeflowError as exc:
        fail(exc, json_out=json_out)
        return
    if json_out:
        print_json(result)  # the verdict below stays one line, however wide: nightly jobs grep it
    elif result.ok:
        signed = "signed and checked" if result.checkpoints_signed else "not checked (no key given)"
        heads = f"{result.heads} head file lines match" if result.heads else "no head file"
        if result.unanchored:
            heads += f" ({result.unanchored} records after the last head line: a run that did not end cleanly)"
        if result.expected_head:
            heads += "; the expected head is in the trail"
        elif not result.heads:
            heads += " (pass --expect-head to check that the tail is all there)"
        typer.echo(
            f"OK: {result.records} records in {result.runs} runs chain correctly; {result.checkpoints} checkpoints "
            f"{signed}; {heads}; head {result.head}"
        )
    else:
        typer.echo(_tampered(result))
    if not result.ok:
        raise typer.Exit(code=1)


@audit_app.command("show")
def show_command(
    db: DbArg,
    order: Annotated[str, typer.Option("--order", help="Client order id.")],
    json_out: JsonOpt = False,
) -> None:
    """An order's life, in order, with the signal, models and market state behind it."""
    from tapeflow.compliance.audit import decode_row  # lazy: sqlite3 audit stack (~15 ms), not for --help

    try:
        rows = _store(db).rows_for_order(order)
        if not rows:
            raise ConfigError(f"no record of order {order!r} in {db}; list ids with `tapeflow audit export`")
    except TapeflowError as exc:
        fail(exc, json_out=json_out)
        return
    life = []
    for row in rows:
        event, cause = decode_row(row)
        entry: dict[str, Any] = {
            "seq": row.seq,
            "ts": row.ts,
            "ts_utc": utc_iso(row.ts),
            "kind": row.kind,
            "event": to_dict(event),
        }
        if cause is not None:
            entry["cause"] = msgspec.to_builtins(cause)
            if cause.signal is not None:
                entry["cause"]["signal"] = to_dict(cause.signal)
        life.append(entry)
    if json_out:
        print_json({"order": order, "life": life})
        return
    for entry in life:
        for line in _life_lines(entry):
            say(line)


_SKIP = frozenset({"type", "ts_event", "ts_init", "strategy_id", "client_order_id"})
"""Fields every line of one order's life shares (or that the line's own time stands for)."""


def _field(key: str, value: Any) -> str | None:
    """``key=value`` as a person reads it: prices and fees in dollars, empty values left out (None)."""
    if value in ("", None) or (isinstance(value, dict | list) and not value):
        return None
    if key == "price" or key.endswith("_price"):
        return f"{key}={price(value)}" if value else None
    if key == "fee":
        return f"fee={money(value)}"
    if key == "fee_components":
        return "fees: " + ", ".join(f"{name} {money(units)}" for name, units in value.items())
    if isinstance(value, dict):
        return f"{key}: " + ", ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, int) and not isinstance(value, bool) and "quantity" in key:
        return f"{key}={value:,}"
    return f"{key}={value}"


def _num(value: Any) -> str:
    """A model's float to four significant digits (the record keeps every digit; --json shows them)."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _life_lines(entry: dict[str, Any]) -> list[str]:
    """One record of an order's life: its New York time, what happened, and the cause behind a command."""
    event = entry["event"]
    fields = [text for k, v in event.items() if k not in _SKIP and (text := _field(k, v)) is not None]
    lines = [f"#{entry['seq']:,} {ny_time(entry['ts'])} {entry['kind']}: {', '.join(fields)}"]
    cause = entry.get("cause")
    if cause is None:
        return lines
    signal = cause.get("signal")
    if signal:
        features = ", ".join(f"{k} {_num(v)}" for k, v in signal["features"].items())
        lines.append(
            f"    because: signal {signal['name']} = {_num(signal['value'])} ({signal['reason']})"
            + (f"; features: {features}" if features else "")
        )
    else:
        lines.append("    because: no signal recorded for this strategy and symbol")
    if cause.get("models"):
        hashes = cause.get("model_hashes") or {}
        named = [
            f"{name} version {v}" + (f" ({hashes[name][:12]})" if hashes.get(name) else "")
            for name, v in cause["models"].items()
        ]
        lines.append("    models: " + ", ".join(named))
    if cause.get("book"):
        stale = " (STALE: a feed gap not yet repaired)" if cause["book_stale"] else ""
        lines.append(
            f"    book: bid {cause['bid_size']:,} shares at {price(cause['bid_price'])}, "
            f"ask {cause['ask_size']:,} shares at {price(cause['ask_price'])}{stale}"
        )
    return lines


@audit_app.command("export")
def export_command(
    db: DbArg,
    fmt: Annotated[str, typer.Option("--format", help="Only 'cat' for now.")] = "cat",
    config: ConfigOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")] = None,
    key_file: KeyFileOpt = None,
    key_env: KeyEnvOpt = None,
    no_verify: NoVerifyOpt = False,
) -> None:
    """Order events as FINRA CAT events, one JSON object per line (fields: docs/COMPLIANCE.md), from a trail that
    verifies (each line says ``"trailVerified": false`` under ``--no-verify``)."""
    from tapeflow.compliance.cat_export import (  # lazy: sqlite3 audit stack (~15 ms), not for --help
        CatConfig,
        export_cat,
    )

    try:
        if fmt != "cat":
            raise ConfigError(f"unknown export format {fmt!r}; use --format cat", field="format")
        cat = _section(config, "cat", CatConfig)
        store = _verified_store(db, key_file, key_env, no_verify)
        events = export_cat(store.rows(), cat, runs=store.runs())
        encode = msgspec.json.encode
        mark = {"trailVerified": False} if no_verify else {}
        handle = sys.stdout if out is None else out.open("w")
        try:
            for event in events:
                handle.write(encode({**event, **mark}).decode() + "\n")
        finally:
            if out is not None:
                handle.close()
    except TapeflowError as exc:
        fail(exc)


def surveil_command(
    db: DbArg,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
    key_file: KeyFileOpt = None,
    key_env: KeyEnvOpt = None,
    no_verify: NoVerifyOpt = False,
) -> None:
    """Spoofing/layering, marking the close and wash trades in an audit trail that verifies, with evidence."""
    from tapeflow.compliance.surveillance import (  # lazy: sqlite3 audit stack (~15 ms), not for --help
        SurveillanceConfig,
        review,
    )

    try:
        surveillance = _section(config, "surveillance", SurveillanceConfig)
        alerts = review(_verified_store(db, key_file, key_env, no_verify).rows(), surveillance)
    except TapeflowError as exc:
        fail(exc, json_out=json_out)
        return
    if json_out:
        out: dict[str, Any] = {"alerts": alerts, "count": len(alerts), "verified": not no_verify}
        if no_verify:
            out["warning"] = UNVERIFIED
        print_json(out)
        return
    if not alerts:
        say("no alerts")
    for line in _alert_lines(alerts):
        say(line)


_EVIDENCE_TIMES = frozenset({"submitted_ns", "cancelled_ns", "ts_ns"})


def _evidence(key: str, value: Any) -> str:
    """One piece of evidence: times in New York, lifetimes as durations, prices in dollars."""
    if key in _EVIDENCE_TIMES and isinstance(value, int):
        return f"{key.removesuffix('_ns')} {ny_time(value)}"
    if key == "lifetime_ns" and isinstance(value, int):
        return f"lifetime {duration(value)}"
    if key in ("price", "bid", "ask") and isinstance(value, str) and value and value[0].isdigit():
        return f"{key} ${value}"
    return f"{key}={value}"


def _alert_lines(alerts: list[Any]) -> list[str]:
    lines: list[str] = []
    for alert in alerts:
        lines.append(f"[{alert.kind}] {alert.symbol} {alert.strategy_id} at {ny_time(alert.ts)}: {alert.summary}")
        lines.extend("    " + ", ".join(_evidence(k, v) for k, v in item.items()) for item in alert.evidence)
    return lines
