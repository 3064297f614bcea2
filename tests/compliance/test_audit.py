"""The audit trail of a backtest: complete, every order with its cause, and any tampering detected."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tapeflow.cli import app
from tapeflow.compliance import SqliteAuditStore, decode_row, verify
from tapeflow.compliance.cat_export import export_cat
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


@pytest.mark.parametrize(
    ("sql", "first_bad", "words"),
    [
        (
            "UPDATE records SET body = CAST(replace(CAST(body AS TEXT), 'momentum entry', 'momentum exit!') AS BLOB) "
            "WHERE seq = 3",
            3,
            "altered",
        ),
        ("UPDATE records SET ts = ts + 1 WHERE seq = 5", 5, "altered"),
        ("DELETE FROM records WHERE seq = 6", 6, "missing"),
        (
            "UPDATE records SET seq = seq + 1000 WHERE seq >= 7; UPDATE records SET seq = seq - 999 WHERE seq >= 1007;"
            "INSERT INTO records SELECT 7, ts, kind, order_id, strategy_id, symbol, body, cause, prev, hash "
            "FROM records WHERE seq = 3",
            7,
            "link",
        ),
        (
            "UPDATE records SET seq = -1 WHERE seq = 5; UPDATE records SET seq = 5 WHERE seq = 6;"
            "UPDATE records SET seq = 6 WHERE seq = -1",
            5,
            "link",
        ),
    ],
    ids=["edit-body", "edit-time", "delete", "insert", "reorder"],
)
def test_verify_names_the_first_bad_record(trail: Path, sql: str, first_bad: int, words: str) -> None:
    _tamper(trail, sql)
    store = SqliteAuditStore(trail, readonly=True)
    result = verify(store.rows(), store.checkpoints(), KEY)
    assert not result.ok
    assert result.first_bad_seq == first_bad
    assert words in result.problem
    cli = runner.invoke(app, ["audit", "verify", str(trail)])
    assert cli.exit_code == 1
    assert f"first bad record {first_bad}" in cli.stdout


def test_rewritten_chain_is_caught_by_the_signed_checkpoint(trail: Path) -> None:
    from tapeflow.compliance.chain import GENESIS, record_hash

    rows = list(SqliteAuditStore(trail, readonly=True).rows())
    db = sqlite3.connect(trail)
    prev = GENESIS
    for r in rows:  # an attacker edits record 2 and recomputes every hash after it
        ts = r.ts + (1 if r.seq == 2 else 0)
        h = record_hash(prev, r.seq, ts, r.kind, r.order_id, r.strategy_id, r.symbol, r.body, r.cause)
        db.execute("UPDATE records SET ts = ?, prev = ?, hash = ? WHERE seq = ?", (ts, prev, h, r.seq))
        prev = h
    db.commit()
    db.close()
    store = SqliteAuditStore(trail, readonly=True)
    assert verify(store.rows()).ok  # the chain alone is consistent again
    result = verify(store.rows(), store.checkpoints(), KEY)
    assert not result.ok and "checkpoint" in result.problem
    assert not verify(store.rows(), store.checkpoints(), b"wrong key").ok


def test_truncated_tail_is_caught_by_the_last_checkpoint(trail: Path) -> None:
    last = len(_kinds(trail))
    _tamper(trail, f"DELETE FROM records WHERE seq = {last}")
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
    events = list(export_cat(SqliteAuditStore(trail, readonly=True).rows()))
    types = [(e["type"], e["orderID"]) for e in events]
    assert types[:3] == [("MENO", "mom-1"), ("MEOR", "mom-1"), ("EXECUTION", "mom-1")]
    assert ("MEOC", "mom-2") in types
    meno = events[0]
    assert meno["side"] == "B" and meno["price"] == "100.02" and meno["quantity"] == 100
    assert meno["orderType"] == "LMT" and meno["timeInForce"].startswith("DAY=2024062")
    assert isinstance(meno["eventTimestamp"], int)
    cli = runner.invoke(app, ["audit", "export", str(trail), "--format", "cat"])
    assert cli.exit_code == 0
    assert [json.loads(line)["type"] for line in cli.stdout.splitlines()] == [e["type"] for e in events]
