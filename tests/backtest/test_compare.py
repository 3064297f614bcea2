"""Vectorized against event-driven on real daily bars: the vectorized run trades on closes it could not know."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import numpy as np
from typer.testing import CliRunner

from tapeflow.backtest.compare import compare_sma
from tapeflow.backtest.config import BacktestConfig, DataConfig, StrategyConfig
from tapeflow.backtest.vectorized import crossing_states
from tapeflow.cli import app
from tapeflow.data.bars import read_bars
from tapeflow.model import Bar
from tapeflow.risk.config import OrderChecks, RiskConfig


def _cfg(data_dir: Path) -> BacktestConfig:
    path = data_dir / "backtrader-yahoo-daily" / "nvda-1999-2014.txt.gz"
    return BacktestConfig(
        data=DataConfig(kind="bars", paths=(str(path),)),
        strategy=StrategyConfig(name="sma_cross", params={"fast": 10, "slow": 30, "quantity": 100}),
        risk="off",  # the vectorized side has no checks; the comparison is about look-ahead alone
    )


def test_vectorized_fills_at_the_signal_close_event_driven_at_the_next_open(data_dir: Path) -> None:
    cfg = _cfg(data_dir)
    report = compare_sma(cfg)
    bars = [b for b in read_bars(cfg.data.paths[0]) if isinstance(b, Bar)]
    by_ts = {b.ts_event: i for i, b in enumerate(bars)}
    assert report["vectorized"]["trades"] == report["event_driven"]["trades"] > 50
    assert len(report["paired_trades"]) == report["vectorized"]["trades"]  # the loop below checks every trade
    for pair in report["paired_trades"]:
        v, e = pair["vectorized"], pair["event_driven"]
        i = by_ts[v["ts"]]
        assert v["price"] == bars[i].close  # the look-ahead: the close that produced the signal
        assert e["ts"] == bars[i + 1].ts_event and e["price"] == bars[i + 1].open  # the next bar's open
        assert (v["side"], v["quantity"]) == (e["side"], e["quantity"])
    assert report["return_difference"] != 0
    assert any("look-ahead" in c for c in report["causes"])
    assert report["risk"] == "off"


def test_compare_runs_the_configured_risk_checks(data_dir: Path) -> None:
    """No ``[risk]`` section means the default rules, in compare as in backtest; on daily bars they pass every order
    of this strategy (the collar is taken around the last close; orders at the 16:00 close are for the next open)."""
    cfg = msgspec.structs.replace(_cfg(data_dir), risk=msgspec.UNSET)
    report = compare_sma(cfg)
    assert report["risk"] == "default"
    assert report["event_driven"]["trades"] == report["vectorized"]["trades"] > 50
    tight = msgspec.structs.replace(
        cfg, risk=RiskConfig(order=OrderChecks(sessions=("regular",), max_quantity=None, max_notional_usd=None))
    )
    refused = compare_sma(tight)  # a [risk] table keeps what it says: regular hours only refuses the 16:00 orders
    assert refused["risk"] == "configured" and refused["event_driven"]["trades"] == 0


def test_crossing_states_carry_the_last_non_zero_difference() -> None:
    closes = np.array([10, 10, 10, 12, 10, 10, 10], dtype=np.int64)
    states = crossing_states(closes, fast=1, slow=3)
    # averages: fast = close, slow = mean of last 3; ties keep the previous sign, first two bars have no state
    assert states.tolist() == [0, 0, 0, 1, -1, -1, -1]


def test_compare_command_prints_one_json_object(data_dir: Path, tmp_path: Path) -> None:
    path = data_dir / "backtrader-yahoo-daily" / "orcl-1995-2014.txt.gz"
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[data]\nkind = "bars"\npaths = ["{path}"]\n[strategy]\nname = "sma_cross"\n')
    result = CliRunner().invoke(app, ["compare", str(cfg), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["symbol"] == "ORCL" and report["bars"] == 5036
