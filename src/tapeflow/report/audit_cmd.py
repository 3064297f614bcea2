"""``tapeflow audit verify|show|export`` and ``tapeflow surveil``: reading an audit trail from the command line.

``verify`` exits 1 when the trail was tampered with (and names the first bad record), 0 when it verifies, 2 on a
user error, so that a nightly job can gate on it. Thresholds and CAT identifiers come from a TOML file with
``[surveillance]`` and ``[cat]`` tables.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path
from typing import Annotated, Any, TypeVar

import msgspec
import typer

from tapeflow.model.errors import ConfigError, TapeflowError

audit_app = typer.Typer(help="Read, verify and export an audit trail.", no_args_is_help=True)

T = TypeVar("T")
DbArg = Annotated[Path, typer.Argument(help="The audit SQLite file a run wrote.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML with surveillance and cat tables.")]


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
        return key_file.read_bytes().strip()
    if key_env:
        value = os.environ.get(key_env)
        if value is None:
            raise ConfigError(f"environment variable {key_env} is not set; export the checkpoint key", field="key")
        return value.encode()
    return None


def _store(db: Path) -> Any:
    from tapeflow.compliance.audit_store import SqliteAuditStore

    return SqliteAuditStore(db, readonly=True)


@audit_app.command("verify")
def verify_command(
    db: DbArg,
    key_file: Annotated[Path | None, typer.Option("--key-file", help="File holding the checkpoint key.")] = None,
    key_env: Annotated[str | None, typer.Option("--key-env", help="Environment variable holding the key.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Recompute the hash chain (and check signed checkpoints with a key); exit 1 if anything was altered."""
    from tapeflow.cli import fail, print_json
    from tapeflow.compliance.chain import verify

    try:
        store = _store(db)
        result = verify(store.rows(), store.checkpoints(), _key(key_file, key_env))
    except TapeflowError as exc:
        fail(exc)
        return
    if json_out:
        print_json(result)
    elif result.ok:
        signed = "signed and checked" if result.checkpoints_signed else "not checked (no key given)"
        typer.echo(f"OK: {result.records} records chain correctly; {result.checkpoints} checkpoints {signed}")
    else:
        typer.echo(f"TAMPERED: first bad record {result.first_bad_seq}: {result.problem}")
    if not result.ok:
        raise typer.Exit(code=1)


@audit_app.command("show")
def show_command(
    db: DbArg,
    order: Annotated[str, typer.Option("--order", help="Client order id.")],
    json_out: JsonOpt = False,
) -> None:
    """An order's life, in order, with the signal, models and market state behind it."""
    from tapeflow.cli import fail, print_json
    from tapeflow.compliance.audit import decode_row
    from tapeflow.model.codec import to_dict

    try:
        rows = _store(db).rows_for_order(order)
        if not rows:
            raise ConfigError(f"no record of order {order!r} in {db}; list ids with `tapeflow audit export`")
    except TapeflowError as exc:
        fail(exc)
        return
    life = []
    for row in rows:
        event, cause = decode_row(row)
        entry: dict[str, Any] = {
            "seq": row.seq,
            "ts": row.ts,
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
        event = entry["event"]
        detail = ", ".join(f"{k}={v}" for k, v in event.items() if k not in ("type", "ts_event", "ts_init"))
        typer.echo(f"#{entry['seq']} {entry['ts']} {entry['kind']}: {detail}")
        cause = entry.get("cause")
        if cause is not None:
            signal = cause.get("signal")
            if signal:
                typer.echo(
                    f"    because: signal {signal['name']}={signal['value']} ({signal['reason']}) {signal['features']}"
                )
            else:
                typer.echo("    because: no signal recorded for this strategy and symbol")
            if cause.get("models"):
                typer.echo(f"    models: {cause['models']}")
            if cause.get("book"):
                typer.echo(
                    f"    book: bid {cause['bid_price']} x {cause['bid_size']}, ask {cause['ask_price']} x "
                    f"{cause['ask_size']}, stale={cause['book_stale']}"
                )


@audit_app.command("export")
def export_command(
    db: DbArg,
    fmt: Annotated[str, typer.Option("--format", help="Only 'cat' for now.")] = "cat",
    config: ConfigOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Order events as FINRA CAT events, one JSON object per line (fields: docs/COMPLIANCE.md)."""
    from tapeflow.cli import fail
    from tapeflow.compliance.cat_export import CatConfig, export_cat

    try:
        if fmt != "cat":
            raise ConfigError(f"unknown export format {fmt!r}; use --format cat", field="format")
        events = export_cat(_store(db).rows(), _section(config, "cat", CatConfig))
        encode = msgspec.json.encode
        handle = sys.stdout if out is None else out.open("w")
        try:
            for event in events:
                handle.write(encode(event).decode() + "\n")
        finally:
            if out is not None:
                handle.close()
    except TapeflowError as exc:
        fail(exc)


def surveil_command(db: DbArg, config: ConfigOpt = None, json_out: JsonOpt = False) -> None:
    """Spoofing/layering, marking the close and wash trades in an audit trail, with evidence."""
    from tapeflow.cli import fail, print_json
    from tapeflow.compliance.surveillance import SurveillanceConfig, review

    try:
        alerts = review(_store(db).rows(), _section(config, "surveillance", SurveillanceConfig))
    except TapeflowError as exc:
        fail(exc)
        return
    if json_out:
        print_json({"alerts": alerts, "count": len(alerts)})
        return
    if not alerts:
        typer.echo("no alerts")
    for alert in alerts:
        typer.echo(f"[{alert.kind}] {alert.symbol} {alert.strategy_id} at {alert.ts}: {alert.summary}")
        for item in alert.evidence:
            typer.echo("    " + ", ".join(f"{k}={v}" for k, v in item.items()))
