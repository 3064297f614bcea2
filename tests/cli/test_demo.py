"""The demo's configuration: the built-in one has a [risk] section; a --config file without one gets the defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tapeflow.cli import app
from tapeflow.cli.demo import build_config
from tapeflow.model import ConfigError


def test_build_config_builtin_has_configured_risk_and_given_overrides() -> None:
    cfg = build_config(None, events_per_symbol=500, seed=4)
    assert cfg.risk_mode == "configured"
    assert (cfg.data.synthetic.events_per_symbol, cfg.data.synthetic.seed) == (500, 4)


def test_build_config_file_without_risk_runs_default_rules(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('[strategy]\nname = "imbalance_quoter"\n')
    assert build_config(path, None, None).risk_mode == "default"


def test_build_config_file_is_checked_whole(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('[portfolio]\ncapital = "0"\n')
    with pytest.raises(ConfigError, match=r"run\.toml: field `portfolio\.capital`: starting cash '0' is not positive"):
        build_config(path, None, None)


def _lobster_config(tmp_path: Path, data_dir: Path) -> Path:
    path = tmp_path / "run.toml"
    zipped = data_dir / "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
    path.write_text(f'no_fees = true\n[data]\nkind = "lobster"\npaths = ["{zipped}"]\nlimit = 5000\n')
    return path


def test_demo_config_with_real_data_runs_on_that_data(tmp_path: Path, data_dir: Path) -> None:
    cfg = build_config(_lobster_config(tmp_path, data_dir), None, None)
    assert cfg.data.kind == "lobster" and cfg.data.limit == 5000
    result = CliRunner().invoke(app, ["demo", "--config", str(tmp_path / "run.toml"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["data"], report["level"], report["symbols"]) == ("lobster", "L3", ["AAPL"])
    assert report["engine"]["feed_events"] == 5000 and "seed" not in report


def test_demo_events_or_seed_with_real_data_is_refused_naming_both(tmp_path: Path, data_dir: Path) -> None:
    path = _lobster_config(tmp_path, data_dir)
    with pytest.raises(
        ConfigError,
        match=r"field `data.kind`: --events and --seed shape the synthetic market, but \[data\] kind is 'lobster'",
    ):
        build_config(path, 100, 3)


def test_demo_config_synthetic_data_section_is_honoured(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('[data]\nlimit = 700\n[data.synthetic]\nsymbols = ["KO"]\nevents_per_symbol = 900\n')
    cfg = build_config(path, None, seed=5)
    assert (cfg.data.limit, cfg.data.synthetic.symbols, cfg.data.synthetic.seed) == (700, ("KO",), 5)
