"""Run configuration: TOML decoded into typed, validated structs.

Configuration is read once, at the edge, and handed to components as frozen structs: nothing mutates it at run time
(limits that change while running do so through events). Every error names the file and the field.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import msgspec

from tapeflow.model.errors import ConfigError

T = TypeVar("T")

PositiveInt = Annotated[int, msgspec.Meta(gt=0)]


RegimeKind = Literal["momentum", "reversal"]
Multiplier = Annotated[float, msgspec.Meta(gt=0, le=20)]


class RegimeConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[data.synthetic.regime]``: a market whose book predicts the next mid move, differently in each regime
    (``tapeflow.data.synthetic_regime`` says how). Regime ``k`` covers event time [start + k * period, start +
    (k + 1) * period) and takes ``cycle[k % len(cycle)]`` and ``vol[k % len(vol)]``: the two lists cycle
    independently, so lengths 2 and 3 give six combinations."""

    period_s: Annotated[float, msgspec.Meta(gt=0)] = 900.0
    """Length of one regime in event time."""
    strength: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.8
    """How predictable the next mid move is from the book: 0 a random walk, 1 the strongest push."""
    cycle: Annotated[tuple[RegimeKind, ...], msgspec.Meta(min_length=1)] = ("momentum", "reversal")
    """``momentum``: the mid moves the way the book leans; ``reversal``: against it."""
    vol: Annotated[tuple[Multiplier, ...], msgspec.Meta(min_length=1)] = (1.0, 2.0)
    """Event-rate multiplier per regime (more events a second: more mid moves, higher volatility)."""
    memory_s: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    """Time constant of the book's lean: how long a lean, and so a prediction from it, lasts."""
    display: Annotated[float, msgspec.Meta(ge=0, lt=1)] = 0.8
    """How plainly resting sizes show the lean (bid sizes times 1 + display * lean, ask sizes 1 - it)."""


class SyntheticConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The built-in synthetic market (``tapeflow.data.synthetic``)."""

    symbols: tuple[str, ...] = ("AAPL", "MSFT", "TSLA", "SPY")
    seed: int = 7
    events_per_symbol: PositiveInt = 50_000
    start_price: tuple[str, ...] = ()
    """Optional start prices in dollars, one per symbol ("190.25"); defaults are picked from the seed."""
    start_ns: Annotated[int, msgspec.Meta(ge=0)] = 1_718_976_600_000_000_000
    """2024-06-21 09:30:00 New York time."""
    regime: RegimeConfig | None = None
    """Regime switching (``[data.synthetic.regime]``); None: the plain market, unchanged."""


def _field_from(exc: msgspec.ValidationError) -> str | None:
    text = str(exc)
    marker = "at `$."
    if marker in text:
        return text.split(marker, 1)[1].rstrip("`")
    return None


def _choices(type_: object, field: str) -> str:
    """``; valid values: 'a', 'b'`` for the Literal or Enum at ``field`` (a dotted path), or "" if there is none.

    msgspec says only "Invalid enum value 'x'"; a user needs to see what would have been accepted.
    """
    info: msgspec.inspect.Type = msgspec.inspect.type_info(type_)
    for part in field.replace("[", ".[").split("."):
        info = _unwrap(info)
        if isinstance(info, msgspec.inspect.UnionType):  # e.g. a table or "off": follow the member with fields
            containers = [t for t in info.types if not isinstance(t, msgspec.inspect.LiteralType)]
            if len(containers) != 1:
                return ""
            info = containers[0]
        if isinstance(info, msgspec.inspect.StructType) and not part.startswith("["):
            fields = {f.encode_name: f.type for f in info.fields}
            if part not in fields:
                return ""
            info = fields[part]
        elif isinstance(info, msgspec.inspect.DictType):  # msgspec writes a key as `[...]`
            info = info.value_type
        elif isinstance(info, msgspec.inspect.VarTupleType | msgspec.inspect.ListType) and part.startswith("["):
            info = info.item_type
        else:
            return ""
    options = _unwrap(info, literals=True)
    values: list[object] = []
    table = False
    for option in options.types if isinstance(options, msgspec.inspect.UnionType) else (options,):
        if isinstance(option, msgspec.inspect.LiteralType):
            values.extend(option.values)
        elif isinstance(option, msgspec.inspect.EnumType):
            values.extend(member.value for member in option.cls)
        elif isinstance(option, msgspec.inspect.StructType):
            table = True
    if not values:
        return ""
    listed = ", ".join(repr(v) for v in values)
    return f"; valid values: {listed}" + (" or a table" if table else "")


def _unwrap(info: msgspec.inspect.Type, *, literals: bool = False) -> msgspec.inspect.Type:
    """Strip Optional around one type; with ``literals``, keep a union whose members carry the choices."""
    if isinstance(info, msgspec.inspect.UnionType):
        inner = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]  # UNSET is left out
        if len(inner) == 1:
            return inner[0]
        if literals:
            return msgspec.inspect.UnionType(types=tuple(inner))
    return info


def decode_toml(data: bytes | str, type_: type[T], *, path: str | Path = "<string>") -> T:
    """Decode TOML into ``type_``; a bad field raises ConfigError naming it (``strategy.fast_window``)."""
    try:
        result: T = msgspec.toml.decode(data, type=type_)
    except msgspec.ValidationError as exc:
        message = str(exc).split(" - at `", 1)[0]
        field = _field_from(exc)
        if field is not None and message.startswith("Invalid enum value"):
            message += _choices(type_, field)
        raise ConfigError(f"{message}; fix the value and run again", path=path, field=field) from exc
    except msgspec.DecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=path) from exc
    except ConfigError as exc:  # a struct's own check (``__post_init__``) names its field, not where it sits
        if exc.path is not None or exc.field is None:
            raise
        places = _paths_to(msgspec.inspect.type_info(type_), exc.field, "", set())
        field = places[0] if len(places) == 1 else exc.field
        raise ConfigError(str(exc).removeprefix(f"field `{exc.field}`: "), path=path, field=field) from exc
    return result


def _paths_to(info: msgspec.inspect.Type, name: str, prefix: str, seen: set[type]) -> list[str]:
    """Every dotted path to a struct field called ``name`` (tables only; an ambiguous name keeps its short form)."""
    if isinstance(info, msgspec.inspect.UnionType):
        return [p for t in info.types for p in _paths_to(t, name, prefix, seen)]
    if not isinstance(info, msgspec.inspect.StructType) or info.cls in seen:
        return []
    seen = seen | {info.cls}
    found: list[str] = []
    for f in info.fields:
        here = f"{prefix}{f.encode_name}"
        if f.encode_name == name:
            found.append(here)
        found.extend(_paths_to(f.type, name, here + ".", seen))
    return found


def load_config(path: str | Path, type_: type[T]) -> T:
    """Read and validate a TOML configuration file."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError("file not found; pass the path of an existing TOML file", path=p) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", path=p) from exc
    try:
        empty = msgspec.toml.decode(data) == {}
    except msgspec.DecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=p) from exc
    if empty:  # every field has a default, so an empty (or truncated, or wrong) file would silently run defaults
        raise ConfigError("the file is empty: it sets nothing; give at least one section (see examples/)", path=p)
    return decode_toml(data, type_, path=p)


DATA_ROOT_ENV = "TAPEFLOW_DATA"
"""The environment variable naming the folder that relative data paths are also looked up under."""


def checkout_data_root() -> Path | None:
    """``../shared/data`` next to a source checkout of tapeflow (where the project's shared data lives), or None.

    Only for a checkout (``src/tapeflow`` under a folder with ``pyproject.toml``): an installed package has no
    neighbour folder it could sensibly mean.
    """
    project = Path(__file__).resolve().parents[2]
    if not (project / "pyproject.toml").is_file():
        return None
    root = (project.parent / "shared" / "data").resolve()
    return root if root.is_dir() else None


def data_root(setting: str | None, base: Path | None) -> tuple[Path | None, str]:
    """(the data root, where it came from): ``[data] root``, else ``$TAPEFLOW_DATA``, else the checkout's default.

    A ``root`` written in a configuration is relative to that file's folder (``base``), like every path in it;
    ``TAPEFLOW_DATA`` is relative to the working directory, as a shell variable is.
    """
    if setting is not None:
        p = Path(setting).expanduser()
        return (p if p.is_absolute() or base is None else base / p), "[data] root"
    env = os.environ.get(DATA_ROOT_ENV)
    if env:
        return Path(env).expanduser().absolute(), DATA_ROOT_ENV
    return checkout_data_root(), "the default (../shared/data beside the checkout)"


def resolve_input(
    raw: str, *, base: Path | None, root: Path | None, field: str, root_from: str = "the data root"
) -> Path:
    """An input path a user wrote, found: as is when absolute, else under ``base`` (the configuration's folder,
    or the working directory for a configuration built in code), then under the data root.

    Never silently the working directory of a configuration file: the same file must run the same from any
    folder. Not found anywhere, the error lists every place looked, so the fix is obvious.
    """
    p = Path(raw).expanduser()
    if p.is_absolute():
        places = [(p, "")]
    else:
        places = [((base or Path.cwd()) / p, "the configuration's folder" if base is not None else "working dir")]
        if root is not None:
            places.append((root / p, f"root from {root_from}"))
    for place, _ in places:
        if place.exists():
            return Path(os.path.normpath(place.absolute()))  # no "examples/../build" in reports
    looked = ", ".join(f"{x} ({why})" if why else str(x) for x, why in places)
    hint = "fix the path"
    if not p.is_absolute() and root is None:
        hint += f", or set a data root (`root` in [data], or ${DATA_ROOT_ENV}) to look under"
    raise ConfigError(f"{raw}: no such file; looked in {looked}; {hint}", field=field)


def is_loopback(host: str) -> bool:
    """Whether a server bound to ``host`` (or a client aimed at it) stays on this machine: ``localhost`` or a
    loopback address. Any other name may resolve anywhere, so it is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


PURE_PYTHON_ENV = "TAPEFLOW_PURE_PYTHON"
"""Set to 1 to make every ``"auto"`` choice of implementation take the pure-Python reference (ITCH, LOBSTER)."""


def compiled_cores_wanted() -> bool:
    """Whether ``"auto"`` may pick a compiled core: one switch for a whole test run or benchmark on the references,
    read where a reader is built (never cached), so a process that sets it before building readers gets them."""
    return os.environ.get(PURE_PYTHON_ENV, "").strip().lower() not in ("1", "true", "yes")


def compiled_core_chosen(impl: str, available: bool, what: str) -> bool:
    """Whether ``impl`` ("auto", "compiled" or "python") picks a compiled core (``available``: it was built), as
    every core with a Python reference chooses: "compiled" is a ``ConfigError`` naming ``what`` when it was not
    built, "auto" takes it when built unless ``compiled_cores_wanted()`` says no, anything else is refused."""
    if impl not in ("auto", "compiled", "python"):
        raise ConfigError(f"impl must be auto, compiled or python, not {impl!r}", field="impl")
    if impl == "compiled" and not available:
        raise ConfigError(f"{what} was not built (make .venv/.installed)", field="impl")
    return available and (impl == "compiled" or (impl == "auto" and compiled_cores_wanted()))
