"""The audit trail of a backtest: complete, every order with its cause, and any tampering detected."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from tapeflow.cli import app
from tapeflow.compliance import SqliteAuditStore, decode_row, verify
from tapeflow.compliance.audit_store import encode_block
from tapeflow.compliance.cat_export import export_cat
from tapeflow.compliance.chain import GENESIS, Row, record_hash, stored_of
from tapeflow.model.codec import to_msgpack
from tests.compliance.trails import KEY, normal_actions, run_trail

runner = CliRunner()


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    run_trail(path, {"mom": normal_actions()})
    return path


def _kinds(path: Path) -> list[str]:
    return [r.kind for r in SqliteAuditStore(path, readonly=True).rows()]


def test_backtest_trail_records_every_order_with_its_cause(trail: Path) -> None:
    store = SqliteAuditStore(trail, readonly=True)
    rows = list(store.rows())
    kinds = [r.kind for r in rows]
    assert kinds.count("SubmitOrder") == 3
    assert {"Signal", "ModelUpdated", "OrderAccepted", "OrderFilled", "CancelOrder", "OrderCancelled"} <= set(kinds)
    for row in rows:
        if row.kind in ("SubmitOrder", "CancelOrder"):
            _, cause = decode_row(row)
            assert cause is not None and cause.signal is not None, row
            assert cause.strategy_id == "mom" and cause.models == {"mom": 3}
            assert cause.book and cause.bid_price > 0 and cause.ask_price > cause.bid_price
            assert cause.signal.ts_init <= row.ts
    first = next(r for r in rows if r.kind == "SubmitOrder")
    _, cause = decode_row(first)
    assert cause is not None and cause.signal is not None
    assert cause.signal.reason == "5 s return above threshold"
    assert cause.signal.features == {"ret_5s": 0.0012, "spread": 2.0}
    assert (cause.bid_price, cause.bid_size, cause.ask_price, cause.ask_size) == (1_000_000, 500, 1_000_200, 300)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))


def test_same_tape_writes_the_same_chain(tmp_path: Path) -> None:
    hashes = []
    for i in range(2):
        path = tmp_path / f"run{i}.db"
        run_trail(path, {"mom": normal_actions()})
        hashes.append([r.hash for r in SqliteAuditStore(path, readonly=True).rows()])
    assert hashes[0] == hashes[1]


def test_verify_passes_on_an_untouched_trail(trail: Path) -> None:
    store = SqliteAuditStore(trail, readonly=True)
    result = verify(store.rows(), store.checkpoints(), KEY)
    assert result.ok and result.records == len(_kinds(trail)) and result.checkpoints >= 1


def _tamper(path: Path, sql: str) -> None:
    db = sqlite3.connect(path)
    db.executescript(sql)
    db.commit()
    db.close()


def _rewrite(path: Path, edit: Callable[[list[Row]], list[Row]]) -> None:
    """What an attacker holding the file can do: decode every block, change records, store them back (one block
    per record, so that block boundaries cannot be what gives the change away)."""
    rows = list(SqliteAuditStore(path, readonly=True).rows())
    db = sqlite3.connect(path)
    db.execute("DELETE FROM blocks")
    for row in edit(rows):
        db.execute("INSERT INTO blocks VALUES (?,?,?)", (row.seq, row.seq, encode_block([stored_of(row)])))
    db.commit()
    db.close()


def _edit_body(rows: list[Row]) -> list[Row]:
    row = rows[2]
    assert b"momentum entry" in row.body
    rows[2] = row._replace(body=row.body.replace(b"momentum entry", b"momentum exit!"))
    return rows


def _later(row: Row) -> Row:
    """``row`` with its event 1 ns later: time is read from the event, so that is where it must be edited."""
    event = decode_row(row)[0]
    body = to_msgpack(msgspec.structs.replace(event, ts_init=event.ts_init + 1))
    assert body != row.body
    return row._replace(body=body, ts=row.ts + 1)


def _insert(rows: list[Row]) -> list[Row]:
    moved = [r._replace(seq=r.seq + 1) for r in rows[6:]]
    return [*rows[:6], rows[2]._replace(seq=7), *moved]


def _reorder(rows: list[Row]) -> list[Row]:
    return [*rows[:4], rows[5]._replace(seq=5), rows[4]._replace(seq=6), *rows[6:]]


@pytest.mark.parametrize(
    ("edit", "first_bad", "words"),
    [
        (_edit_body, 3, "altered"),
        (lambda rows: [_later(r) if r.seq == 5 else r for r in rows], 5, "altered"),
        (lambda rows: [r for r in rows if r.seq != 6], 6, "missing"),
        (_insert, 7, "link"),
        (_reorder, 5, "link"),
    ],
    ids=["edit-body", "edit-time", "delete", "insert", "reorder"],
)
def test_verify_names_the_first_bad_record(
    trail: Path, edit: Callable[[list[Row]], list[Row]], first_bad: int, words: str
) -> None:
    _rewrite(trail, edit)
    store = SqliteAuditStore(trail, readonly=True)
    result = verify(store.rows(), store.checkpoints(), KEY)
    assert not result.ok
    assert result.first_bad_seq == first_bad
    assert words in result.problem
    cli = runner.invoke(app, ["audit", "verify", str(trail)])
    assert cli.exit_code == 1
    assert f"first bad record {first_bad}" in cli.stdout


def test_bytes_moved_between_body_and_cause_are_caught(trail: Path) -> None:
    """The canonical encoding inlines body and cause; a store keeping them apart must not let bytes move across."""
    rows = list(SqliteAuditStore(trail, readonly=True).rows())
    bad = next(r for r in rows if r.cause)
    moved = bad._replace(body=bad.body + bad.cause[:1], cause=bad.cause[1:])
    assert moved.body + moved.cause == bad.body + bad.cause  # the same bytes, split elsewhere
    result = verify([moved if r.seq == bad.seq else r for r in rows])
    assert not result.ok and result.first_bad_seq == bad.seq and "altered" in result.problem


def test_verify_names_a_corrupt_or_deleted_block(trail: Path) -> None:
    whole = sqlite3.connect(trail).execute("SELECT count(*) FROM blocks").fetchone()[0]
    assert whole >= 1
    _rewrite(trail, lambda rows: rows)  # one block per record
    _tamper(trail, "DELETE FROM blocks WHERE first_seq = 4")
    result = verify(SqliteAuditStore(trail, readonly=True).rows())
    assert not result.ok and result.first_bad_seq == 4 and "missing" in result.problem
    _tamper(trail, "UPDATE blocks SET data = substr(data, 1, 50) WHERE first_seq = 2")
    result = verify(SqliteAuditStore(trail, readonly=True).rows())
    assert not result.ok and result.first_bad_seq == 2 and "altered" in result.problem


def test_rewritten_chain_is_caught_by_the_signed_checkpoint(trail: Path) -> None:
    def rechain(rows: list[Row]) -> list[Row]:  # an attacker edits record 2 and recomputes every hash after it
        out, prev = [], GENESIS
        for r in rows:
            edited = _later(r) if r.seq == 2 else r
            h = record_hash(prev, r.seq, edited.body, edited.cause)
            out.append(edited._replace(prev=prev, hash=h))
            prev = h
        return out

    _rewrite(trail, rechain)
    store = SqliteAuditStore(trail, readonly=True)
    assert verify(store.rows()).ok  # the chain alone is consistent again
    result = verify(store.rows(), store.checkpoints(), KEY)
    assert not result.ok and "checkpoint" in result.problem
    assert not verify(store.rows(), store.checkpoints(), b"wrong key").ok


def test_truncated_tail_is_caught_by_the_last_checkpoint(trail: Path) -> None:
    last = len(_kinds(trail))
    _rewrite(trail, lambda rows: rows[:-1])
    store = SqliteAuditStore(trail, readonly=True)
    result = verify(store.rows(), store.checkpoints(), KEY)
    assert not result.ok and result.first_bad_seq == last


def test_cli_verify_ok_and_show_prints_the_reason(trail: Path, tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_bytes(KEY)
    ok = runner.invoke(app, ["audit", "verify", str(trail), "--key-file", str(key)])
    assert ok.exit_code == 0 and ok.stdout.startswith("OK:")
    shown = runner.invoke(app, ["audit", "show", str(trail), "--order", "mom-1"])
    assert shown.exit_code == 0, shown.output
    assert "5 s return above threshold" in shown.stdout and "OrderFilled" in shown.stdout
    js = runner.invoke(app, ["audit", "show", str(trail), "--order", "mom-1", "--json"])
    life = json.loads(js.stdout)["life"]
    assert [e["kind"] for e in life] == ["SubmitOrder", "OrderAccepted", "OrderFilled"]
    missing = runner.invoke(app, ["audit", "show", str(trail), "--order", "nope"])
    assert missing.exit_code == 2


def test_cat_export_maps_the_order_life(trail: Path) -> None:
    store = SqliteAuditStore(trail, readonly=True)
    events = list(export_cat(store.rows(), runs=store.runs()))
    types = [(e["type"], e["orderID"]) for e in events]
    assert types[:3] == [("MENO", "R1.mom-1"), ("MEOR", "R1.mom-1"), ("EXECUTION", "R1.mom-1")]
    assert events[1]["routedOrderID"] == "mom-1"  # what the venue was sent
    assert ("MEOC", "R1.mom-2") in types
    meno = events[0]
    assert meno["side"] == "B" and meno["price"] == "100.02" and meno["quantity"] == 100
    assert meno["orderType"] == "LMT" and meno["timeInForce"].startswith("DAY=2024062")
    assert isinstance(meno["eventTimestamp"], int)
    cli = runner.invoke(app, ["audit", "export", str(trail), "--format", "cat"])
    assert cli.exit_code == 0
    assert [json.loads(line)["type"] for line in cli.stdout.splitlines()] == [e["type"] for e in events]
