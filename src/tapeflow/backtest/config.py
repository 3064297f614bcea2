"""``tapeflow backtest CONFIG.toml``: what to replay, which strategy, where the server stands, fees and capital.

```toml
[data]
kind = "lobster"                      # synthetic | lobster | bars | taq | itch | dbn | parquet
paths = ["lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"]   # under the data root

[strategy]
name = "imbalance_quoter"             # a built-in, or your own: "package.module:Class" or "path/to/file.py:Class"
params = { quantity = 100, threshold = 0.3 }   # decoded into the strategy's typed Params struct

[latency]
location = "colo"                     # a site of `tapeflow latency`; or give the fields of [latency.fixed]
venue = "XNAS"

[portfolio]
capital = "1000000.00"

[audit]                               # optional: an audit trail for `tapeflow audit verify` and `tapeflow surveil`
path = "runs/audit.db"                # relative to this file; `tapeflow backtest --audit DB` sets it too
key_file = "secrets/audit.key"        # optional: sign checkpoints with this key

[stp]
mode = "cancel_newest"                # off (default) | cancel_newest | cancel_oldest | cancel_both | decrement

# No [risk] section: the default pre-trade rules run. `risk = "off"` (top level) is the only way to run without.
```

``load_backtest_config`` reads and checks a file whole, so a mistake is one line naming the field before any
data is read.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from tapeflow.backtest.strategies import decode_params, is_file_target, resolve_class
from tapeflow.config import SyntheticConfig, data_root, load_config, resolve_input
from tapeflow.ml.config import MlSection
from tapeflow.model.errors import ConfigError, DataError
from tapeflow.model.prices import price_from_str
from tapeflow.model.sessions import calendar_for
from tapeflow.report.metrics import periods_per_year
from tapeflow.risk.config import OrderChecks, RiskConfig, validate
from tapeflow.venues.geography import preset
from tapeflow.venues.sim.exchange import SimExchangeConfig
from tapeflow.venues.sim.fees import FeesConfig
from tapeflow.venues.sim.latency import FixedLatency

RiskMode = Literal["default", "configured", "off"]


DataKind = Literal["synthetic", "lobster", "bars", "taq", "itch", "dbn", "parquet"]
"""Every reader tapeflow has (docs/DATA.md); ``parquet`` is a store written by ``tapeflow data convert``."""


class DataConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    kind: DataKind = "synthetic"
    paths: tuple[str, ...] = ()
    """Files (a store: its folder). A relative path is looked up under the configuration's folder, then under
    the data root (``root``); ``load_backtest_config`` turns each into the absolute path found."""
    root: str | None = None
    """Where shared data lives, so that ``paths`` can be written the same on every machine. Relative to the
    configuration's folder. Unset: ``$TAPEFLOW_DATA``, else ``../shared/data`` beside a tapeflow checkout."""
    symbols: tuple[str, ...] = ()
    """Keep only these symbols (bars, TAQ, ITCH, DBN, parquet); empty: all."""
    date: dt.date | None = None
    """The trading day of an ITCH file (its times count from midnight); unset: from Nasdaq's MMDDYYYY name."""
    dates: tuple[dt.date, ...] = ()
    """Keep only these New York trading days of a parquet store; empty: all."""
    adjust: Literal["splits", "splits+dividends", "none"] = "splits"
    """Daily bars: ``splits`` (default) removes split jumps, from the file's own split column or a LEAN factor
    file (``factors``); ``splits+dividends`` also pays dividends as cash on the ex-date; ``none`` feeds the
    prices as the file has them. A safe default: raw daily prices book a fake loss (or gain) at every split, and
    a run that cannot know the splits of its data is refused rather than run at raw prices. Intraday and tick
    inputs are one day, read as traded. The run report says which prices were used (``prices``)."""
    factors: dict[str, str] = {}
    """LEAN factor files by symbol (``{ AAPL = "factor_files/aapl.csv" }``), for daily bars that carry no splits
    themselves (LEAN's ``daily/<sym>.zip``); found like ``paths``."""
    synthetic: SyntheticConfig = SyntheticConfig()
    limit: Annotated[int, msgspec.Meta(gt=0)] | None = None
    """Stop after this many events per source (a quick look at a long file)."""


class StrategyConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str = "imbalance_quoter"
    """A built-in (``tapeflow.backtest.strategies.STRATEGIES``), ``package.module:Class`` or ``file.py:Class``."""
    id: str | None = None
    params: dict[str, Any] = {}
    """Decoded into the strategy's ``Params`` struct when it is built (``tapeflow.backtest.strategies``), so the
    strategy, not this section, decides which names and types are valid."""


class LatencyConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    location: str | None = "colo"
    """Where the strategy runs (see `tapeflow latency`); None: use ``fixed`` (zero when not given)."""
    venue: str = "XNAS"
    medium: Literal["fiber", "microwave"] = "fiber"
    fixed: FixedLatency | None = None

    def build(self) -> FixedLatency:
        if self.fixed is not None:
            return self.fixed
        if self.location is None:
            return FixedLatency()

        try:
            return preset(self.location, self.venue, medium=self.medium)
        except (KeyError, ValueError) as exc:
            raise ConfigError(str(exc).strip("'\""), field="latency.location") from exc
        except ConfigError as exc:  # the geography names its own argument; the user wrote it in [latency]
            if exc.field is None or exc.path is not None:
                raise
            message = str(exc).removeprefix(f"field `{exc.field}`: ")
            raise ConfigError(message, field=f"latency.{exc.field}") from exc


class PortfolioSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    capital: str = "1000000.00"
    """Starting cash in dollars, as decimal text."""
    sample_interval_ms: Annotated[int, msgspec.Meta(gt=0)] = 1_000
    returns_period: str = "daily"
    """Returns are resampled to this period before Sharpe, Sortino and CAGR annualize them (docs/PORTFOLIO.md)."""

    def check_returns_period(self) -> None:
        periods_per_year(self.returns_period, field="portfolio.returns_period")

    def capital_units(self) -> int:
        try:
            units = price_from_str(self.capital)
        except ValueError as exc:
            raise ConfigError(str(exc), field="portfolio.capital") from exc
        if units <= 0:
            raise ConfigError(
                f'starting cash {self.capital!r} is not positive; give the dollars to start with, e.g. "100000.00"',
                field="portfolio.capital",
            )
        return units


class OutputConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    dir: str | None = None
    """Write orders, fills and the equity curve as Parquet here."""


class AuditSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[audit]``: write the run's audit trail (``tapeflow audit verify|show|export``, ``tapeflow surveil``)."""

    path: str | None = None
    """The SQLite file of the trail (created, or continued when it holds one); None: no trail. Relative paths are
    resolved against the configuration's folder. ``tapeflow backtest --audit DB`` sets it from the shell."""
    key_file: str | None = None
    """A file holding the checkpoint key: checkpoints are then signed (verify them with ``--key-file``)."""

    def key(self) -> bytes | None:
        """The checkpoint key, read now so that a missing or empty file is refused before the run."""
        if self.key_file is None:
            return None
        try:
            key = Path(self.key_file).read_bytes().strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the key file {self.key_file} ({exc.strerror}); give a file holding the checkpoint key",
                field="audit.key_file",
            ) from exc
        if not key:
            raise ConfigError(
                f"the key file {self.key_file} is empty; give a file holding the checkpoint key", field="audit.key_file"
            )
        return key


class StpSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[stp]``: self-trade prevention, checked before an order reaches the venue (``compliance.stp``)."""

    mode: Literal["off", "cancel_newest", "cancel_oldest", "cancel_both", "decrement"] = "off"


class BacktestConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    data: DataConfig = DataConfig()
    strategy: StrategyConfig = StrategyConfig()
    latency: LatencyConfig = LatencyConfig()
    fees: FeesConfig = FeesConfig()
    no_fees: bool = False
    """Ignore all fees. For data older than the fee tables (decades of daily bars) when you have no rates."""
    exchange: SimExchangeConfig = SimExchangeConfig()
    portfolio: PortfolioSection = PortfolioSection()
    output: OutputConfig = OutputConfig()
    audit: AuditSection = AuditSection()
    stp: StpSection = StpSection()
    risk: RiskConfig | Literal["off"] | msgspec.UnsetType = msgspec.UNSET
    """The ``[risk]`` section (``tapeflow.risk.config``, docs/RISK.md). Left out, the documented default rules run
    (``RiskConfig()``): pre-trade checks are on unless a configuration says ``risk = "off"`` in so many words."""
    ml: MlSection | None = None
    """The ``[ml]`` section (docs/ML.md): a model retrained on a rolling window, announced by ``ModelUpdated``."""

    @property
    def risk_mode(self) -> RiskMode:
        """What the run report states: "default" (no section), "configured" (a ``[risk]`` table) or "off"."""
        if isinstance(self.risk, msgspec.UnsetType):
            return "default"
        return "off" if self.risk == "off" else "configured"

    def risk_config(self) -> RiskConfig | None:
        """The rules to build; None only for an explicit ``risk = "off"``.

        The default rules on bar data accept orders in the extended sessions too: a strategy decides at a bar's
        close (a daily bar's is 16:00, already the post-market) and the order fills at the next bar's open, so
        "regular hours only" would refuse every order of a daily strategy. A ``[risk]`` table keeps what it says.
        """
        if isinstance(self.risk, RiskConfig):
            return self.risk
        if self.risk == "off":
            return None
        if self.data.kind == "bars":
            return RiskConfig(order=OrderChecks(sessions=("pre", "regular", "post")))
        return RiskConfig()


def load_backtest_config(path: str | Path) -> BacktestConfig:
    """Read a run configuration and check it whole, so every mistake is reported before any data is read.

    Input paths (``[data] paths``) are found under the configuration's folder or the data root and replaced by
    the absolute path found, so a missing file is reported now, with every place looked. A strategy named by a
    relative file path (``strategies/mine.py:Mine``) is resolved against the
    configuration's folder, not the working directory, so a configuration runs the same from anywhere.
    """
    p = Path(path)
    return settle_backtest_config(load_config(p, BacktestConfig), p)


def settle_backtest_config(cfg: BacktestConfig, p: Path) -> BacktestConfig:
    """``cfg`` as decoded from the file ``p`` (alone, or inline in a sweep file), with its paths found and checked
    whole: what ``load_backtest_config`` does after decoding."""
    try:
        cfg = msgspec.structs.replace(cfg, data=resolve_data(cfg.data, base=p.absolute().parent))
    except ConfigError as exc:
        raise ConfigError(str(exc).removeprefix(f"field `{exc.field}`: "), path=p, field=exc.field) from exc
    location, sep, class_name = cfg.strategy.name.rpartition(":")
    if sep and is_file_target(location) and not Path(location).is_absolute():
        resolved = f"{(p.parent / location).resolve()}:{class_name}"
        cfg = msgspec.structs.replace(cfg, strategy=msgspec.structs.replace(cfg.strategy, name=resolved))
    cfg = _resolve_audit_paths(cfg, p.parent)
    try:
        check_backtest_config(cfg)
    except ConfigError as exc:
        if exc.path is not None:
            raise
        prefix = f"field `{exc.field}`: " if exc.field is not None else ""
        raise ConfigError(str(exc).removeprefix(prefix), path=p, field=exc.field) from exc
    return cfg


def resolve_data(data: DataConfig, *, base: Path | None) -> DataConfig:
    """``data`` with every path absolute: found under ``base`` (None: the working directory) or the data root.

    Used by ``load_backtest_config`` (``base``: the file's folder) and again by ``build_sources`` for a
    configuration built in code; an absolute path passes through unchanged, so resolving twice is harmless.
    """
    root, root_from = data_root(data.root, base)
    found = tuple(
        str(resolve_input(raw, base=base, root=root, field=f"data.paths[{i}]", root_from=root_from))
        for i, raw in enumerate(data.paths)
    )
    factors = {
        symbol.upper(): str(
            resolve_input(raw, base=base, root=root, field=f"data.factors.{symbol}", root_from=root_from)
        )
        for symbol, raw in data.factors.items()
    }
    return msgspec.structs.replace(data, paths=found, factors=factors)


def _resolve_audit_paths(cfg: BacktestConfig, folder: Path) -> BacktestConfig:
    """``[audit]`` paths are relative to the configuration's folder, like the strategy file."""
    audit = cfg.audit
    changes = {
        name: str(folder / value)
        for name, value in (("path", audit.path), ("key_file", audit.key_file))
        if value is not None and not Path(value).is_absolute()
    }
    if not changes:
        return cfg
    return msgspec.structs.replace(cfg, audit=msgspec.structs.replace(audit, **changes))


def check_backtest_config(cfg: BacktestConfig) -> None:
    """What decoding cannot check: money and rates in range, the output folder, the strategy and its params.

    Builds nothing that runs: the strategy class is resolved and its params decoded, but it is not instantiated.
    """
    check_data(cfg.data)
    cfg.portfolio.capital_units()
    cfg.portfolio.check_returns_period()
    cfg.fees.check()
    cfg.latency.build()
    calendar_for(cfg.exchange.calendar, "exchange.calendar").check()
    risk = cfg.risk_config()
    if risk is not None:
        validate(risk)
    if cfg.output.dir is not None:
        check_output_dir(Path(cfg.output.dir), field="output.dir")
    cfg.audit.key()
    if cfg.audit.path is not None:
        check_audit_db(Path(cfg.audit.path), field="audit.path")
    decode_params(resolve_class(cfg.strategy.name), cfg.strategy.params)
    if cfg.ml is not None:
        cfg.ml.check()


def check_data(data: DataConfig) -> None:
    """Fields that mean something for one kind only are refused elsewhere (never silently ignored), and an ITCH
    file's trading day must be known before any of it is read."""
    if data.date is not None and data.kind != "itch":
        raise ConfigError(f"`date` is the trading day of an ITCH file; kind {data.kind!r} carries its own dates "
                          "(a parquet store is filtered with `dates`)", field="data.date")  # fmt: skip
    if data.dates and data.kind != "parquet":
        raise ConfigError(f"`dates` filters a parquet store by day; kind {data.kind!r} has no such filter: "
                          "give the files of the days you want", field="data.dates")  # fmt: skip
    if data.factors and data.kind != "bars":
        raise ConfigError(f"`factors` adjust daily bars; kind {data.kind!r} is read as traded", field="data.factors")
    if data.kind == "itch" and data.date is None:
        from tapeflow.data.detect import itch_date  # lazy: format sniffing (~3 ms, gzip), for ITCH only

        for raw in data.paths:
            try:
                itch_date(Path(raw))
            except DataError:
                raise ConfigError(
                    f"{raw}: ITCH times count from midnight and the file name carries no trading day (Nasdaq's "
                    "MMDDYYYY.NASDAQ_ITCH50); set `date = YYYY-MM-DD` in [data]",
                    field="data.date",
                ) from None


def check_output_dir(path: Path, *, field: str) -> None:
    """Results go into a folder: refuse a file, a link to one or a dangling link now, not after a long run."""
    if path.is_symlink() and not path.exists():
        raise ConfigError(f"{path} is a link to nothing; give a folder for the results", field=field)
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        what = "" if probe == path else f" ({probe} is a file)"
        raise ConfigError(
            f"{path} is not a folder{what}; results are several files: give a new or existing folder", field=field
        )


def check_audit_db(path: Path, *, field: str) -> None:
    """The trail is one SQLite file: refuse a folder or a missing parent folder now, not at the end of a run."""
    if path.is_dir():
        example = path / "audit.db"
        raise ConfigError(f"{path} is a folder; give the audit trail's SQLite file, e.g. {example}", field=field)
    if not path.parent.is_dir():
        raise ConfigError(f"the folder {path.parent} does not exist; create it or give another audit file", field=field)
