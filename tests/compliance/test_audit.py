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
from tapeflow.model.events import ModelTrainingFailed
from tapeflow.model.venue_events import VenueDisconnected, VenueReconnected
from tests.backtest.scenario import T0, Scripted
from tests.compliance.trails import KEY, S, normal_actions, run_trail

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


def _key_file(tmp_path: Path) -> str:
    key = tmp_path / "checkpoint.key"
    key.write_bytes(KEY)
    return str(key)


def test_a_run_prints_its_head_and_appends_it_to_the_head_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    said: list[str] = []
    run_trail(path, {"mom": normal_actions()}, announce=said.append)
    store = SqliteAuditStore(path, readonly=True)
    rows = list(store.rows())
    head = f"{rows[-1].seq}:{rows[-1].hash.hex()}"
    assert said == [
        f"audit trail {path}: run 1 ended at record {rows[-1].seq}; keep its head {head} "
        f"(check with `tapeflow audit verify {path} --expect-head {head}`)"
    ]
    (line,) = Path(f"{path}.head").read_text().splitlines()
    assert line.startswith(f"run=1 seq={rows[-1].seq} hash={rows[-1].hash.hex()} mac=")
    ok = runner.invoke(app, ["audit", "verify", str(path), "--key-file", _key_file(tmp_path), "--expect-head", head])
    assert ok.exit_code == 0, ok.output
    assert "1 head file lines match; the expected head is in the trail" in ok.stdout
    other = rows[-2].hash.hex()
    bad = runner.invoke(app, ["audit", "verify", str(path), "--expect-head", f"{rows[-1].seq}:{other}"])
    assert bad.exit_code == 1
    assert f"TAMPERED: first bad record {rows[-1].seq}: record {rows[-1].seq} differs from the expected head" in (
        bad.stdout
    )
    elsewhere = runner.invoke(app, ["audit", "verify", str(path), "--expect-head", "ab" * 32])
    assert elsewhere.exit_code == 1 and "the expected head is not in the trail" in elsewhere.stdout


def test_two_backtests_into_one_database_export_unique_cat_order_ids(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    run_trail(path, {"mom": normal_actions()})
    first = len(_kinds(path))
    run_trail(path, {"mom": normal_actions()})  # the same strategy: its client order ids start again at mom-1
    store = SqliteAuditStore(path, readonly=True)
    assert store.runs() == [(1, 1), (2, first + 1)]
    submits = [r.order_id for r in store.rows() if r.kind == "SubmitOrder"]
    assert len(submits) == 6 and len(set(submits)) == 3  # the precondition: the runs did reuse ids
    result = runner.invoke(app, ["audit", "export", str(path), "--key-file", _key_file(tmp_path)])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    new_orders = [e["orderID"] for e in events if e["type"] == "MENO"]
    assert new_orders == ["R1.mom-1", "R1.mom-2", "R1.mom-3", "R2.mom-1", "R2.mom-2", "R2.mom-3"]
    assert len(set(new_orders)) == len(new_orders)
    fills = [(e["orderID"], e["firmROEID"]) for e in events if e["type"] == "EXECUTION"]
    assert [f[0] for f in fills] == ["R1.mom-1", "R1.mom-3", "R2.mom-1", "R2.mom-3"]
    assert len({e["firmROEID"] for e in events}) == len(events)
    verified = runner.invoke(app, ["audit", "verify", str(path), "--key-file", _key_file(tmp_path)])
    assert verified.exit_code == 0 and f"{2 * first} records in 2 runs" in verified.stdout
    assert "2 head file lines match" in verified.stdout
    head = Path(f"{path}.head")
    head.write_text(head.read_text().splitlines()[0] + "\n")  # as if run 2's writer had been killed
    verified = runner.invoke(app, ["audit", "verify", str(path), "--key-file", _key_file(tmp_path)])
    assert verified.exit_code == 0
    assert f"1 head file lines match ({first} records after the last head line" in verified.stdout
    head.unlink()
    verified = runner.invoke(app, ["audit", "verify", str(path)])
    assert "no head file (pass --expect-head to check that the tail is all there)" in verified.stdout


def test_verify_with_the_key_fails_when_checkpoints_are_deleted(trail: Path, tmp_path: Path) -> None:
    run_trail(trail, {"mom": normal_actions()})  # a second run: a second commit, a second checkpoint
    last = len(_kinds(trail))
    key = _key_file(tmp_path)
    checkpoints = list(SqliteAuditStore(trail, readonly=True).checkpoints())
    assert len(checkpoints) >= 2 and checkpoints[-1].seq == last  # the writer signs every commit
    _tamper(trail, f"DELETE FROM checkpoints WHERE seq = {last}")
    out = runner.invoke(app, ["audit", "verify", str(trail), "--key-file", key])
    assert out.exit_code == 1
    since = checkpoints[-2].seq + 1
    assert out.stdout.startswith(
        f"TAMPERED: first bad record {since}: records {since}..{last} are not covered by a signed checkpoint "
        f"(the last signed checkpoint is at {since - 1})"
    )
    _tamper(trail, "DELETE FROM checkpoints")
    out = runner.invoke(app, ["audit", "verify", str(trail), "--key-file", key])
    assert out.exit_code == 1
    assert f"records 1..{last} are not covered by a signed checkpoint (no signed checkpoint at all)" in out.stdout
    assert runner.invoke(app, ["audit", "verify", str(trail)]).exit_code == 0  # without the key only the chain


def test_a_run_cut_off_with_its_checkpoints_is_caught_by_the_head_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    run_trail(path, {"mom": normal_actions()})
    first = len(_kinds(path))
    run_trail(path, {"mom": normal_actions()})
    _tamper(
        path,
        f"DELETE FROM blocks WHERE first_seq > {first}; DELETE FROM checkpoints WHERE seq > {first};"
        f"DELETE FROM runs WHERE run = 2",
    )
    store = SqliteAuditStore(path, readonly=True)
    assert verify(store.rows(), store.checkpoints(), KEY, runs=store.runs()).ok  # what is left is all genuine
    out = runner.invoke(app, ["audit", "verify", str(path), "--key-file", _key_file(tmp_path)])
    assert out.exit_code == 1
    assert out.stdout.strip() == (
        f"TAMPERED: first bad record {first + 1}: records {first + 1}..{2 * first} are missing: head file line 2 "
        f"says run 2 ended at record {2 * first} (the tail was cut off)"
    )


def test_a_moved_run_boundary_is_caught_by_the_signed_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    run_trail(path, {"mom": normal_actions()})
    first = len(_kinds(path))
    run_trail(path, {"mom": normal_actions()})
    _tamper(path, f"UPDATE runs SET first_seq = {first + 2} WHERE run = 2")  # run 2's first orders into run 1
    out = runner.invoke(app, ["audit", "verify", str(path), "--key-file", _key_file(tmp_path)])
    assert out.exit_code == 1
    assert "the run table was edited: checkpoint" in out.stdout


def test_export_and_surveil_refuse_a_tampered_trail_unless_told_not_to_verify(trail: Path) -> None:
    _rewrite(trail, _edit_body)
    for command in (["audit", "export"], ["surveil"], ["surveil", "--json"]):
        out = runner.invoke(app, [*command, str(trail)])
        assert out.exit_code == 1, (command, out.output)
        assert out.stdout == ""
        assert out.stderr.startswith("TAMPERED: first bad record 3: record 3 (SubmitOrder) was altered")
        assert "nothing was read from the trail" in out.stderr
    warning = "WARNING: the audit trail was NOT verified (--no-verify)"
    exported = runner.invoke(app, ["audit", "export", str(trail), "--no-verify"])
    assert exported.exit_code == 0 and exported.stderr.startswith(warning)
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert lines and all(line["trailVerified"] is False for line in lines)
    surveyed = runner.invoke(app, ["surveil", str(trail), "--no-verify", "--json"])
    assert surveyed.exit_code == 0 and surveyed.stderr.startswith(warning)
    report = json.loads(surveyed.stdout)
    assert report["verified"] is False and report["warning"].startswith(warning)


def test_export_and_surveil_say_they_verified_an_intact_trail(trail: Path) -> None:
    report = json.loads(runner.invoke(app, ["surveil", str(trail), "--json"]).stdout)
    assert report["verified"] is True and "warning" not in report
    exported = runner.invoke(app, ["audit", "export", str(trail)])
    assert exported.exit_code == 0
    assert exported.stderr.startswith("note: the chain and head file verified, but not the signed checkpoints")
    keyed = runner.invoke(app, ["audit", "export", str(trail), "--key-file", _key_file(trail.parent)])
    assert keyed.exit_code == 0 and keyed.stderr == "" and keyed.stdout == exported.stdout
    assert all("trailVerified" not in json.loads(line) for line in exported.stdout.splitlines())


def test_verify_without_the_key_still_checks_the_head_file(trail: Path) -> None:
    head = Path(f"{trail}.head")
    line = head.read_text()
    assert "hash=" in line
    head.write_text(line.replace("hash=", "hash=0", 1).replace(" mac=", "x mac=", 1)[:-2] + "\n")
    out = runner.invoke(app, ["audit", "verify", str(trail)])
    assert out.exit_code == 1
    assert out.stdout.strip() == "TAMPERED: head file line 1 cannot be read (edited or replaced)"


def test_venue_connection_changes_are_filed_in_the_trail_in_event_order(tmp_path: Path) -> None:
    """Why orders stopped or were refused must be readable from the trail: the link to the venue went down."""

    def down(s: Scripted) -> None:
        s.ctx.kernel.emit(VenueDisconnected(ts_event=s.now, ts_init=s.now, venue="XNAS", reason="socket closed"))

    def up(s: Scripted) -> None:
        s.ctx.kernel.emit(VenueReconnected(ts_event=s.now, ts_init=s.now, venue="XNAS", down_ns=2 * S))

    path = tmp_path / "audit.db"
    run_trail(path, {"mom": {T0 + S: down, T0 + 3 * S: up}})
    rows = [r for r in SqliteAuditStore(path, readonly=True).rows() if r.kind.startswith("Venue")]
    assert [(r.kind, r.ts) for r in rows] == [("VenueDisconnected", T0 + S), ("VenueReconnected", T0 + 3 * S)]
    event, _ = decode_row(rows[0])
    assert event == VenueDisconnected(ts_event=T0 + S, ts_init=T0 + S, venue="XNAS", reason="socket closed")
    store = SqliteAuditStore(path, readonly=True)
    assert verify(store.rows(), store.checkpoints(), KEY).ok


def test_a_failed_retraining_is_filed_in_the_trail(tmp_path: Path) -> None:
    """The model in force stayed because its retraining failed: that must be on the record beside the orders."""

    def failed(s: Scripted) -> None:
        s.ctx.kernel.emit(
            ModelTrainingFailed(ts_event=s.now, ts_init=s.now, model_id="m", reason="boom", trigger_ts=s.now)
        )

    path = tmp_path / "audit.db"
    run_trail(path, {"mom": {T0 + S: failed}})
    rows = [r for r in SqliteAuditStore(path, readonly=True).rows() if r.kind == "ModelTrainingFailed"]
    assert [r.ts for r in rows] == [T0 + S]
    event, _ = decode_row(rows[0])
    assert event == ModelTrainingFailed(ts_event=T0 + S, ts_init=T0 + S, model_id="m", reason="boom", trigger_ts=T0 + S)
