"""ml: see docs/ARCHITECTURE.md."""

from tapeflow.ml.retrain import InProcessTrainer, RetrainConfig, Retrainer, RetrainSpec, Trainer

__all__ = ["InProcessTrainer", "RetrainConfig", "RetrainSpec", "Retrainer", "Trainer"]
