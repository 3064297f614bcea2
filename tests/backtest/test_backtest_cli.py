"""`tapeflow backtest` on every kind of shared data, through the example configurations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tapeflow.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _config(name: str, data_dir: Path, tmp_path: Path, limit: int | None) -> Path:
    """The example copied elsewhere (its paths are under the data root, so it runs from any folder), data root
    set to the shared data under test."""
    text = (EXAMPLES / name).read_text()
    text = text.replace("[data]\n", f"[data]\nroot = {json.dumps(str(data_dir))}\n", 1)
    if limit is not None:
        text = text.replace("[data]\n", f"[data]\nlimit = {limit}\n", 1)
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "limit", "level", "risk", "refusals"),
    [
        ("lobster_aapl.toml", 30_000, "L3", "default", True),
        ("taq_bac.toml", 150_000, "L1", "default", True),
        ("bars_nvda.toml", None, "L2", "default", False),  # long-only crossover: nothing for the rules to refuse
        ("synthetic_quoter.toml", None, "L2", "configured", True),
    ],
)
def test_backtest_runs_on_each_data_kind(
    data_dir: Path, tmp_path: Path, name: str, limit: int | None, level: str, risk: str, refusals: bool
) -> None:
    cfg = _config(name, data_dir, tmp_path, limit)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["backtest", str(cfg), "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["level"] == level
    assert report["risk"] == risk
    engine, summary = report["engine"], report["summary"]
    # The quoters' unlocated short sales and repeats are refused by the rules; the bar crossover only buys and sells
    # what it holds, in regular sizes, so every one of its orders passes.
    assert (engine["risk_rejected"] > 0) == refusals
    assert engine["feed_events"] > 1_000
    assert summary["orders"] > 0 and summary["fills"] == engine["exchange_fills"] > 0
    assert engine["refused_reports"] == 0
    assert summary["final_equity_units"] == summary["starting_equity_units"] + summary["pnl_units"]
    results = ["equity.parquet", "fills.parquet", "orders.parquet"]
    tearsheet = ["depth.parquet", "order_marks.parquet", "run.json", "top.parquet"]  # report/run_files.py
    assert sorted(p.name for p in out.iterdir()) == sorted(results + tearsheet)


def test_backtest_with_a_missing_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[data]\nkind = "lobster"\npaths = ["/nonexistent.zip"]\n')
    result = CliRunner().invoke(app, ["backtest", str(cfg)])
    assert result.exit_code == 2
    assert "no such file" in result.output


SMALL = "[data.synthetic]\nevents_per_symbol = 200\n\n"
FILE_STRATEGIES = """
from pathlib import Path
import msgspec
from tapeflow.strategy.base import Strategy

MARKER = Path(__file__).with_name("called.txt")


class NotAStrategy:
    def __init__(self, **kwargs):
        MARKER.write_text("called")


class Sized(Strategy):
    class Params(msgspec.Struct, forbid_unknown_fields=True):
        size: int = 100

    def __init__(self, strategy_id="sized", *, size=100):
        MARKER.write_text("called")
        super().__init__(strategy_id)
"""


def _invoke(tmp_path: Path, text: str, *args: str) -> tuple[int, str]:
    """Run `tapeflow backtest` on a config written into a folder of its own (files resolve against it)."""
    folder = tmp_path / "cfg"
    folder.mkdir(exist_ok=True)
    (folder / "strats.py").write_text(FILE_STRATEGIES)
    path = folder / "run.toml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["backtest", str(path), "--json", *args])
    if result.exit_code == 2:  # a user error: the line on stderr, and the same error as one JSON object on stdout
        assert json.loads(result.stdout) == {"error": result.stderr.strip().removeprefix("error: "), "code": 2}
        return result.exit_code, result.stderr
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("strategy", "message"),
    [
        ('name = "subprocess:run"\nparams = { args = "touch {marker}", shell = true }', "is a function, not a class"),
        ('name = "os:system"\nparams = { command = "touch {marker}" }', "not a class"),
        ("name = \"builtins:eval\"\nparams = { source = \"open('{marker}', 'w')\" }", "not a class"),
        ('name = "strats.py:NotAStrategy"\nparams = { size = 1 }', "strats.py:NotAStrategy is not a Strategy"),
        ('name = "no_such_module_tf.sub:Thing"', "no module 'no_such_module_tf'"),
        ('name = "missing/strats.py:Sized"', "strats.py: no such file; fix the path"),
        ('name = "strats.py:Sized"\nparams = { size = "big" }', "`strategy.params.size`: Expected `int`, got `str`"),
        ('name = "strats.py:Sized"\nparams = { colour = 1 }', "field `strategy.params.colour`: Sized has no parameter"),
    ],
)
def test_backtest_strategy_that_is_not_a_safe_strategy_is_one_line_exit_2_and_calls_nothing(
    tmp_path: Path, strategy: str, message: str
) -> None:
    marker = tmp_path / "cfg" / "called.txt"
    section = strategy.replace("{marker}", str(marker))
    code, output = _invoke(tmp_path, f"{SMALL}[strategy]\n{section}\n")
    assert code == 2, output
    assert len(output.strip().splitlines()) == 1 and output.startswith("error: ")
    assert message in output
    assert not marker.exists()  # neither the named callable nor the class was ever called


def test_backtest_strategy_from_a_file_next_to_the_config_runs(tmp_path: Path) -> None:
    code, output = _invoke(tmp_path, f'{SMALL}[strategy]\nname = "strats.py:Sized"\nparams = {{ size = 5 }}\n')
    assert code == 0, output
    assert json.loads(output)["strategy"] == "sized"


def test_backtest_out_at_an_existing_file_or_link_is_refused_before_the_run(tmp_path: Path) -> None:
    marker = tmp_path / "cfg" / "called.txt"
    existing = tmp_path / "results.parquet"
    existing.write_text("keep me")
    link = tmp_path / "link"
    link.symlink_to(existing)
    for out in (existing, link):
        code, output = _invoke(tmp_path, f'{SMALL}[strategy]\nname = "strats.py:Sized"\n', "--out", str(out))
        assert code == 2, output
        assert len(output.strip().splitlines()) == 1
        assert f"field `--out`: {out} is not a folder" in output
    assert existing.read_text() == "keep me"
    assert not marker.exists()  # the strategy was never built: the run did not start


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# nothing here\n", "the file is empty: it sets nothing"),
        ('[portfolio]\ncapital = "-1.00"\n', "field `portfolio.capital`: starting cash '-1.00' is not positive"),
        (
            '[[fees.sec_fee]]\neffective = 2020-01-01\nrate = "-8.00"\n',
            "field `fees.sec_fee[0].rate`: -8.00 is negative",
        ),
        ("[latency]\nlocation = 'nowhere'\n", "field `latency.location`: unknown location 'nowhere'; choose one of"),
        ('[data]\nkind = "csv"\n', "valid values: 'bars', 'dbn', 'itch', 'lobster', 'parquet', 'synthetic', 'taq'"),
        ('[output]\ndir = "run.toml"\n', "field `output.dir`: run.toml is not a folder"),
        ('[exchange]\ncalendar = "NOPE"\n', "field `exchange.calendar`: unknown exchange calendar 'NOPE'; use an"),
    ],
)
def test_backtest_bad_configuration_is_one_line_naming_the_field_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    (tmp_path / "cfg").mkdir()
    monkeypatch.chdir(tmp_path / "cfg")  # output.dir is relative to the working directory
    code, output = _invoke(tmp_path, text)
    assert code == 2, output
    assert len(output.strip().splitlines()) == 1 and "run.toml: " in output
    assert message in output


def test_backtest_risk_off_is_explicit_and_reported(tmp_path: Path) -> None:
    code, output = _invoke(tmp_path, f'risk = "off"\n{SMALL}')
    assert code == 0, output
    report = json.loads(output)
    assert report["risk"] == "off" and report["engine"]["risk_rejected"] == 0
    code, output = _invoke(tmp_path, SMALL)
    assert code == 0, output
    assert json.loads(output)["risk"] == "default"


@pytest.mark.parametrize(("name", "kind", "events"), [("itch_fixture.toml", "itch", 3), ("dbn_nvda.toml", "dbn", 4)])
def test_itch_and_dbn_examples_run_as_written_from_any_working_directory(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, kind: str, events: int
) -> None:
    monkeypatch.chdir(tmp_path)  # neither the repository nor examples/
    monkeypatch.setenv("TAPEFLOW_DATA", str(data_dir))
    result = CliRunner().invoke(app, ["backtest", str(EXAMPLES / name), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["data"], report["level"], report["engine"]["feed_events"]) == (kind, "L3", events)
    (quality,) = report["summary"]["data"]
    assert quality["format"] == kind and quality["events"] == events and quality["rows"] >= events


def test_parquet_example_replays_the_store_like_the_file_it_was_converted_from(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAPEFLOW_DATA", str(data_dir))
    (tmp_path / "examples").mkdir()
    cfg = tmp_path / "examples" / "parquet_aapl.toml"
    cfg.write_text((EXAMPLES / "parquet_aapl.toml").read_text().replace("[data]\n", "[data]\nlimit = 20000\n", 1))
    src = data_dir / "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
    runner = CliRunner()
    (tmp_path / "build").mkdir()
    assert runner.invoke(app, ["data", "convert", str(src), "--to", str(tmp_path / "build/aapl-store")]).exit_code == 0
    stored = runner.invoke(app, ["backtest", str(cfg), "--json"])
    assert stored.exit_code == 0, stored.output
    direct = _config("lobster_aapl.toml", data_dir, tmp_path, 20_000)
    original = runner.invoke(app, ["backtest", str(direct), "--json"])
    assert original.exit_code == 0, original.output
    a, b = json.loads(stored.stdout), json.loads(original.stdout)
    assert (a["data"], a["level"], b["level"]) == ("parquet", "L3", "L3")
    assert a["summary"]["fills"] > 0
    for key in ("fills", "orders", "pnl_units", "fees_units"):
        assert a["summary"][key] == b["summary"][key], key


def test_dividends_example_reports_its_prices_and_is_paid_cash(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TAPEFLOW_DATA", str(data_dir))
    paid = CliRunner().invoke(app, ["backtest", str(EXAMPLES / "bars_aapl_dividends.toml"), "--json"])
    assert paid.exit_code == 0, paid.output
    cfg = tmp_path / "splits.toml"
    cfg.write_text((EXAMPLES / "bars_aapl_dividends.toml").read_text().replace('"splits+dividends"', '"splits"'))
    split = CliRunner().invoke(app, ["backtest", str(cfg), "--json"])
    assert split.exit_code == 0, split.output
    a, b = json.loads(paid.stdout), json.loads(split.stdout)
    assert (a["prices"], b["prices"]) == ("split-adjusted, dividends as cash", "split-adjusted")
    assert a["engine"]["feed_events"] == b["engine"]["feed_events"] + 4  # AAPL's four ex-dates of 2014
    assert a["summary"]["fills"] == b["summary"]["fills"] > 0  # the same trades: dividends change no price
    assert a["summary"]["pnl_units"] != b["summary"]["pnl_units"]  # but the cash they paid (or cost a short)
