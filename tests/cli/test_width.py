"""Every command's terminal output fits 80 columns (``COLUMNS=80``): no line is longer, tables do not wrap.

Each case runs the real command on real or synthetic data and checks that it printed something (so a command
that printed nothing cannot pass) and that no line is wider than 80 characters.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tapeflow.cli import app

WIDTH = 80
runner = CliRunner()
LOBSTER = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"


@pytest.fixture(autouse=True)
def _eighty_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", str(WIDTH))


def _fits(args: list[str], *, exit_code: int = 0, min_lines: int = 3) -> list[str]:
    result = runner.invoke(app, args)
    assert result.exit_code == exit_code, result.output
    lines = result.stdout.splitlines()
    assert len(lines) >= min_lines, result.stdout
    too_long = [line for line in lines if len(line) > WIDTH]
    assert too_long == [], "\n".join(too_long)
    return lines


def _trail(tmp_path: Path) -> Path:
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        '[data]\nkind = "synthetic"\n[data.synthetic]\nsymbols = ["AAPL", "MSFT"]\nevents_per_symbol = 3000\n'
        'seed = 3\n[stp]\nmode = "cancel_newest"\n'
    )
    db = tmp_path / "audit.db"
    lines = _fits(["backtest", str(cfg), "--audit", str(db)], min_lines=20)
    assert any(line.startswith("strategy: imbalance-quoter on AAPL, MSFT") for line in lines)
    assert any("self-trade prevention: cancel_newest" in line for line in lines)
    return db


def test_demo_fits_and_prints_no_dict_or_tuple_reprs() -> None:
    lines = _fits(["demo", "--events", "2000"], min_lines=30)
    text = "\n".join(lines)
    assert "{'" not in text and "units/share" not in text
    assert "$1,000,000.00" in text  # starting equity with separators and cents
    assert "risk rejections by rule" in text and "short_locate" in text


def test_latency_table_fits_with_one_line_per_route() -> None:
    lines = _fits(["latency"], min_lines=10)
    routes = [line for line in lines if any(v in line for v in (" XNAS ", " XNYS ", " ARCX ", " BATS ", " EDGX "))]
    assert len(routes) >= 40  # every route on its own line: nothing wrapped onto a second
    assert all(line.split()[0] in ("colo", "secaucus", "carteret", "mahwah", "aurora") for line in routes[:40])


def test_backtest_then_audit_show_and_surveil_fit(tmp_path: Path) -> None:
    db = _trail(tmp_path)
    shown = _fits(["audit", "show", str(db), "--order", "imbalance-quoter-1"], min_lines=2)
    assert " EDT " in shown[0] and "$" in "\n".join(shown)
    _fits(["surveil", str(db)], min_lines=1)


def test_kill_status_fits(tmp_path: Path) -> None:
    state, signal = tmp_path / "a-rather-long-folder-name-for-the-state" / "kill.json", tmp_path / "STOP"
    _fits(["kill", "--state", str(state), "--signal", str(signal), "-r", "desk saw a loop"], min_lines=2)
    _fits(["kill", "--state", str(state), "--signal", str(signal), "--status"], min_lines=2)


@pytest.mark.parametrize(
    "rel",
    [
        LOBSTER,
        "nasdaq-itch50-head-fixture/sample.itch",
        "databento-dbn-us-equity-fixtures/EQUS.MINI/test_data.tbbo.dbn.zst",
        "backtrader-yahoo-daily/nvda-1999-2014.txt.gz",
    ],
)
def test_data_info_fits(data_dir: Path, rel: str) -> None:
    day = ["--date", "2019-12-30"] if rel.endswith(".itch") else []  # the fixture's name carries no day
    _fits(["data", "info", str(data_dir / rel), *day], min_lines=8)


def test_book_replay_fits_with_labelled_rows(data_dir: Path) -> None:
    lines = _fits(["book", "replay", str(data_dir / LOBSTER), "--verify"], min_lines=10)
    text = "\n".join(lines)
    assert "verified: every row matches" in text and "(7, 498)" not in text and "{'" not in text


def test_backtest_on_lobster_fits(data_dir: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text(f'no_fees = true\n[data]\nkind = "lobster"\npaths = ["{data_dir / LOBSTER}"]\nlimit = 20000\n')
    lines = _fits(["backtest", str(cfg)], min_lines=30)
    assert any(line.startswith("data:     lobster (L3): LOBSTER_SampleFile_AAPL") for line in lines)
    assert any(line.startswith("period:   2012-06-21 09:30:00 EDT") for line in lines)


def test_compare_fits(data_dir: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "bars.toml"
    bars = data_dir / "backtrader-yahoo-daily/nvda-1999-2014.txt.gz"
    cfg.write_text(
        f'no_fees = true\nrisk = "off"\n[data]\nkind = "bars"\npaths = ["{bars}"]\n[strategy]\nname = "sma_cross"\n'
        "params = { fast = 10, slow = 30, quantity = 100 }\n"
    )
    lines = _fits(["compare", str(cfg), "--show", "3"], min_lines=15)
    assert any("$1.4167" in line for line in lines)


def test_compare_push_pull_fits(data_dir: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "lobster.toml"
    cfg.write_text(f'no_fees = true\n[data]\nkind = "lobster"\npaths = ["{data_dir / LOBSTER}"]\nlimit = 20000\n')
    lines = _fits(["compare", str(cfg), "--push-pull", "--poll-ms", "50"], min_lines=10)
    assert any(line.startswith("PnL difference (push - pull): ") for line in lines)


def test_backtest_on_daily_bars_fits_and_names_the_symbol(data_dir: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "bars.toml"
    bars = data_dir / "backtrader-yahoo-daily/nvda-1999-2014.txt.gz"
    cfg.write_text(
        f'no_fees = true\nrisk = "off"\n[data]\nkind = "bars"\npaths = ["{bars}"]\nlimit = 300\n[strategy]\n'
        'name = "sma_cross"\nparams = { fast = 10, slow = 30, quantity = 100 }\n[portfolio]\n'
        "sample_interval_ms = 86400000\n"
    )
    lines = _fits(["backtest", str(cfg)], min_lines=20)
    assert lines[0] == "strategy: sma-cross on NVDA"  # bar runs keep no books: the symbol comes from the bars
    assert lines[1] == "period:   1999-01-22 16:00:00 EST to 2000-03-29 16:00:00 EST"
