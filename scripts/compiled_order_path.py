"""Issue 19's experiment: a scratch copy of this tree with the bar backtest's order path compiled, to measure.

    .venv/bin/python scripts/compiled_order_path.py DIR [--compiler mypyc|cython|edits|none] [--extended]

Extracts ``git archive HEAD src`` into ``DIR`` (which must not exist), copies the built Cython cores beside their
``.pyx`` there, and compiles the modules an order passes through (``ORDER_PATH``; ``--extended`` adds
``EXTENDED``): with mypyc, after the few source changes it needs (``MYPYC_EDITS``, each applied to the copy and
failing loudly if the text it changes is gone), or with Cython in pure Python mode, the same ``.py`` files
unchanged. ``none`` is the interpreted tree, the reference; ``edits`` the interpreted tree with mypyc's source
changes (they must change no result: ``tests/benchmarks/test_compiled_order_path.py``). The repository is never
changed: measure with ``PYTHONPATH=DIR/src`` (``benchmarks/bench_backtest_bars.py --split``, ``--digest``,
``--once``) as docs/PERFORMANCE.md's "compiled order path" section says. It needs mypy (a dev dependency: mypyc
comes with it) or Cython (``pip install Cython``) in the running interpreter, and gcc with the Python headers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ORDER_PATH = (
    "tapeflow/model/order_record.py",  # the base of execution's and the exchange's order records
    "tapeflow/execution/engine.py",
    "tapeflow/execution/orders.py",
    "tapeflow/execution/order_ids.py",
    "tapeflow/venues/sim/exchange.py",
    "tapeflow/venues/sim/bar_fills.py",
    "tapeflow/venues/sim/orders.py",
    "tapeflow/risk/engine.py",
    "tapeflow/risk/context.py",
    "tapeflow/portfolio/portfolio.py",
    "tapeflow/portfolio/position.py",
    "tapeflow/report/results.py",
)
"""The order path's modules (cProfile and ``--dispatch``); not ``model/``'s events, not the kernel."""

EXTENDED = (
    "tapeflow/strategy/base.py",
    "tapeflow/risk/flow_rules.py",
    "tapeflow/node/assembly.py",
    "tapeflow/book/keeper.py",
    "tapeflow/engine/timers.py",
)
"""The rest of the interpreted frames an order still passes through once ``ORDER_PATH`` is compiled, but the
kernel (``engine/kernel.py``: a conditional class body and methods bound as class attributes mypyc refuses) and
the fused risk check (text compiled at run time by ``risk/fast.py``, which no ahead-of-time compiler sees)."""

STRUCTS = (
    # (module, Struct, new interpreted module, its imports, what else moves with it)
    ("tapeflow/venues/sim/exchange.py", "SimExchangeConfig", "exchange_config",
     "import msgspec\n\nfrom tapeflow.venues.sim.queue import QueueModel\n", ""),
    ("tapeflow/portfolio/portfolio.py", "PortfolioConfig", "portfolio_config",
     "from typing import Literal\n\nimport msgspec\n", "DEFAULT_SAMPLE_INTERVAL_NS"),
    ("tapeflow/portfolio/position.py", "PositionView", "position_view",
     "from fractions import Fraction\n\nimport msgspec\n", ""),
    ("tapeflow/report/results.py", "OrderRecord", "order_record",
     "import msgspec\n\nfrom tapeflow.model.enums import OrderStatus, OrderType, Side, TimeInForce\n"
     "from tapeflow.model.prices import NO_PRICE\n", ""),
)  # fmt: skip
"""msgspec Structs defined in a module mypyc compiles lose their class keywords (``frozen=True``, ``kw_only=True``):
``BacktestConfig``'s default ``SimExchangeConfig()`` is then refused as a mutable default at import. Each moves
to an interpreted module beside its own, imported back under its name."""

MYPYC_EDITS = (
    ("tapeflow/portfolio/portfolio.py", "    COLUMNS = (", "    COLUMNS: ClassVar[tuple[str, ...]] = ("),
    ("tapeflow/portfolio/portfolio.py", "from typing import ", "from typing import ClassVar, "),
    # a method bound again under a second name in the class body: mypyc warns and leaves it unset on the native
    # class; the one method is called by its own name instead
    ("tapeflow/portfolio/portfolio.py", "    _mark_x2 = mark_x2  #", "    #"),
    ("tapeflow/portfolio/portfolio.py", "self._mark_x2(", "self.mark_x2("),
    ("tapeflow/portfolio/__init__.py", "import Position, PositionView, round_div",
     "import Position, round_div\nfrom tapeflow.portfolio.position_view import PositionView"),
    ("tapeflow/portfolio/portfolio.py", "import Position, PositionView, mark_x2_of",
     "import Position, mark_x2_of\nfrom tapeflow.portfolio.position_view import PositionView"),
)  # fmt: skip
"""The other changes mypyc needed: ``(file, old text, new text)``, every occurrence replaced."""

STRATEGY_EDITS = (
    ("tapeflow/strategy/base.py", "\nclass Strategy:",
     "\n@mypyc_attr(allow_interpreted_subclasses=True)\nclass Strategy:"),
    ("tapeflow/strategy/base.py", "from __future__ import annotations\n",
     "from __future__ import annotations\n\nfrom mypy_extensions import mypyc_attr\n"),
)  # fmt: skip
"""A compiled ``Strategy`` is subclassed by every user strategy, which mypyc refuses unless told."""


def _replace(src: Path, name: str, old: str, new: str) -> None:
    path = src / name
    text = path.read_text()
    if old not in text:
        raise SystemExit(f"{name}: {old!r} is not there any more: update MYPYC_EDITS")
    path.write_text(text.replace(old, new))


def _top_level_block(text: str, start: str) -> tuple[int, int]:
    """Where the top-level statement starting with ``start`` begins and ends (its indented lines and docstring)."""
    begin = text.index("\n" + start) + 1
    lines = text[begin:].split("\n")
    end = 1
    while end < len(lines) and (not lines[end] or lines[end].startswith((" ", '"""'))):
        end += 1
    return begin, begin + len("\n".join(lines[:end])) + 1


def _move_struct(src: Path, module: str, struct: str, new_module: str, imports: str, constant: str) -> None:
    path = src / module
    text = path.read_text()
    moved = []
    for start in ([f"{constant} ="] if constant else []) + [f"class {struct}("]:
        begin, end = _top_level_block(text, start)
        moved.append(text[begin:end])
        text = text[:begin] + text[end:]
    package = ".".join(Path(module).parent.parts)
    names = ", ".join(f"{n} as {n}" for n in ([constant] if constant else []) + [struct])
    text = text.replace(
        "from __future__ import annotations\n",
        f"from __future__ import annotations\n\nfrom {package}.{new_module} import {names}\n",
        1,
    )
    path.write_text(text)
    doc = f'"""``{struct}``, out of ``{Path(module).name}`` so that it stays interpreted (see STRUCTS)."""\n\n'
    body = "\n\n".join(block.strip("\n") for block in moved)
    (path.parent / f"{new_module}.py").write_text(f"{doc}from __future__ import annotations\n\n{imports}\n\n{body}\n")


def extract(target: Path) -> Path:
    """``HEAD``'s ``src`` in ``target`` with this checkout's built Cython cores beside their ``.pyx``."""
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "HEAD", "src"], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    # only the cores built in place beside their ``.pyx``: a stray ``cythonize -i`` leaves copies under ``src/build``,
    # whose folders the archive does not have
    for core in (ROOT / "src" / "tapeflow").rglob("*.so"):
        if core.with_name(core.name.split(".", 1)[0] + ".pyx").exists():
            shutil.copy2(core, target / core.relative_to(ROOT))
    return target / "src"


def mypyc_edits(src: Path, modules: list[str]) -> None:
    """The source changes mypyc needs, on the copy (``--compiler edits``: these alone, nothing compiled)."""
    for module, struct, new_module, imports, constant in STRUCTS:
        _move_struct(src, module, struct, new_module, imports, constant)
    edits = MYPYC_EDITS + (STRATEGY_EDITS if "tapeflow/strategy/base.py" in modules else ())
    for name, old, new in edits:
        _replace(src, name, old, new)


def compile_mypyc(src: Path, modules: list[str]) -> None:
    mypyc_edits(src, modules)
    subprocess.run([sys.executable, "-m", "mypyc", "--strict", *modules], cwd=src, check=True)


def compile_cython(src: Path, modules: list[str]) -> None:
    code = (
        "import sys\nfrom Cython.Build import cythonize\nfrom setuptools import Extension, setup\n"
        "mods = sys.argv[1:]\nsys.argv[1:] = ['build_ext', '--inplace', '-q']\n"
        "setup(ext_modules=cythonize([Extension(m[:-3].replace('/', '.'), [m], extra_compile_args=['-O2']) "
        "for m in mods], compiler_directives={'language_level': '3'}, quiet=True))\n"
    )
    subprocess.run([sys.executable, "-c", code, *modules], cwd=src, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", type=Path, help="a directory that does not exist yet (outside the repository)")
    parser.add_argument("--compiler", choices=("mypyc", "cython", "edits", "none"), default="mypyc")
    parser.add_argument("--extended", action="store_true", help="also compile EXTENDED")
    args = parser.parse_args()
    target = args.target.resolve()
    if target.exists() or target.is_relative_to(ROOT):
        raise SystemExit(f"{target}: give a new directory outside the repository")
    src = extract(target)
    modules = list(ORDER_PATH + (EXTENDED if args.extended else ()))
    start = time.perf_counter(), os.times()
    if args.compiler == "mypyc":
        compile_mypyc(src, modules)
    elif args.compiler == "cython":
        compile_cython(src, modules)
    elif args.compiler == "edits":
        mypyc_edits(src, modules)
    wall = time.perf_counter() - start[0]
    end = os.times()
    cpu = end.children_user + end.children_system - start[1].children_user - start[1].children_system
    print(f"{target}/src: {args.compiler}, {len(modules)} modules, build {wall:.0f} s wall, {cpu:.0f} s CPU")


if __name__ == "__main__":
    main()
