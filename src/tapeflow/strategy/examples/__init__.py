"""Example strategies shipped with tapeflow: each is short enough to read in one go and copy from."""

from tapeflow.strategy.examples.ema_quote import EmaQuoteCross
from tapeflow.strategy.examples.imbalance_quoter import ImbalanceQuoter
from tapeflow.strategy.examples.ml_signal import MlSignal
from tapeflow.strategy.examples.sma_cross import SmaCross

__all__ = ["EmaQuoteCross", "ImbalanceQuoter", "MlSignal", "SmaCross"]
