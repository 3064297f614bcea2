from __future__ import annotations

import pytest

from tapeflow.backtest.config import BacktestConfig
from tapeflow.config import decode_toml
from tapeflow.model import ConfigError


def test_defaults_decode_from_empty_toml() -> None:
    assert decode_toml("", BacktestConfig) == BacktestConfig()


def test_unknown_field_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown field `speed`"):
        decode_toml("[strategy]\nspeed = 1\n", BacktestConfig)


def test_wrong_type_names_the_field_and_file() -> None:
    with pytest.raises(ConfigError, match=r"run\.toml: field `data\.synthetic\.seed`: Expected `int`, got `str`"):
        decode_toml('[data.synthetic]\nseed = "seven"\n', BacktestConfig, path="run.toml")


def test_invalid_toml_is_refused() -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        decode_toml("[market\n", BacktestConfig)
