"""The ``[ml]`` section: checked whole before anything is built, and turned into the engine's units exactly."""

from __future__ import annotations

import pytest

from tapeflow.ml.config import MlSection, build_ml
from tapeflow.ml.retrain import InProcessTrainer
from tapeflow.model.errors import ConfigError


def test_defaults_are_a_five_minute_retrain_on_the_last_hour() -> None:
    cfg = MlSection().retrain_config("deterministic")
    assert cfg.interval_ns == 300 * 10**9
    assert cfg.window_ns == 3600 * 10**9
    assert MlSection().recorder_config().horizon_ns == 10 * 10**9


@pytest.mark.parametrize(
    ("section", "field"),
    [
        (MlSection(params={"alpha_typo": 1.0}), "ml.params"),
        (MlSection(interval_s=0), "ml.interval_s"),
        (MlSection(embargo_ms=-1), "ml.embargo_ms"),
        (MlSection(interval_s=1, effect_delay_ms=1000), "ml.effect_delay_ms"),
        (MlSection(model_id="a b"), "ml.model_id"),
        (MlSection(workers=0), "ml.workers"),
    ],
)
def test_a_wrong_field_is_named(section: MlSection, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        section.check()
    assert info.value.field == field


def test_build_ml_gives_recorder_retrainer_predictor_then_scorer_with_the_section_units() -> None:
    parts = build_ml(
        MlSection(interval_s=60, window_s=600, symbols=["AAPL"]), mode="deterministic", trainer=InProcessTrainer()
    )
    assert parts.components == [parts.recorder, parts.retrainer, parts.predictor, parts.scorer]
    assert parts.predictor.retrainer is parts.retrainer and parts.predictor.recorder is parts.recorder
    assert parts.retrainer.config.interval_ns == 60 * 10**9
    assert parts.recorder.config.symbols == ("AAPL",)
