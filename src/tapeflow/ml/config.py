"""The ``[ml]`` section of a run configuration, and the components it builds: one description for a backtest and a
live node, so a strategy trading on a model cannot tell which driver feeds it.

Every number is in the units a person writes (milliseconds, seconds); ``recorder_config`` and ``retrain_config``
turn them into the engine's nanoseconds. The model's kind and params are checked when the section is checked
(``check``), before any data is read and before any worker is started: nothing named here is called first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import msgspec

from tapeflow.engine.inbox import InboxLike
from tapeflow.engine.kernel import Component
from tapeflow.ml.features import FeatureRecorder, RecorderConfig
from tapeflow.ml.models import KINDS, check_params
from tapeflow.ml.online import OnlineLearner
from tapeflow.ml.predictor import Predictor
from tapeflow.ml.retrain import RetrainConfig, Retrainer, RetrainSpec, Trainer
from tapeflow.ml.scoring import PredictionScorer
from tapeflow.model.errors import ConfigError

MS = 1_000_000
S = 1_000_000_000
RetrainMode = Literal["deterministic", "live"]


class MlSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[ml]``: record features, retrain a model every ``interval_s`` on the last ``window_s``, and announce each
    model with ``ModelUpdated``. Defaults are the issue's: a 5-minute retrain on the last 60 minutes."""

    model_id: str = "ml"
    """What ``ModelUpdated``, the audit trail and ``tapeflow audit show`` call the model."""
    kind: Literal["sgd", "ridge", "hgb", "river_linear"] = "ridge"
    params: dict[str, Any] = {}
    """The kind's parameters (``tapeflow.ml.models``); unknown names are refused."""
    seed: int = 0
    sample_interval_ms: int = 1000
    """Feature sampling cadence in event time."""
    horizon_ms: int = 10_000
    """Label: the forward mid return over this horizon."""
    window_s: int = 3600
    interval_s: int = 300
    embargo_ms: int = 0
    """Labels must have ended this long before the trigger (on top of the purge every window gets)."""
    effect_delay_ms: int = 1000
    """Backtest only: the modelled training time; the model takes effect at trigger + this. Live: measured."""
    min_samples: int = 10
    symbols: list[str] = []
    """Symbols recorded and trained on; empty: every symbol quoted."""
    trainer: Literal["pool", "inline"] = "pool"
    """``pool``: a warmed forkserver process pool (the loop never fits a model); ``inline``: on the kernel's thread
    (backtests only: same results, no worker processes; a live configuration refuses it)."""
    workers: int = 1
    wait_timeout_s: float = 60.0
    """Backtest only: the longest wall time to wait for a training at its effect time."""
    online: bool = True
    """A model that can learn one sample at a time (``river_linear``) keeps learning from each label as it matures
    between retrains (``ml/online.py``); other kinds ignore it."""
    compare_frozen: bool = False
    """Backtest only: run the configuration twice, retrained and with the model frozen after its first window, and
    report both (hit rate, predictions, PnL, updates, failures): what retraining is worth on this data."""

    def check(self) -> None:
        """Raises ``ConfigError`` naming the ``ml.<field>`` that is wrong; builds nothing."""
        if not self.model_id or not self.model_id.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"model_id {self.model_id!r} must be letters, digits, - or _", field="ml.model_id")
        if self.kind not in KINDS:
            raise ConfigError(f"unknown model kind {self.kind!r}: use one of {sorted(KINDS)}", field="ml.kind")
        try:
            check_params(self.kind, self.params)
        except ConfigError as exc:
            raise ConfigError(str(exc).removeprefix(f"field `{exc.field}`: "), field="ml.params") from exc
        positive = ("sample_interval_ms", "horizon_ms", "window_s", "interval_s", "min_samples", "workers")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"must be positive, got {getattr(self, name)}", field=f"ml.{name}")
        for name in ("embargo_ms", "effect_delay_ms"):
            if getattr(self, name) < 0:
                raise ConfigError(f"must not be negative, got {getattr(self, name)}", field=f"ml.{name}")
        if self.effect_delay_ms * MS >= self.interval_s * S:
            raise ConfigError(
                f"effect delay {self.effect_delay_ms} ms must be shorter than the retrain interval "
                f"{self.interval_s} s: a model would otherwise take effect after the next trigger",
                field="ml.effect_delay_ms",
            )
        if self.wait_timeout_s <= 0:
            raise ConfigError(f"must be positive, got {self.wait_timeout_s}", field="ml.wait_timeout_s")

    def recorder_config(self) -> RecorderConfig:
        return RecorderConfig(
            interval_ns=self.sample_interval_ms * MS,
            horizon_ns=self.horizon_ms * MS,
            window_ns=self.window_s * S,
            symbols=tuple(self.symbols),
        )

    def retrain_config(self, mode: RetrainMode, output_dir: str = "", max_updates: int = 0) -> RetrainConfig:
        return RetrainConfig(
            mode=mode,
            interval_ns=self.interval_s * S,
            window_ns=self.window_s * S,
            embargo_ns=self.embargo_ms * MS,
            effect_delay_ns=self.effect_delay_ms * MS,
            min_samples=self.min_samples,
            wait_timeout_s=self.wait_timeout_s,
            symbols=tuple(self.symbols),
            output_dir=output_dir,
            max_updates=max_updates,
        )

    def spec(self) -> RetrainSpec:
        return RetrainSpec(model_id=self.model_id, kind=self.kind, params=dict(self.params), seed=self.seed)


class MlParts(NamedTuple):
    """What ``build_ml`` made, in the order they must be added to the node: before the strategies, so that a
    strategy's own ``ModelUpdated`` handler already sees the new model."""

    recorder: FeatureRecorder
    retrainer: Retrainer
    predictor: Predictor
    scorer: PredictionScorer
    online: OnlineLearner | None = None

    @property
    def components(self) -> list[Component]:
        learner: list[Component] = [] if self.online is None else [self.online]
        return [self.recorder, self.retrainer, *learner, self.predictor, self.scorer]


def build_ml(
    section: MlSection,
    *,
    mode: RetrainMode,
    trainer: Trainer,
    inbox: InboxLike | None = None,
    now: Callable[[], int] | None = None,
    output_dir: str = "",
    max_updates: int = 0,
    online: bool = True,
) -> MlParts:
    """The recorder, retrainer, predictor and scorer ``section`` describes. ``mode`` is the driver's
    (``deterministic`` for a backtest, ``live`` with the node's ``inbox`` and clock ``now``); ``output_dir``
    stores each model by hash; ``max_updates`` > 0 stops retraining after that many models (1: the frozen twin of
    a comparison); ``online`` False keeps the model in force unchanged between retrains even if ``section.online``
    (the frozen twin)."""
    section.check()
    recorder = FeatureRecorder(section.recorder_config())
    retrainer = Retrainer(
        recorder, section.spec(), trainer, section.retrain_config(mode, output_dir, max_updates), inbox=inbox, now=now
    )
    scorer = PredictionScorer(recorder, section.model_id)
    learns = online and section.online and KINDS[section.kind].online
    learner = OnlineLearner(recorder, retrainer) if learns else None  # before the predictor:
    predictor = Predictor(recorder, retrainer, online=learner)  # a prediction uses what was just learned
    return MlParts(recorder, retrainer, predictor, scorer, learner)
