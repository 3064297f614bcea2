"""``sweep.toml``: one backtest configuration, the symbol-days it runs on and the parameters it varies.

```toml
base = "synthetic_quoter.toml"        # a backtest configuration (relative to this file); or inline [data], ...

[sweep]
seed = 1                              # each task's seed derives from this and the task key
retries = 1                           # a task that raises is run again this many times, then recorded
seed_field = "data.synthetic.seed"    # optional: the dotted field that receives the task's seed
symbols = ["AAPL", "MSFT"]            # synthetic: the market's symbols; parquet: the store's partitions
days = [2012-06-21]                   # parquet: the store's days; with path_template: its {day}
path_template = "lobster-samples-2012-06-21/LOBSTER_SampleFile_{symbol}_{day}_1.zip"   # one file per slice

[sweep.grid]                          # every combination (or [sweep.random]: samples drawn from the seed)
"strategy.params.threshold" = [0.3, 0.5]
"exchange.queue_model" = ["FRONT", "BACK"]
```

Every task is built and checked here, before anything runs: a dotted field that does not exist, a value of the
wrong type, a missing file of one symbol-day is one ``ConfigError`` naming the field (and the task), not a failure
an hour into a cluster run. A task is a frozen ``TaskSpec`` holding its whole ``BacktestConfig``, so a worker needs
nothing but the spec (and the data files at the same paths).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import random
import typing
from pathlib import Path
from typing import Annotated, Any

import msgspec

from tapeflow.backtest.config import (
    BacktestConfig,
    check_backtest_config,
    load_backtest_config,
    resolve_data,
    settle_backtest_config,
)
from tapeflow.config import decode_toml
from tapeflow.model.errors import ConfigError
from tapeflow.sweep.intraday import Blocks, is_intraday

Scalar = bool | int | float | str


class Range(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A random parameter drawn uniformly in [min, max]: an int when both ends are ints, else a float."""

    min: int | float
    max: int | float


class RandomSearch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    samples: Annotated[int, msgspec.Meta(gt=0, le=1_000_000)]
    params: dict[str, list[Scalar] | Range]
    """A list is a choice among its values; a table ``{ min, max }`` a uniform draw."""


class WalkForwardSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[sweep.walk_forward]``: windows counted in periods (the sweep's ``days``, or its synthetic ``seeds``), or
    given as durations (``"60min"``) inside each day's session: intraday blocks (sweep/intraday.py)."""

    train: Annotated[int, msgspec.Meta(ge=1)] | str
    test: Annotated[int, msgspec.Meta(ge=1)] | str
    step: Annotated[int, msgspec.Meta(ge=1)] | str | None = None
    """Periods between fold starts; by default ``test`` (test windows side by side, never overlapping)."""
    metric: str = "sharpe"
    maximize: bool = True
    session: tuple[str, str] = ("09:30", "16:00")
    """Intraday windows only: the part of each day cut into blocks (New York time)."""


class SweepSection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    seed: int = 0
    retries: Annotated[int, msgspec.Meta(ge=0, le=100)] = 1
    seed_field: str | None = None
    symbols: tuple[str, ...] = ()
    days: tuple[dt.date, ...] = ()
    seeds: tuple[int, ...] = ()
    """Synthetic only: one slice per market seed (the synthetic stand-in for another day, for walk-forward)."""
    path_template: str | None = None
    grid: dict[str, list[Scalar]] = {}
    random: RandomSearch | None = None
    walk_forward: WalkForwardSection | None = None
    output: str | None = None
    """The results table (Parquet), relative to this file; ``-o`` overrides it."""


class SweepFile(BacktestConfig, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The file as written: the sweep, and either ``base`` or the backtest's own sections inline."""

    base: str | None = None
    sweep: SweepSection


class TaskSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One backtest of the sweep: everything a worker needs (it reads its data files by these absolute paths)."""

    index: int
    key: str
    slice: str
    params: dict[str, Scalar]
    seed: int
    retries: int
    config: BacktestConfig
    config_hash: str
    """Of the whole configuration: ``--resume`` reuses a row only when key and configuration both match."""
    window_ms: tuple[int, int] | None = None
    """Intraday: the block the task reads, ms after midnight New York (``intraday.cut_lobster``); None: all."""


class Sweep(msgspec.Struct, frozen=True, kw_only=True):
    path: str
    tasks: tuple[TaskSpec, ...]
    param_names: tuple[str, ...]
    output: str | None
    walk_forward: WalkForwardSection | None = None
    periods: tuple[str, ...] = ()
    """The walk-forward time axis, in order: each slice key ends in ``/`` and its period (a day or ``seed=N``)."""


def task_seed(sweep_seed: int, key: str) -> int:
    """A seed from the sweep's seed and the task key: stable across runs, machines and Python versions
    (blake2b, never ``hash``, which is salted per process), so a rerun or a resumed sweep gets the same seeds."""
    digest = hashlib.blake2b(f"{sweep_seed}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1  # fits an int64 column


def load_sweep(path: str | Path) -> Sweep:
    """Read a sweep file and build every task, each checked as a backtest configuration, before anything runs."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError("file not found; pass the path of an existing TOML file", path=p) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", path=p) from exc
    try:
        table = msgspec.toml.decode(raw)
    except msgspec.DecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=p) from exc
    if "sweep" not in table:
        raise ConfigError("no [sweep] section; a sweep file says what to vary (see examples/sweep_*.toml)", path=p)
    file = decode_toml(raw, SweepFile, path=p)
    inline = sorted(set(table) - {"base", "sweep"})
    if file.base is not None:
        if inline:
            raise ConfigError(f"give either `base` or inline sections, not both (inline: {', '.join(inline)})", path=p)
        base = load_backtest_config(p.parent / file.base)
    else:
        if not inline:
            raise ConfigError("no backtest to sweep: give `base = FILE.toml` or inline [data] and [strategy]", path=p)
        fields = {name: getattr(file, name) for name in BacktestConfig.__struct_fields__}
        base = settle_backtest_config(BacktestConfig(**fields), p)
    section = file.sweep
    blocks = _blocks(section, base)
    try:
        tasks = build_tasks(base, section, folder=p.absolute().parent, blocks=blocks)
    except ConfigError as exc:
        if exc.path is not None:
            raise
        raise ConfigError(str(exc).removeprefix(f"field `{exc.field}`: "), path=p, field=exc.field) from exc
    output = None if section.output is None else str(p.parent / section.output)
    names = tuple(section.grid) or (tuple(section.random.params) if section.random is not None else ())
    periods = tuple(d.isoformat() for d in section.days) or tuple(f"seed={n}" for n in section.seeds)
    if blocks is not None:
        periods = tuple(f"{day}T{label}" for day in periods or ("*",) for label, _, _ in blocks.windows())
    return Sweep(
        path=str(p),
        tasks=tuple(tasks),
        param_names=names,
        output=output,
        walk_forward=section.walk_forward,
        periods=periods,
    )


def _blocks(section: SweepSection, base: BacktestConfig) -> Blocks | None:
    """The session's blocks when the walk-forward's windows are durations; None when they count periods."""
    wf = section.walk_forward
    if wf is None or not is_intraday(wf.train, wf.test, wf.step):
        return None
    if base.data.kind != "lobster" or section.seeds:
        raise ConfigError(
            "intraday windows cut LOBSTER files (the book after every message is in them); "
            f"data kind {base.data.kind!r}{' with seeds' if section.seeds else ''} has whole days only",
            field="sweep.walk_forward",
        )
    return Blocks(str(wf.train), str(wf.test), None if wf.step is None else str(wf.step), wf.session)


def build_tasks(
    base: BacktestConfig, section: SweepSection, *, folder: Path, blocks: Blocks | None = None
) -> list[TaskSpec]:
    """Slices (symbol-days, or their intraday blocks) x parameter sets, in a fixed order: slices outer, parameters
    inner."""
    if section.grid and section.random is not None:
        raise ConfigError("give [sweep.grid] or [sweep.random], not both", field="sweep")
    slices: list[tuple[str, BacktestConfig, tuple[int, int] | None]] = [
        (key, cfg, None) for key, cfg in _slices(base, section, folder)
    ]
    if blocks is not None:
        slices = [(f"{key}T{label}", cfg, (a, b)) for key, cfg, _ in slices for label, a, b in blocks.windows()]
    params = _param_sets(section)
    if section.seed_field is not None:
        _set(base, section.seed_field.split("."), 0, section.seed_field)  # the field exists and takes an int
    tasks: list[TaskSpec] = []
    for slice_key, sliced, window in slices:
        for values in params:
            key = slice_key + "|" + ",".join(f"{k}={msgspec.json.encode(v).decode()}" for k, v in values.items())
            seed = task_seed(section.seed, key)
            cfg = sliced
            for name, value in values.items():
                cfg = _set(cfg, name.split("."), value, name)
            if section.seed_field is not None:
                cfg = _set(cfg, section.seed_field.split("."), seed, section.seed_field)
            try:
                check_backtest_config(cfg)
            except ConfigError as exc:
                raise ConfigError(f"task {key}: {exc}", field=f"sweep ({exc.field})" if exc.field else "sweep") from exc
            tasks.append(
                TaskSpec(
                    index=len(tasks),
                    key=key,
                    slice=slice_key,
                    params=dict(values),
                    seed=seed,
                    retries=section.retries,
                    config=cfg,
                    config_hash=_config_hash(cfg, window),
                    window_ms=window,
                )
            )
    return tasks


def _config_hash(cfg: BacktestConfig, window: tuple[int, int] | None) -> str:
    """The configuration's hash, and the block's window when it reads one (a whole-day task's hash is unchanged,
    so tables written before windows existed still resume)."""
    text = msgspec.json.encode(cfg) + (b"" if window is None else f"|window={window[0]}-{window[1]}".encode())
    return hashlib.blake2b(text, digest_size=16).hexdigest()


def _slices(base: BacktestConfig, section: SweepSection, folder: Path) -> list[tuple[str, BacktestConfig]]:
    """(slice key, the configuration reading that slice): one per symbol-day the data kind can select."""
    data = base.data
    symbols: tuple[str | None, ...] = section.symbols or (None,)
    days: tuple[dt.date | None, ...] = section.days or (None,)
    out: list[tuple[str, BacktestConfig]] = []
    if section.seeds:
        if data.kind != "synthetic":
            raise ConfigError("`seeds` are the synthetic market's; give `days` for recorded data", field="sweep.seeds")
        if section.seed_field == "data.synthetic.seed":
            raise ConfigError("give `seeds` or `seed_field = data.synthetic.seed`, not both", field="sweep.seeds")
        if len(set(section.seeds)) != len(section.seeds):
            raise ConfigError("a seed is listed twice", field="sweep.seeds")
        if section.days:
            raise ConfigError("the synthetic market has no days; leave `days` out", field="sweep.days")
        for symbol, seed in itertools.product(symbols, section.seeds):
            synthetic = msgspec.structs.replace(data.synthetic, seed=seed)
            if symbol is not None:
                synthetic = msgspec.structs.replace(synthetic, symbols=(symbol,))
            sliced = msgspec.structs.replace(data, synthetic=synthetic)
            out.append((f"{symbol or '*'}/seed={seed}", msgspec.structs.replace(base, data=sliced)))
        return out
    for symbol, day in itertools.product(symbols, days):
        key = f"{symbol or '*'}/{day.isoformat() if day else '*'}"
        if section.path_template is not None:
            try:
                raw = section.path_template.format(
                    symbol=symbol or "",
                    day=day.isoformat() if day else "",
                    yyyymmdd=day.strftime("%Y%m%d") if day else "",
                )
            except (KeyError, IndexError) as exc:
                raise ConfigError(
                    f"unknown placeholder {exc} in {section.path_template!r}; use {{symbol}}, {{day}}, {{yyyymmdd}}",
                    field="sweep.path_template",
                ) from None
            sliced = resolve_data(msgspec.structs.replace(data, paths=(raw,)), base=folder)
        elif data.kind == "synthetic":
            if day is not None:
                raise ConfigError("the synthetic market has no days; leave `days` out", field="sweep.days")
            synthetic = data.synthetic if symbol is None else msgspec.structs.replace(data.synthetic, symbols=(symbol,))
            sliced = msgspec.structs.replace(data, synthetic=synthetic)
        elif data.kind == "parquet":
            sliced = msgspec.structs.replace(
                data,
                symbols=(symbol,) if symbol else data.symbols,
                dates=(day,) if day else data.dates,
            )
        elif symbol is not None or day is not None:
            raise ConfigError(
                f"kind {data.kind!r} is split into symbol-days by file: give `path_template` "
                '(e.g. "dir/LOBSTER_SampleFile_{symbol}_{day}_1.zip")',
                field="sweep.symbols" if symbol is not None else "sweep.days",
            )
        else:
            sliced = data
        out.append((key, msgspec.structs.replace(base, data=sliced)))
    return out


def _param_sets(section: SweepSection) -> list[dict[str, Scalar]]:
    """The grid's combinations in the order written, or ``samples`` random draws from the sweep's seed."""
    if section.grid:
        for name, values in section.grid.items():
            if not values:
                raise ConfigError("an empty list gives no task; give at least one value", field=f"sweep.grid.{name}")
        names = list(section.grid)
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*section.grid.values())]
    if section.random is not None:
        rng = random.Random(section.seed)  # a local generator: no hidden global state
        params = section.random.params  # drawn sample by sample, name by name: the order is part of the seed's meaning
        return [{name: _draw(rng, spec, name) for name, spec in params.items()} for _ in range(section.random.samples)]
    return [{}]


def _draw(rng: random.Random, spec: list[Scalar] | Range, name: str) -> Scalar:
    if isinstance(spec, list):
        if not spec:
            raise ConfigError("an empty list gives nothing to draw", field=f"sweep.random.params.{name}")
        return spec[rng.randrange(len(spec))]
    if spec.min > spec.max:
        raise ConfigError(f"min {spec.min} is above max {spec.max}", field=f"sweep.random.params.{name}")
    if isinstance(spec.min, int) and isinstance(spec.max, int):
        return rng.randint(spec.min, spec.max)
    return round(rng.uniform(spec.min, spec.max), 6)  # readable task keys; six digits is finer than any threshold


def _set(obj: Any, parts: list[str], value: Any, dotted: str) -> Any:
    """``obj`` with the field at ``parts`` replaced by ``value``, converted to (and so checked against) its type.

    A struct field takes its declared type; under a dict (``strategy.params``) the value is kept as written and the
    owner checks it (the strategy decodes its params in ``check_backtest_config``).
    """
    head, rest = parts[0], parts[1:]
    if isinstance(obj, msgspec.Struct):
        fields = obj.__struct_fields__
        if head not in fields:
            raise ConfigError(f"no field {head!r} here; fields: {', '.join(fields)}", field=f"sweep ({dotted})")
        if rest:
            inner = getattr(obj, head)
            if inner is None or isinstance(inner, msgspec.UnsetType | str):
                raise ConfigError(
                    f"{head!r} is not set in the base configuration; set the section there first",
                    field=f"sweep ({dotted})",
                )
            new = _set(inner, rest, value, dotted)
        else:
            hint = typing.get_type_hints(type(obj), include_extras=True)[head]
            try:
                new = msgspec.convert(value, hint)
            except msgspec.ValidationError as exc:
                raise ConfigError(f"{value!r} does not fit: {exc}", field=f"sweep ({dotted})") from None
        return msgspec.structs.replace(obj, **{head: new})
    if isinstance(obj, dict):
        copy = dict(obj)
        copy[head] = _set(copy.get(head, {}), rest, value, dotted) if rest else value
        return copy
    raise ConfigError(f"cannot set a field inside {type(obj).__name__}", field=f"sweep ({dotted})")
