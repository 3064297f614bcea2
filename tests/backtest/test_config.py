"""The run configuration: risk on unless switched off in so many words, money checked, files resolved, outputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tapeflow.backtest.config import BacktestConfig, check_output_dir, load_backtest_config
from tapeflow.config import decode_toml
from tapeflow.model import ConfigError
from tapeflow.risk.config import OrderChecks, RiskConfig


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


def test_risk_left_out_runs_the_documented_defaults() -> None:
    cfg = decode_toml("[data.synthetic]\nseed = 1\n", BacktestConfig)
    assert cfg.risk_mode == "default"
    assert cfg.risk_config() == RiskConfig()


def test_risk_table_is_configured_and_off_needs_the_word() -> None:
    configured = decode_toml("[risk.order]\nmax_quantity = 5\n", BacktestConfig)
    assert configured.risk_mode == "configured"
    assert configured.risk_config() == RiskConfig(order=OrderChecks(max_quantity=5))
    off = decode_toml('risk = "off"\n', BacktestConfig)
    assert (off.risk_mode, off.risk_config()) == ("off", None)


@pytest.mark.parametrize("capital", ["0", "0.00", "-5.00"])
def test_load_backtest_config_capital_not_positive_is_refused(tmp_path: Path, capital: str) -> None:
    path = _write(tmp_path, f'[portfolio]\ncapital = "{capital}"\n')
    with pytest.raises(ConfigError, match=rf"run\.toml: field `portfolio\.capital`: starting cash '{capital}' is not"):
        load_backtest_config(path)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[portfolio]\nsample_interval_ms = 0\n", r"portfolio\.sample_interval_ms`: Expected `int` >= 1"),
        ("[data]\nlimit = -1\n", r"data\.limit`: Expected `int` >= 1"),
        ("[latency.fixed]\nfeed_ns = -1\n", r"latency\.fixed\.feed_ns`: Expected `int` >= 0"),
        ("[risk.order]\nmax_quantity = -1\n", r"risk\.order\.max_quantity`: Expected `int` >= 1"),
        ("[risk.order]\nlocates = { AAPL = -100 }\n", r"risk\.order\.locates\[\.\.\.\]`: Expected `int` >= 0"),
        ("[risk.account]\nmin_net_liquidation_usd = -1\n", r"min_net_liquidation_usd`: Expected `int` >= 0"),
        (
            '[[fees.sec_fee]]\neffective = 2020-01-01\nrate = "-1"\n',
            r"field `fees\.sec_fee\[0\]\.rate`: -1 is negative; this is a charge",
        ),
        (
            '[[fees.finra_taf]]\neffective = 2020-01-01\nrate = "0.0001"\ncap = "NaN"\n',
            r"field `fees\.finra_taf\[0\]\.cap`: NaN is not a number of dollars",
        ),
        ('[fees.commission]\nminimum = "-1.00"\n', r"field `fees\.commission\.minimum`: -1\.00 is negative"),
        (
            '[fees.venues.XNAS]\ntaker = "0.003"\nmaker = "0.002"\nsub_dollar_taker_pct = "-0.1"\n',
            r"field `fees\.venues\.XNAS\.sub_dollar_taker_pct`: -0\.1 is negative",
        ),
    ],
)
def test_load_backtest_config_out_of_range_value_names_the_field(tmp_path: Path, text: str, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        load_backtest_config(_write(tmp_path, text))


def test_load_backtest_config_venue_rebate_is_a_negative_fee_and_allowed(tmp_path: Path) -> None:
    path = _write(tmp_path, '[fees.venues.XNAS]\ntaker = "-0.0005"\nmaker = "-0.0020"\n')
    assert str(load_backtest_config(path).fees.venues["XNAS"].taker) == "-0.0005"


def test_load_backtest_config_strategy_file_resolves_against_the_config_folder(tmp_path: Path) -> None:
    folder = tmp_path / "configs"
    (folder / "strats").mkdir(parents=True)
    (folder / "strats" / "mine.py").write_text(
        "from tapeflow.strategy.base import Strategy\n\nclass Mine(Strategy):\n"
        "    def __init__(self, strategy_id='mine'):\n        super().__init__(strategy_id)\n"
    )
    path = _write(folder, '[strategy]\nname = "strats/mine.py:Mine"\n')
    cfg = load_backtest_config(path)
    assert cfg.strategy.name == f"{(folder / 'strats' / 'mine.py').resolve()}:Mine"


def test_load_backtest_config_unknown_strategy_is_refused_before_any_run(tmp_path: Path) -> None:
    path = _write(tmp_path, '[strategy]\nname = "subprocess:run"\n')
    with pytest.raises(ConfigError, match=r"run\.toml: field `strategy\.name`: subprocess:run is a function"):
        load_backtest_config(path)


def test_check_output_dir_refuses_files_links_to_files_and_dangling_links(tmp_path: Path) -> None:
    existing = tmp_path / "results.parquet"
    existing.write_text("keep me")
    link = tmp_path / "link"
    os.symlink(existing, link)
    dangling = tmp_path / "dangling"
    os.symlink(tmp_path / "nowhere", dangling)
    for path, message in (
        (existing, r"results\.parquet is not a folder; results are several files"),
        (link, r"link is not a folder"),
        (existing / "sub", r"sub is not a folder \(.*results\.parquet is a file\)"),
        (dangling, r"dangling is a link to nothing"),
    ):
        with pytest.raises(ConfigError, match=r"^field `--out`: .*" + message):
            check_output_dir(path, field="--out")
    assert existing.read_text() == "keep me"


def test_check_output_dir_accepts_a_folder_or_a_new_path(tmp_path: Path) -> None:
    check_output_dir(tmp_path, field="--out")
    check_output_dir(tmp_path / "new" / "deeper", field="--out")
    assert not (tmp_path / "new").exists()  # checking creates nothing


LOBSTER_REL = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"


def test_relative_data_path_is_found_under_the_config_folder_whatever_the_working_directory(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "proj" / "data").mkdir(parents=True)
    target = tmp_path / "proj" / "data" / "aapl.zip"
    target.write_bytes((data_dir / LOBSTER_REL).read_bytes()[:100])
    cfg = tmp_path / "proj" / "run.toml"
    cfg.write_text('[data]\nkind = "lobster"\npaths = ["data/aapl.zip"]\n')
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert load_backtest_config(cfg).data.paths == (str(target),)


def test_data_root_from_the_config_applies_relative_to_the_config_folder(data_dir: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        f'[data]\nkind = "lobster"\nroot = "{os.path.relpath(data_dir, tmp_path)}"\npaths = ["{LOBSTER_REL}"]\n'
    )
    assert load_backtest_config(cfg).data.paths == (str(data_dir / LOBSTER_REL),)


def test_tapeflow_data_variable_is_a_data_root_outside_tests_too(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAPEFLOW_DATA", str(data_dir))
    cfg = tmp_path / "run.toml"
    cfg.write_text(f'[data]\nkind = "lobster"\npaths = ["{LOBSTER_REL}"]\n')
    assert load_backtest_config(cfg).data.paths == (str(data_dir / LOBSTER_REL),)


def test_missing_data_file_names_every_place_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPEFLOW_DATA", str(tmp_path / "root"))
    cfg = tmp_path / "run.toml"
    cfg.write_text('[data]\nkind = "lobster"\npaths = ["x/nope.zip"]\n')
    with pytest.raises(ConfigError) as info:
        load_backtest_config(cfg)
    assert str(info.value) == (
        f"{cfg}: field `data.paths[0]`: x/nope.zip: no such file; looked in {tmp_path}/x/nope.zip (the "
        f"configuration's folder), {tmp_path}/root/x/nope.zip (root from TAPEFLOW_DATA); fix the path"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('kind = "lobster"\ndate = 2019-12-30\n', "field `data.date`: `date` is the trading day of an ITCH file"),
        ('kind = "bars"\ndates = [2019-12-30]\n', "field `data.dates`: `dates` filters a parquet store by day"),
        (
            'kind = "itch"\npaths = ["sample.itch"]\n',
            "field `data.date`: {dir}/sample.itch: ITCH times count from midnight and the file name carries no trading "
            "day (Nasdaq's MMDDYYYY.NASDAQ_ITCH50); set `date = YYYY-MM-DD` in [data]",
        ),
    ],
)
def test_data_fields_for_another_kind_or_an_undated_itch_file_are_refused_naming_the_field(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "sample.itch").write_bytes(b"\x00")
    (tmp_path / "x.csv").write_bytes(b"\x00")
    cfg = tmp_path / "run.toml"
    cfg.write_text(f"[data]\n{text}" + ('paths = ["x.csv"]\n' if "paths" not in text else ""))
    with pytest.raises(ConfigError) as info:
        load_backtest_config(cfg)
    assert str(info.value).startswith(f"{cfg}: {message.format(dir=tmp_path)}")


def test_readme_run_toml_finds_its_data_from_any_folder(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("```toml\n# run.toml\n", 1)[1].split("```", 1)[0]
    cfg = tmp_path / "somewhere" / "run.toml"
    cfg.parent.mkdir()
    cfg.write_text(block)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TAPEFLOW_DATA", str(data_dir))
    (path,) = load_backtest_config(cfg).data.paths
    assert Path(path) == data_dir / LOBSTER_REL
