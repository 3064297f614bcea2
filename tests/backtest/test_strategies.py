"""Strategy loading: only ``Strategy`` subclasses are ever called, and params go through a typed struct first."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tapeflow.backtest.config import StrategyConfig
from tapeflow.backtest.strategies import STRATEGIES, build_strategy, resolve_class
from tapeflow.model import ConfigError
from tapeflow.strategy.base import Strategy
from tapeflow.strategy.examples import EmaQuoteCross, ImbalanceQuoter, MlSignal, SmaCross

MARKER_CODE = """
from pathlib import Path
import msgspec
from tapeflow.strategy.base import Strategy

MARKER = Path(__file__).with_name("called.txt")


class NotAStrategy:
    def __init__(self, **kwargs):
        MARKER.write_text("called")


def make(**kwargs):
    MARKER.write_text("called")


class Typed(Strategy):
    class Params(msgspec.Struct, forbid_unknown_fields=True):
        size: int = 1

    def __init__(self, strategy_id="typed", *, size=1):
        MARKER.write_text("called")
        super().__init__(strategy_id)
        self.size = size


class Untyped(Strategy):
    def __init__(self, strategy_id="untyped", *, size=1, label="x"):
        super().__init__(strategy_id)
        self.size, self.label = size, label
"""


@pytest.fixture
def strategy_file(tmp_path: Path) -> Path:
    path = tmp_path / "mine.py"
    path.write_text(MARKER_CODE)
    return path


def _build(name: str, params: dict[str, Any] | None = None, base_dir: Path | None = None) -> Strategy:
    return build_strategy(StrategyConfig(name=name, params=params or {}), base_dir=base_dir)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("subprocess:run", r"field `strategy\.name`: subprocess:run is a function, not a class"),
        ("os:system", r"field `strategy\.name`: os:system is a builtin_function_or_method, not a class"),
        ("builtins:eval", r"field `strategy\.name`: builtins:eval is a builtin_function_or_method, not a class"),
        ("builtins:object", r"builtins:object is not a Strategy: name a subclass"),
        ("tapeflow.strategy.base:Strategy", r"is not a Strategy: name a subclass"),
        ("no_such_module_tf:Thing", r"no module 'no_such_module_tf' \(importing 'no_such_module_tf'\)"),
        ("tapeflow.strategy.base:Nope", r"tapeflow\.strategy\.base has no 'Nope'; check the class name"),
        (
            "not a name",
            r"unknown strategy 'not a name': use one of ema_quote_cross, imbalance_quoter, ml_signal, sma_cross",
        ),
        ("os.path;x:y", r"'os\.path;x' is not a module name"),
    ],
)
def test_resolve_class_names_that_are_not_strategies_are_refused(name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_class(name)


def test_build_strategy_subprocess_run_with_params_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    with pytest.raises(ConfigError, match="not a class"):
        _build("subprocess:run", {"args": f"touch {marker}", "shell": True})
    assert not marker.exists()


def test_build_strategy_non_strategy_class_in_a_file_is_never_instantiated(strategy_file: Path) -> None:
    with pytest.raises(ConfigError, match=r"mine\.py:NotAStrategy is not a Strategy"):
        _build("mine.py:NotAStrategy", {"size": 1}, base_dir=strategy_file.parent)
    with pytest.raises(ConfigError, match=r"mine\.py:make is a function, not a class"):
        _build("mine.py:make", base_dir=strategy_file.parent)
    assert not (strategy_file.parent / "called.txt").exists()


def test_build_strategy_wrong_param_type_is_refused_before_the_constructor_runs(strategy_file: Path) -> None:
    with pytest.raises(ConfigError, match=r"^field `strategy\.params\.size`: Expected `int`, got `str`; fix"):
        _build(f"{strategy_file}:Typed", {"size": "big"})
    with pytest.raises(ConfigError, match=r"^field `strategy\.params\.colour`: Typed has no parameter 'colour'"):
        _build(f"{strategy_file}:Typed", {"colour": "red"})
    assert not (strategy_file.parent / "called.txt").exists()


def test_build_strategy_from_a_file_relative_to_base_dir_builds_it(strategy_file: Path) -> None:
    strategy = _build("mine.py:Typed", {"size": 3}, base_dir=strategy_file.parent)
    assert type(strategy).__name__ == "Typed" and strategy.strategy_id == "typed"
    assert getattr(strategy, "size") == 3  # noqa: B009 - the class is defined in the file, not importable here


def test_build_strategy_missing_file_names_the_resolved_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"field `strategy\.name`: .*gone\.py: no such file"):
        _build("gone.py:Thing", base_dir=tmp_path)


def test_build_strategy_file_that_fails_to_load_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(ConfigError, match=r"broken\.py: loading failed: RuntimeError: boom"):
        _build("broken.py:Thing", base_dir=tmp_path)


def test_build_strategy_without_params_struct_takes_declared_scalars_only(strategy_file: Path) -> None:
    strategy = _build(f"{strategy_file}:Untyped", {"size": 5, "label": "y"})
    assert (getattr(strategy, "size"), getattr(strategy, "label")) == (5, "y")  # noqa: B009
    with pytest.raises(ConfigError, match=r"^field `strategy\.params\.speed`: Untyped has no parameter 'speed'"):
        _build(f"{strategy_file}:Untyped", {"speed": 1})
    with pytest.raises(ConfigError, match=r"^field `strategy\.params\.size`: list values need a typed `Params`"):
        _build(f"{strategy_file}:Untyped", {"size": [1, 2]})


def test_build_strategy_id_comes_from_the_id_field_not_params() -> None:
    assert build_strategy(StrategyConfig(name="sma_cross", id="mine")).strategy_id == "mine"
    with pytest.raises(ConfigError, match=r"field `strategy\.params\.strategy_id`: set the strategy's id"):
        _build("sma_cross", {"strategy_id": "x"})


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("sma_cross", {"fast": "ten"}, r"^field `strategy\.params\.fast`: Expected `int`, got `str`"),
        ("sma_cross", {"fast": 0}, r"^field `strategy\.params\.fast`: Expected `int` >= 1"),
        ("sma_cross", {"fast": 30, "slow": 10}, r"^field `strategy\.params`: need fast < slow, got fast=30, slow=10"),
        ("sma_cross", {"quantity": 1.5}, r"^field `strategy\.params\.quantity`: Expected `int`, got `float`"),
        ("imbalance_quoter", {"threshold": 2.0}, r"^field `strategy\.params\.threshold`: Expected `float` <= 1"),
        ("imbalance_quoter", {"symbols": ["AAPL", 3]}, r"^field `strategy\.params\.symbols\[1\]`: Expected `str`"),
        ("ema_quote_cross", {"speed": 1}, r"EmaQuoteCross has no parameter 'speed' \(it takes: fast, quantity, "),
        ("ml_signal", {"threshold_bps": -1.0}, r"^field `strategy\.params\.threshold_bps`: Expected `float` >= 0"),
        ("ml_signal", {"order": "stop"}, r"^field `strategy\.params\.order`: Invalid enum value 'stop'"),
    ],
)
def test_build_strategy_builtin_params_are_typed(name: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _build(name, params)


@pytest.mark.parametrize("cls", [EmaQuoteCross, ImbalanceQuoter, MlSignal, SmaCross])
def test_builtin_params_struct_matches_the_constructor_keywords_and_defaults(cls: type[Strategy]) -> None:
    assert cls.Params is not None
    assert cls.__name__ in {target.rpartition(":")[2] for target in STRATEGIES.values()}
    signature = inspect.signature(cls).parameters
    defaults = msgspec.structs.asdict(cls.Params())
    assert defaults  # every built-in has parameters to check
    for name, value in defaults.items():
        assert signature[name].default == value, name


@settings(max_examples=60, deadline=None)
@given(fast=st.integers(1, 50), extra=st.integers(1, 50), quantity=st.integers(1, 10_000))
def test_build_strategy_valid_sma_params_reach_the_strategy(fast: int, extra: int, quantity: int) -> None:
    strategy = _build("sma_cross", {"fast": fast, "slow": fast + extra, "quantity": quantity})
    assert isinstance(strategy, SmaCross)
    assert (strategy.fast, strategy.slow, strategy.quantity) == (fast, fast + extra, quantity)


def test_docs_strategy_named_by_file_with_its_params_struct_builds(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "BACKTEST.md").read_text()
    blocks = doc.split("```python\n")
    assert len(blocks) >= 3  # the strategy, then its params struct
    strategy_code, params_code = blocks[1].split("```")[0], blocks[2].split("```")[0]
    params_code = params_code.split("class LeanBuyer(Strategy):")[0]  # the struct; the doc elides the class body
    (tmp_path / "leanbuyer.py").write_text(f"{strategy_code}\n{params_code}\nLeanBuyer.Params = LeanBuyerParams\n")
    strategy = _build("leanbuyer.py:LeanBuyer", {"threshold": 0.5}, base_dir=tmp_path)
    assert getattr(strategy, "threshold") == 0.5  # noqa: B009
    with pytest.raises(ConfigError, match=r"^field `strategy\.params\.threshold`: Expected `float` <= 1"):
        _build("leanbuyer.py:LeanBuyer", {"threshold": 2}, base_dir=tmp_path)


@pytest.mark.parametrize("module", ["builtins", "os", "subprocess", "shutil", "importlib", "pickle"])
def test_resolve_class_no_attribute_of_a_dangerous_module_is_a_strategy(module: str) -> None:
    names = [n for n in dir(__import__(module)) if n.isidentifier()]
    assert len(names) > 10
    refused = 0
    for name in names:
        with pytest.raises(ConfigError, match=r"field `strategy\.name`: .*(not a class|not a Strategy|has no)"):
            resolve_class(f"{module}:{name}")
        refused += 1
    assert refused == len(names)
