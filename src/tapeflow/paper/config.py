"""``tapeflow paper CONFIG.toml``: which tape the paper venue replays, and the node it fills orders with.

The sections mean exactly what they mean to ``tapeflow backtest`` (``[data]``, ``[latency]``, ``[fees]``,
``no_fees``, ``[exchange]``, ``[portfolio]``, ``[risk]``, ``[stp]``): they are the backtest's own structs, and the
file is checked by the backtest's own checks, so a configuration moves between the two commands unchanged. What a
backtest needs and a venue does not (``[strategy]``: the client is the strategy; ``[output]``, ``[audit]``) is
refused, not ignored. ``[paper]`` holds what only the venue has:

```toml
[paper]
speed = "step"      # step (time moves on POST /tapeflow/step) | 1x | 10x | 0.5x: tape time per wall time
seed = 0            # order and execution ids: same requests, same tape, same seed -> same ids
```
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Literal

import msgspec

from tapeflow.backtest.config import (
    BacktestConfig,
    DataConfig,
    LatencyConfig,
    PortfolioSection,
    StpSection,
    check_backtest_config,
    resolve_data,
)
from tapeflow.backtest.sources import build_sources
from tapeflow.compliance.stp import StpMode
from tapeflow.config import load_config
from tapeflow.engine.merge import merge_sorted
from tapeflow.model.errors import ConfigError
from tapeflow.model.events import Event
from tapeflow.node import NodeConfig
from tapeflow.portfolio import PortfolioConfig
from tapeflow.risk.config import RiskConfig
from tapeflow.venues.sim.exchange import SimExchangeConfig
from tapeflow.venues.sim.fees import FeesConfig

STEP = "step"


class PaperSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    speed: str = STEP
    """``step``, or ``Nx``: tape time advances N times as fast as wall time (``1x``, ``10x``, ``0.5x``)."""
    seed: int = 0


class PaperConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    data: DataConfig = DataConfig()
    latency: LatencyConfig = LatencyConfig()
    fees: FeesConfig = FeesConfig()
    no_fees: bool = False
    exchange: SimExchangeConfig = SimExchangeConfig()
    portfolio: PortfolioSection = PortfolioSection()
    risk: RiskConfig | Literal["off"] | msgspec.UnsetType = msgspec.UNSET
    stp: StpSection = StpSection()
    paper: PaperSection = PaperSection()

    def as_backtest(self) -> BacktestConfig:
        """The same sections as a backtest configuration, for the backtest's checks and defaults (risk on bars)."""
        return BacktestConfig(
            data=self.data,
            latency=self.latency,
            fees=self.fees,
            no_fees=self.no_fees,
            exchange=self.exchange,
            portfolio=self.portfolio,
            risk=self.risk,
            stp=self.stp,
        )

    def node_config(self, level: Literal["L1", "L2", "L3"]) -> NodeConfig:
        """The node a backtest of these sections would build (``backtest.run.build_backtest``), less a strategy."""
        bt = self.as_backtest()
        return NodeConfig(
            level=level,
            latency=self.latency.build(),
            fees=None if self.no_fees else self.fees.build(),
            exchange=self.exchange,
            portfolio=PortfolioConfig(
                starting_cash=self.portfolio.capital_units(),
                sample_interval_ns=self.portfolio.sample_interval_ms * 1_000_000,
            ),
            risk=bt.risk_config(),
            stp=None if self.stp.mode == "off" else StpMode(self.stp.mode),
            returns_period=self.portfolio.returns_period,
        )


def parse_speed(text: str, *, field: str = "paper.speed") -> Fraction | None:
    """None for ``step``; else the tape seconds per wall second of ``Nx`` (exact: no float in the pacing)."""
    value = text.strip().lower()
    if value == STEP:
        return None
    number = value.removesuffix("x")
    try:
        speed = Fraction(number) if value.endswith("x") and number else None
    except (ValueError, ZeroDivisionError):
        speed = None
    if speed is None or speed <= 0:
        raise ConfigError(f"speed {text!r} is neither `step` nor a positive `Nx` such as `1x` or `10x`", field=field)
    return speed


def load_paper_config(path: str | Path) -> PaperConfig:
    """Read and check a file whole, so a mistake is one line naming the field before any of the tape is read."""
    p = Path(path)
    cfg = load_config(p, PaperConfig)
    try:
        cfg = msgspec.structs.replace(cfg, data=resolve_data(cfg.data, base=p.absolute().parent))
        check_backtest_config(cfg.as_backtest())
        parse_speed(cfg.paper.speed)
    except ConfigError as exc:
        if exc.path is not None:
            raise
        message = str(exc).removeprefix(f"field `{exc.field}`: " if exc.field is not None else "")
        raise ConfigError(message, path=p, field=exc.field) from exc
    return cfg


def build_tape(cfg: PaperConfig) -> tuple[Iterable[Event], Literal["L1", "L2", "L3"]]:
    """One time-ordered tape from every source of ``[data]`` (the backtest's readers, merged), and its book level."""
    sources, level, _ = build_sources(cfg.data)
    return (sources[0] if len(sources) == 1 else merge_sorted(sources)), level
