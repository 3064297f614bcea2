"""sweep.config: every task is built and checked before anything runs; keys and seeds are stable."""

from __future__ import annotations

from pathlib import Path

import pytest

from tapeflow.model.errors import ConfigError
from tapeflow.sweep.config import load_sweep, task_seed
from tests.sweep.helpers import BASE, GRID, write_sweep


def test_task_seed_is_a_stable_hash_of_sweep_seed_and_key() -> None:
    # a fixed value: a change of hash function (or Python's salted hash) would change every seed of a resumed sweep
    assert task_seed(1, "AAPL/2012-06-21|a=1") == task_seed(1, "AAPL/2012-06-21|a=1") == 1507707434459366392
    assert task_seed(2, "AAPL/2012-06-21|a=1") != task_seed(1, "AAPL/2012-06-21|a=1")
    assert task_seed(1, "AAPL/2012-06-21|a=2") != task_seed(1, "AAPL/2012-06-21|a=1")
    assert 0 <= task_seed(123, "x") < 2**63


def test_grid_expands_every_combination_in_the_order_written(tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path))
    assert len(sweep.tasks) == 8
    assert sweep.param_names == ("data.synthetic.seed", "strategy.params.threshold", "exchange.queue_model")
    first, last = sweep.tasks[0], sweep.tasks[-1]
    assert first.key == '*/*|data.synthetic.seed=7,strategy.params.threshold=0.2,exchange.queue_model="FRONT"'
    assert last.key == '*/*|data.synthetic.seed=8,strategy.params.threshold=0.6,exchange.queue_model="BACK"'
    assert [t.index for t in sweep.tasks] == list(range(8))
    assert len({t.key for t in sweep.tasks}) == len({t.seed for t in sweep.tasks}) == 8


def test_grid_values_reach_the_task_configuration_with_their_declared_type(tmp_path: Path) -> None:
    last = load_sweep(write_sweep(tmp_path)).tasks[-1]
    assert last.config.data.synthetic.seed == 8
    assert last.config.strategy.params["threshold"] == 0.6
    assert last.config.exchange.queue_model.name == "BACK"  # the text became the enum member


def test_an_unknown_dotted_field_is_refused_naming_it(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, GRID.replace('"exchange.queue_model"', '"exchange.queue_modle"'))
    with pytest.raises(ConfigError, match=r"exchange\.queue_modle.*no field 'queue_modle'"):
        load_sweep(path)


def test_a_value_of_the_wrong_type_is_refused_before_anything_runs(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, GRID.replace('["FRONT", "BACK"]', '["FRONT", "SIDEWAYS"]'))
    with pytest.raises(ConfigError, match=r"exchange\.queue_model.*'SIDEWAYS' does not fit"):
        load_sweep(path)


def test_a_strategy_param_the_strategy_refuses_names_the_task(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, GRID.replace("[0.2, 0.6]", "[0.2, 1.5]"))
    with pytest.raises(ConfigError, match=r"task \*/\*\|.*threshold=1\.5.*strategy\.params\.threshold"):
        load_sweep(path)


def test_random_search_draws_the_same_samples_from_the_same_seed(tmp_path: Path) -> None:
    text = """
[sweep]
seed = 5
retries = {retries}

[sweep.random]
samples = 6

[sweep.random.params]
"strategy.params.threshold" = {{ min = 0.1, max = 0.9 }}
"strategy.params.max_position" = [100, 300, 500]
"""
    a = load_sweep(write_sweep(tmp_path, text, name="a.toml"))
    b = load_sweep(write_sweep(tmp_path, text, name="b.toml"))
    c = load_sweep(write_sweep(tmp_path, text.replace("seed = 5", "seed = 6"), name="c.toml"))
    assert [t.params for t in a.tasks] == [t.params for t in b.tasks]
    assert [t.params for t in a.tasks] != [t.params for t in c.tasks]
    for t in a.tasks:
        assert 0.1 <= float(t.params["strategy.params.threshold"]) <= 0.9
        assert t.params["strategy.params.max_position"] in (100, 300, 500)


def test_grid_and_random_together_are_refused(tmp_path: Path) -> None:
    text = GRID + '\n[sweep.random]\nsamples = 2\n[sweep.random.params]\n"strategy.params.quantity" = [100]\n'
    with pytest.raises(ConfigError, match="not both"):
        load_sweep(write_sweep(tmp_path, text))


def test_seed_field_receives_each_tasks_own_seed(tmp_path: Path) -> None:
    text = GRID.replace('"data.synthetic.seed" = [7, 8]\n', "").replace(
        "retries = {retries}", 'retries = {retries}\nseed_field = "data.synthetic.seed"'
    )
    sweep = load_sweep(write_sweep(tmp_path, text))
    assert [t.config.data.synthetic.seed for t in sweep.tasks] == [t.seed for t in sweep.tasks]


def test_a_base_file_is_read_relative_to_the_sweep_file(tmp_path: Path) -> None:
    (tmp_path / "base.toml").write_text(BASE.format(events=1000, strategy="imbalance_quoter"))
    path = tmp_path / "s.toml"
    path.write_text('base = "base.toml"\n' + GRID.format(retries=0))
    sweep = load_sweep(path)
    assert len(sweep.tasks) == 8 and sweep.tasks[0].retries == 0
    assert sweep.tasks[0].config.data.synthetic.events_per_symbol == 1000


def test_base_and_inline_sections_together_are_refused(tmp_path: Path) -> None:
    (tmp_path / "base.toml").write_text(BASE.format(events=1000, strategy="imbalance_quoter"))
    path = tmp_path / "s.toml"
    inline = BASE.format(events=1000, strategy="imbalance_quoter")
    path.write_text('base = "base.toml"\n' + inline + GRID.format(retries=1))
    with pytest.raises(ConfigError, match="either `base` or inline sections"):
        load_sweep(path)


def test_a_file_without_sweep_section_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(BASE.format(events=1000, strategy="imbalance_quoter"))
    with pytest.raises(ConfigError, match=r"no \[sweep\] section"):
        load_sweep(path)


def test_synthetic_days_are_refused(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, GRID.replace("retries = {retries}", "retries = {retries}\ndays = [2024-06-21]"))
    with pytest.raises(ConfigError, match=r"sweep\.days"):
        load_sweep(path)


LOBSTER = """
[data]
kind = "lobster"
root = "{root}"

[strategy]
name = "imbalance_quoter"

[risk]
order = {{ max_quantity = 1000 }}

[sweep]
symbols = ["AAPL", "AMZN", "GOOG"]
days = [2012-06-21]
path_template = "lobster-samples-2012-06-21/LOBSTER_SampleFile_{{symbol}}_{{day}}_1.zip"

[sweep.grid]
"strategy.params.threshold" = [0.3, 0.5]
"""


def test_a_path_template_makes_one_task_per_symbol_day_and_parameter_set(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "lobster.toml"
    path.write_text(LOBSTER.format(root=data_dir))
    sweep = load_sweep(path)
    assert [t.slice for t in sweep.tasks] == [s for s in ("AAPL/2012-06-21", "AMZN/2012-06-21", "GOOG/2012-06-21")
                                              for _ in range(2)]  # fmt: skip
    goog = sweep.tasks[-1].config.data.paths
    assert goog == (str(data_dir / "lobster-samples-2012-06-21/LOBSTER_SampleFile_GOOG_2012-06-21_1.zip"),)


def test_a_missing_file_of_one_symbol_day_is_refused_before_anything_runs(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "lobster.toml"
    path.write_text(LOBSTER.format(root=data_dir).replace('"GOOG"]', '"GOOG", "MSFT"]'))
    with pytest.raises(ConfigError, match="MSFT"):
        load_sweep(path)
