"""``tapeflow.backtest`` exports what a notebook or a strategy in the user's own file needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tapeflow.backtest as api


def test_every_exported_name_is_there() -> None:
    assert {"Backtest", "BacktestConfig", "load_backtest_config", "run_backtest_config"} <= set(api.__all__)
    missing = [name for name in api.__all__ if not hasattr(api, name)]
    assert missing == []


def test_run_backtest_config_from_python_returns_the_backtest_and_its_report() -> None:
    cfg = api.BacktestConfig(data=api.DataConfig(limit=500))
    bt, report = api.run_backtest_config(cfg)
    assert isinstance(bt, api.Backtest)
    assert report["engine"]["feed_events"] == 500 * len(cfg.data.synthetic.symbols)


def test_a_script_in_the_users_folder_imports_the_api_without_pythonpath(tmp_path: Path) -> None:
    script = tmp_path / "mine.py"
    script.write_text(
        "from tapeflow.backtest import Backtest, BacktestConfig, DataConfig, run_backtest_config\n"
        "bt, report = run_backtest_config(BacktestConfig(data=DataConfig(limit=200)))\n"
        "print(type(bt).__name__, report['engine']['feed_events'])\n"
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["Backtest", str(200 * 4)]
