"""Turn a ``[strategy]`` section into a strategy object without running anything the user did not name as one.

A run configuration is data, and the file may come from someone else: naming ``subprocess:run`` with
``params = { args = "rm -rf ~", shell = true }`` must not run a shell. So the order is fixed:

1. resolve the name: a built-in from ``STRATEGIES``, or a class named explicitly as ``package.module:Class`` or
   ``path/to/file.py:Class``. Importing that module or file runs its top-level code, exactly like a Python
   ``import``; that is the one piece of code execution a configuration can ask for, and docs/BACKTEST.md says so;
2. check that what was named is a class and a subclass of ``Strategy``, before calling or instantiating anything;
3. decode ``params`` into the class's typed ``Params`` struct (``msgspec.convert``: wrong types and unknown fields
   are refused, naming ``strategy.params.<field>``), or, for a class without one, accept only scalar values whose
   names the constructor declares;
4. only then call the class.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import msgspec

from tapeflow.model.errors import ConfigError
from tapeflow.strategy.base import Strategy

STRATEGIES = {
    "ema_quote_cross": "tapeflow.strategy.examples.ema_quote:EmaQuoteCross",
    "imbalance_quoter": "tapeflow.strategy.examples.imbalance_quoter:ImbalanceQuoter",
    "ml_signal": "tapeflow.strategy.examples.ml_signal:MlSignal",
    "sma_cross": "tapeflow.strategy.examples.sma_cross:SmaCross",
}
"""Built-in strategies by short name; each declares a ``Params`` struct."""


class StrategySpec(Protocol):
    """What a ``[strategy]`` section says (``backtest.config.StrategyConfig``), as far as building needs it."""

    @property
    def name(self) -> str: ...

    @property
    def id(self) -> str | None: ...

    @property
    def params(self) -> Mapping[str, Any]: ...


def is_file_target(location: str) -> bool:
    """``path/to/file.py`` (a file to load) rather than ``package.module`` (a module to import)."""
    return location.endswith(".py") or "/" in location or "\\" in location


_NAME = "strategy.name"
_PARAMS = "strategy.params"
_SCALARS = (bool, int, float, str)


def split_target(name: str) -> tuple[str, str]:
    """``module_or_file:Class`` -> (module_or_file, Class); anything else is a ConfigError naming the choices."""
    location, sep, class_name = name.rpartition(":")
    if not sep or not location or not class_name.isidentifier():
        known = ", ".join(sorted(STRATEGIES))
        raise ConfigError(
            f"unknown strategy {name!r}: use one of {known}, or name your class as 'package.module:Class' "
            "or 'path/to/file.py:Class'",
            field=_NAME,
        )
    return location, class_name


def resolve_class(name: str, *, base_dir: Path | None = None) -> type[Strategy]:
    """The ``Strategy`` subclass ``name`` stands for; nothing it names is called. Relative files: ``base_dir``."""
    target = STRATEGIES.get(name, name)
    location, class_name = split_target(target)
    module = _load_file(location, base_dir) if is_file_target(location) else _import(location)
    try:
        obj = inspect.getattr_static(module, class_name)
    except AttributeError:
        raise ConfigError(f"{location} has no {class_name!r}; check the class name", field=_NAME) from None
    if not isinstance(obj, type):
        what = type(obj).__name__
        raise ConfigError(
            f"{target} is a {what}, not a class: name a subclass of tapeflow.strategy.base.Strategy", field=_NAME
        )
    if not issubclass(obj, Strategy) or obj is Strategy:
        raise ConfigError(
            f"{target} is not a Strategy: name a subclass of tapeflow.strategy.base.Strategy", field=_NAME
        )
    return obj


def _import(module_name: str) -> ModuleType:
    if not all(part.isidentifier() for part in module_name.split(".")):
        raise ConfigError(f"{module_name!r} is not a module name; write 'package.module:Class'", field=_NAME)
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"no module {exc.name or module_name!r} (importing {module_name!r}); install it or fix the name",
            field=_NAME,
        ) from exc
    except Exception as exc:  # the user's module failed on import: report it as one line, cause under --debug
        raise ConfigError(f"importing {module_name!r} failed: {type(exc).__name__}: {exc}", field=_NAME) from exc


def _load_file(location: str, base_dir: Path | None) -> ModuleType:
    path = Path(location)
    if not path.is_absolute():
        path = (base_dir if base_dir is not None else Path.cwd()) / path
    path = path.resolve()
    if path.suffix != ".py":
        raise ConfigError(f"{path}: a strategy file must be a Python file ending in .py", field=_NAME)
    if not path.is_file():
        raise ConfigError(
            f"{path}: no such file; fix the path (relative paths start at the config's folder)", field=_NAME
        )
    # One module name per file, as an import would: loading the same file twice reuses the first load.
    module_name = "tapeflow_strategy_file_" + hashlib.sha256(str(path).encode()).hexdigest()[:16]
    loaded = sys.modules.get(module_name)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py file always has a source loader
        raise ConfigError(f"{path}: cannot load this file as Python", field=_NAME)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # msgspec and typing resolve a class's annotations through sys.modules
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise ConfigError(f"{path}: loading failed: {type(exc).__name__}: {exc}", field=_NAME) from exc
    return module


def params_type(cls: type[Strategy]) -> type[msgspec.Struct] | None:
    """The class's ``Params`` struct, or None when it declares none."""
    declared = getattr(cls, "Params", None)
    if declared is None:
        return None
    if not (isinstance(declared, type) and issubclass(declared, msgspec.Struct)):
        raise ConfigError(f"{cls.__name__}.Params must be a msgspec.Struct subclass", field=_NAME)
    return declared


def decode_params(cls: type[Strategy], params: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``cls``: through its ``Params`` struct, or checked scalars when it has none."""
    if "strategy_id" in params:
        raise ConfigError("set the strategy's id with `strategy.id`, not in params", field=f"{_PARAMS}.strategy_id")
    struct = params_type(cls)
    if struct is None:
        return _checked_scalars(cls, params)
    try:
        decoded = msgspec.convert(params, struct)
    except msgspec.ValidationError as exc:
        raise _params_error(cls, struct, exc) from exc
    return msgspec.structs.asdict(decoded)


def _params_error(cls: type[Strategy], struct: type[msgspec.Struct], exc: msgspec.ValidationError) -> ConfigError:
    text = str(exc)
    if text.startswith("Object contains unknown field `"):
        field = text.split("`")[1]
        takes = ", ".join(sorted(struct.__struct_fields__)) or "no params"
        return ConfigError(f"{cls.__name__} has no parameter {field!r} (it takes: {takes})", field=f"{_PARAMS}.{field}")
    message, _, where = text.partition(" - at `$")
    return ConfigError(f"{message}; fix the value and run again", field=_PARAMS + where.rstrip("`"))


def _checked_scalars(cls: type[Strategy], params: dict[str, Any]) -> dict[str, Any]:
    """No ``Params`` struct: only scalars, and only names the constructor declares (no ``**kwargs`` catch-all)."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"cannot read the parameters of {cls.__name__}: {exc}", field=_PARAMS) from exc
    accepted = {
        p.name
        for p in signature.parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    for key, value in params.items():
        if key not in accepted:
            takes = ", ".join(sorted(accepted - {"strategy_id"})) or "no params"
            raise ConfigError(f"{cls.__name__} has no parameter {key!r} (it takes: {takes})", field=f"{_PARAMS}.{key}")
        if not isinstance(value, _SCALARS):
            raise ConfigError(
                f"{type(value).__name__} values need a typed `Params` struct on {cls.__name__}; "
                "without one, params are only numbers, text or booleans",
                field=f"{_PARAMS}.{key}",
            )
    return dict(params)


def build_strategy(cfg: StrategySpec, *, base_dir: Path | None = None) -> Strategy:
    """A built-in strategy by name, or the ``Strategy`` subclass the configuration names, with checked params."""
    cls = resolve_class(cfg.name, base_dir=base_dir)
    kwargs = decode_params(cls, dict(cfg.params))
    if cfg.id is not None:
        kwargs["strategy_id"] = cfg.id
    try:
        strategy = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{cls.__name__} refused these params: {exc}", field=_PARAMS) from exc
    if not isinstance(strategy, Strategy):  # a __new__ may return anything: fail closed
        raise ConfigError(f"{cls.__name__}(...) did not return a Strategy", field=_NAME)
    return strategy
