"""The demo's configuration: the built-in one has a [risk] section; a --config file without one gets the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from tapeflow.model import ConfigError
from tapeflow.report.demo import build_config


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
