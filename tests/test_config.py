from __future__ import annotations

from pathlib import Path

import pytest

from tapeflow.backtest.config import BacktestConfig
from tapeflow.config import checkout_data_root, data_root, decode_toml, is_loopback, load_config, resolve_input
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


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_load_config_empty_file_is_refused_naming_the_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"run\.toml: the file is empty: it sets nothing; give at least one section"):
        load_config(path, BacktestConfig)


def test_load_config_with_one_setting_decodes_it(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text("[data.synthetic]\nseed = 3\n")
    assert load_config(path, BacktestConfig).data.synthetic.seed == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[data]\nkind = "csv"\n',
            r"`data\.kind`: Invalid enum value 'csv'; valid values: 'bars', 'dbn', 'itch', 'lobster', 'parquet', "
            r"'synthetic', 'taq'; ",
        ),
        ('risk = "on"\n', r"field `risk`: Invalid enum value 'on'; valid values: 'off' or a table; fix"),
        ('[risk.order]\nsessions = ["night"]\n', r"`risk\.order\.sessions\[0\]`: .*valid values: 'post', 'pre'"),
        (
            '[exchange]\nqueue_model = "X"\n',
            r"`exchange\.queue_model`: .*values: 'FRONT', 'BACK', 'PROPORTIONAL'",
        ),
    ],
)
def test_decode_toml_bad_choice_lists_the_valid_values(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        decode_toml(text, BacktestConfig)


def test_decode_toml_struct_check_error_names_the_full_field_and_file() -> None:
    text = "[latency.fixed]\nfeed_ns = 10\ninsert_response_ns = 5\n"
    with pytest.raises(
        ConfigError, match=r"^run\.toml: field `latency\.fixed\.insert_response_ns`: 5 ns is shorter than feed_ns"
    ):
        decode_toml(text, BacktestConfig, path="run.toml")


def test_resolve_input_absolute_path_is_taken_as_is_and_a_missing_one_says_so(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x")
    assert resolve_input(str(tmp_path / "a.csv"), base=None, root=None, field="f") == tmp_path / "a.csv"
    with pytest.raises(ConfigError) as info:
        resolve_input(str(tmp_path / "b.csv"), base=None, root=None, field="f")
    assert str(info.value) == f"field `f`: {tmp_path}/b.csv: no such file; looked in {tmp_path}/b.csv; fix the path"


def test_resolve_input_prefers_the_base_folder_over_the_root(tmp_path: Path) -> None:
    for folder in ("base", "root"):
        (tmp_path / folder / "d").mkdir(parents=True)
        (tmp_path / folder / "d" / "f.csv").write_text(folder)
    found = resolve_input("d/f.csv", base=tmp_path / "base", root=tmp_path / "root", field="f")
    assert found == tmp_path / "base" / "d" / "f.csv"
    (tmp_path / "base" / "d" / "f.csv").unlink()
    found = resolve_input("d/f.csv", base=tmp_path / "base", root=tmp_path / "root", field="f")
    assert found == tmp_path / "root" / "d" / "f.csv"


def test_resolve_input_without_any_root_says_how_to_set_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"set a data root \(`root` in \[data\], or \$TAPEFLOW_DATA\)"):
        resolve_input("nope.zip", base=tmp_path, root=None, field="data.paths[0]")


def test_data_root_setting_beats_the_variable_and_is_relative_to_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAPEFLOW_DATA", "/from/env")
    assert data_root("shared", tmp_path) == (tmp_path / "shared", "[data] root")
    assert data_root(None, tmp_path) == (Path("/from/env"), "TAPEFLOW_DATA")
    monkeypatch.delenv("TAPEFLOW_DATA")
    root, source = data_root(None, tmp_path)
    assert source.startswith("the default")
    assert root == checkout_data_root()


@pytest.mark.parametrize(
    ("host", "stays_here"),
    [("127.0.0.1", True), ("127.5.6.7", True), ("::1", True), ("localhost", True), ("0.0.0.0", False),
     ("192.168.1.2", False), ("example.com", False), ("", False)],
)  # fmt: skip
def test_is_loopback_is_true_only_for_addresses_that_stay_on_this_machine(host: str, stays_here: bool) -> None:
    assert is_loopback(host) is stays_here
