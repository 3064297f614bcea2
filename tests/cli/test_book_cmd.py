"""``tapeflow book replay``: the JSON contract, the exit codes, and one-line errors with nothing on stdout."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tapeflow.cli import app

runner = CliRunner()
GOOG_1 = "lobster-samples-2012-06-21/LOBSTER_SampleFile_GOOG_2012-06-21_1.zip"


def test_replay_verify_json_prints_one_object_with_the_contract_keys(data_dir: Path) -> None:
    result = runner.invoke(app, ["book", "replay", str(data_dir / GOOG_1), "--verify", "--json"])
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.strip().splitlines()
    out = json.loads(line)
    for key in ("rows", "levels", "mismatches", "levels_from_file", "unknown_order_refs", "trades", "elapsed_s"):
        assert key in out
    assert (out["rows"], out["levels"], out["mismatches"], out["unknown_order_refs"]) == (49_482, 1, 0, 0)
    assert out["trades"] == 7_765 + 3_913
    assert out["msgs_per_s"] > 0


def test_replay_of_a_bad_file_exits_2_with_one_line_and_a_json_error_object(tmp_path: Path) -> None:
    bad = tmp_path / "LOBSTER_bad.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    result = runner.invoke(app, ["book", "replay", str(bad), "--json"])
    assert result.exit_code == 2
    [line] = result.stdout.splitlines()
    error = json.loads(line)
    assert error["code"] == 2 and "not a readable zip" in error["error"]
    assert "LOBSTER_bad.zip" in result.stderr and "not a readable zip" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_replay_with_mismatches_exits_1_and_names_the_row(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "m.zip"
    stem = "T_2012-06-21_34200000_57600000"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{stem}_message_1.csv", "34200.1,1,1,10,1000200,-1\n34200.2,1,2,5,1000200,-1\n")
        zf.writestr(f"{stem}_orderbook_1.csv", "1000200,10,1000000,5\n1000200,99,1000000,5\n")
    result = runner.invoke(app, ["book", "replay", str(path), "--verify"])
    assert result.exit_code == 1
    assert "row 2 (34200.2,1,2,5,1000200,-1): SELL level 1" in result.stdout


def test_replay_of_a_converted_store_verifies_every_row_and_reports_as_the_zip(data_dir: Path, tmp_path: Path) -> None:
    converted = runner.invoke(app, ["data", "convert", str(data_dir / GOOG_1), "--to", str(tmp_path / "s"), "--json"])
    assert converted.exit_code == 0, converted.output
    outs = []
    for source in (data_dir / GOOG_1, tmp_path / "s"):
        result = runner.invoke(app, ["book", "replay", str(source), "--verify", "--json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        outs.append({k: v for k, v in report.items() if k not in ("file", "elapsed_s", "msgs_per_s")})
    assert outs[1] == outs[0] and outs[1]["mismatches"] == 0 and outs[1]["rows"] == 49_482
