"""``tapeflow paper``'s configuration: the backtest's sections and checks, ``[paper]``'s speed, one tape."""

from __future__ import annotations

from fractions import Fraction
from itertools import islice
from pathlib import Path

import pytest

from tapeflow.data.lobster_events import iter_events
from tapeflow.data.store_writer import write_store
from tapeflow.model.errors import ConfigError
from tapeflow.paper.config import build_tape, load_paper_config, parse_speed

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    ("text", "speed"), [("step", None), ("STEP", None), ("1x", 1), ("10x", 10), ("0.5x", Fraction(1, 2))]
)
def test_parse_speed_reads_step_and_positive_multiples_exactly(text: str, speed: Fraction | None) -> None:
    assert parse_speed(text) == speed


@pytest.mark.parametrize("text", ["", "x", "10", "fast", "0x", "-2x", "1/0x"])
def test_parse_speed_refuses_anything_else_naming_the_field(text: str) -> None:
    with pytest.raises(ConfigError, match="field `--speed`: speed"):
        parse_speed(text, field="--speed")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "paper.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('[strategy]\nname = "imbalance_quoter"\n', "strategy"),  # the client is the strategy: refused, not ignored
        ('[portfolio]\ncapital = "-5"\n', "portfolio.capital"),
        ('[paper]\nspeed = "fast"\n', "paper.speed"),
        ('[paper]\nseed = "one"\n', "paper.seed"),
        ('[latency]\nlocation = "the moon"\n', "latency.location"),
        ('[data]\nkind = "lobster"\npaths = ["nowhere.zip"]\n', "data.paths[0]"),
    ],
)
def test_a_bad_field_is_refused_naming_the_file_and_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_paper_config(path)
    assert str(path) in str(raised.value)
    assert f"`{field}" in str(raised.value)


@pytest.mark.parametrize("name", ["paper_lobster.toml", "paper_taq.toml", "paper_bars.toml"])
def test_every_paper_example_loads_with_its_data_found(name: str, data_dir: Path) -> None:
    cfg = load_paper_config(EXAMPLES / name)
    assert cfg.data.paths and all(Path(p).is_absolute() and Path(p).exists() for p in cfg.data.paths)


def test_the_parquet_example_replays_a_store_as_an_order_level_tape(tmp_path: Path, aapl: Path) -> None:
    events = list(islice(iter_events(aapl), 3_000))
    write_store(events, tmp_path / "store")
    text = (EXAMPLES / "paper_parquet.toml").read_text(encoding="utf-8")
    config = _write(tmp_path, text.replace('"../build/aapl-store"', repr(str(tmp_path / "store"))))
    cfg = load_paper_config(config)
    tape, level = build_tape(cfg)
    assert (level, parse_speed(cfg.paper.speed)) == ("L3", 1)
    assert [e.ts_init for e in tape] == [e.ts_init for e in events]


def test_daily_bars_get_the_backtests_default_risk_extended_sessions_included(data_dir: Path) -> None:
    cfg = load_paper_config(EXAMPLES / "paper_bars.toml")
    node = cfg.node_config("L2")
    assert node.risk is not None and node.risk.order.sessions == ("pre", "regular", "post")
    assert node.fees is None  # no_fees = true at the top level
    assert node.portfolio is not None and node.portfolio.starting_cash == 100_000 * 10_000


def test_two_taq_files_become_one_tape_in_time_order(data_dir: Path) -> None:
    tape, level = build_tape(load_paper_config(EXAMPLES / "paper_taq.toml"))
    events = list(islice(tape, 5_000))
    assert level == "L1"
    assert [e.ts_init for e in events] == sorted(e.ts_init for e in events)
    assert {type(e).__name__ for e in events} >= {"Quote", "Trade"}
