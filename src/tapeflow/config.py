"""Run configuration: TOML decoded into typed, validated structs.

Configuration is read once, at the edge, and handed to components as frozen structs: nothing mutates it at run time
(limits that change while running do so through events). Every error names the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, TypeVar

import msgspec

from tapeflow.model.errors import ConfigError

T = TypeVar("T")

PositiveInt = Annotated[int, msgspec.Meta(gt=0)]


class SyntheticConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The built-in synthetic market (``tapeflow.data.synthetic``)."""

    symbols: tuple[str, ...] = ("AAPL", "MSFT", "TSLA", "SPY")
    seed: int = 7
    events_per_symbol: PositiveInt = 50_000
    start_price: tuple[str, ...] = ()
    """Optional start prices in dollars, one per symbol ("190.25"); defaults are picked from the seed."""
    start_ns: Annotated[int, msgspec.Meta(ge=0)] = 1_718_976_600_000_000_000
    """2024-06-21 09:30:00 New York time."""


def _field_from(exc: msgspec.ValidationError) -> str | None:
    text = str(exc)
    marker = "at `$."
    if marker in text:
        return text.split(marker, 1)[1].rstrip("`")
    return None


def decode_toml(data: bytes | str, type_: type[T], *, path: str | Path = "<string>") -> T:
    """Decode TOML into ``type_``; a bad field raises ConfigError naming it (``strategy.fast_window``)."""
    try:
        result: T = msgspec.toml.decode(data, type=type_)
    except msgspec.ValidationError as exc:
        message = str(exc).split(" - at `", 1)[0]
        raise ConfigError(f"{message}; fix the value and run again", path=path, field=_field_from(exc)) from exc
    except msgspec.DecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=path) from exc
    return result


def load_config(path: str | Path, type_: type[T]) -> T:
    """Read and validate a TOML configuration file."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError("file not found; pass the path of an existing TOML file", path=p) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", path=p) from exc
    return decode_toml(data, type_, path=p)
