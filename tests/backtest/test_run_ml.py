"""A backtest with ``[ml]``: the parts run before the strategy, models repeat exactly across runs (inline and
through the process pool), are stored by hash in the output, the pool is closed even when the run fails, and
``compare_frozen`` reports a retrained and a frozen run side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pytest
from typer.testing import CliRunner

from tapeflow.backtest import run as run_module
from tapeflow.backtest.config import AuditSection, BacktestConfig, DataConfig, StrategyConfig
from tapeflow.backtest.run import build_backtest, run_backtest_config
from tapeflow.cli import app
from tapeflow.compliance import SqliteAuditStore, decode_row
from tapeflow.config import SyntheticConfig
from tapeflow.ml.config import MlSection
from tapeflow.ml.pool import TrainingPool
from tapeflow.ml.predictor import Predictor
from tapeflow.model.errors import ConfigError
from tapeflow.model.orders import SubmitOrder
from tapeflow.risk.config import OrderChecks, RiskConfig
from tapeflow.strategy.examples.ml_signal import MlSignal

SECTION = MlSection(
    model_id="ml",
    sample_interval_ms=100,
    horizon_ms=500,
    window_s=10,
    interval_s=5,
    embargo_ms=100,
    effect_delay_ms=700,
    trainer="inline",
    wait_timeout_s=60.0,
)


def config(**ml: Any) -> BacktestConfig:
    return BacktestConfig(
        data=DataConfig(
            kind="synthetic", synthetic=SyntheticConfig(symbols=("AAA", "BBB"), events_per_symbol=20_000, seed=3)
        ),
        strategy=StrategyConfig(name="ml_signal", params={"threshold_bps": 0.0, "quantity": 100, "max_position": 300}),
        risk=RiskConfig(order=OrderChecks(locates={"AAA": 1_000, "BBB": 1_000})),
        ml=msgspec.structs.replace(SECTION, **ml),
    )


def test_an_ml_backtest_retrains_predicts_and_trades_on_the_model(tmp_path: Path) -> None:
    bt, report = run_backtest_config(config(), output_dir=tmp_path)
    figures = report["ml"]["retrained"]
    assert set(report["ml"]) == {"retrained"}
    assert figures["updates"] == len(figures["models"]) >= 3 and figures["failures"] == 0
    assert [m["version"] for m in figures["models"]] == list(range(1, figures["updates"] + 1))
    assert figures["predictions"] > 100 and 0.0 <= figures["hit_rate"] <= 1.0
    assert report["summary"]["orders"] > 0 and figures["pnl_units"] == report["summary"]["pnl_units"]
    stored = {p.stem for p in (tmp_path / "models").glob("*.tfml")}
    assert stored == {m["hash"] for m in figures["models"]}
    components = bt.kernel._components
    predictor = next(i for i, c in enumerate(components) if isinstance(c, Predictor))
    strategy = next(i for i, c in enumerate(components) if isinstance(c, MlSignal))
    assert predictor < strategy  # the strategy's handlers see the model in force


def test_two_runs_and_the_process_pool_give_the_same_models_and_results() -> None:
    _, first = run_backtest_config(config())
    _, second = run_backtest_config(config())
    _, pooled = run_backtest_config(config(trainer="pool"))
    assert first["ml"] == second["ml"] == pooled["ml"]
    assert first["summary"] == second["summary"] == pooled["summary"]


class _SpyPool(TrainingPool):
    made: ClassVar[list[_SpyPool]] = []

    def __init__(self, workers: int = 1, *, warm: bool = True) -> None:
        super().__init__(workers, warm=False)
        self.closed = False
        _SpyPool.made.append(self)

    def close(self, *, wait: bool = True) -> None:
        self.closed = True
        super().close(wait=wait)


def test_the_pool_is_closed_after_a_run_that_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("planted failure in the middle of a run")

    monkeypatch.setattr(run_module, "TrainingPool", _SpyPool)
    monkeypatch.setattr(run_module, "build_backtest", boom)
    with pytest.raises(RuntimeError, match="planted"):
        run_backtest_config(config(trainer="pool"))
    assert [p.closed for p in _SpyPool.made] == [True]


def test_compare_frozen_reports_the_retrained_and_the_frozen_run() -> None:
    _, report = run_backtest_config(config(compare_frozen=True))
    retrained, frozen = report["ml"]["retrained"], report["ml"]["frozen"]
    assert retrained["updates"] >= 3 and frozen["updates"] == 1
    assert frozen["models"] == retrained["models"][:1]  # the same first window, then frozen
    for figures in (retrained, frozen):
        assert figures["predictions"] > 0 and figures["hit_rate"] is not None and figures["failures"] == 0
        assert isinstance(figures["pnl"], str)
    assert retrained["pnl_units"] == report["summary"]["pnl_units"]


def test_every_order_in_the_audit_trail_names_the_model_in_force_when_it_was_decided(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    cfg = msgspec.structs.replace(config(), audit=AuditSection(path=str(db)))
    _, report = run_backtest_config(cfg)
    models = report["ml"]["retrained"]["models"]
    assert len(models) >= 3
    rows = list(SqliteAuditStore(db, readonly=True).rows())
    kinds = [r.kind for r in rows]
    assert kinds.count("ModelUpdated") == len(models) and kinds.count("Prediction") > 100
    orders = [decode_row(r) for r in rows if r.kind == "SubmitOrder"]
    assert len(orders) == report["summary"]["orders"] > 0
    named = set()
    for event, cause in orders:
        assert isinstance(event, SubmitOrder) and cause is not None
        in_force = [m for m in models if m["ts"] <= event.ts_event]
        assert in_force, "an order before the first model: the strategy trades only on predictions"
        k = in_force[-1]
        assert cause.models == {"ml": k["version"]} and cause.model_hashes == {"ml": k["hash"]}
        assert cause.signal is not None and cause.signal.reason.startswith("model ml version ")
        named.add(k["version"])
    assert len(named) >= 2  # orders under several models, each named right
    event, cause = orders[-1]
    assert isinstance(event, SubmitOrder) and cause is not None
    shown = CliRunner().invoke(app, ["audit", "show", str(db), "--order", event.client_order_id])
    assert shown.exit_code == 0, shown.stdout
    version, digest = cause.models["ml"], cause.model_hashes["ml"]
    assert f"    models: ml version {version} ({digest[:12]})" in shown.stdout.splitlines()


def test_an_assembly_without_the_ml_parts_of_an_ml_configuration_is_refused() -> None:
    with pytest.raises(ConfigError, match="does not run a model") as info:
        build_backtest(config(), MlSignal(), "L2")
    assert info.value.field == "ml"


def test_a_river_model_learns_online_in_the_retrained_run_and_not_in_the_frozen_twin() -> None:
    _, report = run_backtest_config(config(kind="river_linear", trainer="inline", compare_frozen=True))
    retrained, frozen = report["ml"]["retrained"], report["ml"]["frozen"]
    assert retrained["learned_online"] > 0 and frozen["learned_online"] == 0
    assert frozen["models"] == retrained["models"][:1]
