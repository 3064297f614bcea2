"""Imports point downward only, and no module imports itself back: checked from the source, not by convention.

The layer order is written once, here, and docs/ARCHITECTURE.md states the same line (the test reads it), so the
document and the check cannot drift apart. Every ``from tapeflow... import`` counts, at the top of a module or
inside a function: an import moved into a function to dodge a cycle is still the same dependency.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "tapeflow"
LAYERS: tuple[tuple[str, ...], ...] = (
    ("model",),
    ("config",),
    ("book",),
    ("engine",),
    ("risk", "portfolio", "execution", "compliance"),
    ("strategy", "ml"),
    ("venues", "data"),
    ("report", "calibration"),
    ("node",),
    ("backtest", "live"),
    ("paper", "sweep"),
    ("cli",),
)
"""Lowest first; packages on one line may import each other, as long as no module cycle results."""
RANK = {name: rank for rank, layer in enumerate(LAYERS) for name in layer}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(module: str) -> Iterator[tuple[str, int]]:
    """(imported tapeflow module, line) of every import in ``module``: ``from pkg import sub`` names ``pkg.sub``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "tapeflow":
            subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES]
            for target in subs or [node.module]:
                yield target, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "tapeflow":
                    yield alias.name, node.lineno


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_package_has_a_layer() -> None:
    packages = {_package(m) for m in MODULES} - {None, "__main__"}
    assert packages <= set(RANK), f"packages without a layer: {sorted(packages - set(RANK))}; add them to LAYERS"


def test_no_import_goes_up_the_layer_order() -> None:
    upward = []
    for module in MODULES:
        here = _package(module)
        if here not in RANK:
            continue
        for target, line in _imports(module):
            there = _package(target)
            if there in RANK and RANK[there] > RANK[here]:
                upward.append(f"{MODULES[module].relative_to(ROOT)}:{line} imports {target} ({here} < {there})")
    assert not upward, "imports that go up the layer order:\n" + "\n".join(upward)


def test_no_module_imports_itself_back() -> None:
    graph = {m: {t for t, _ in _imports(m) if t in MODULES and t != m} for m in MODULES}
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ],
)
def test_the_cycle_finder_finds_cycles_and_only_cycles(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert _cycles(graph) == expected


def test_architecture_md_states_the_same_layer_order() -> None:
    text = " ".join((ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8").split())
    match = re.search(r"Layer order \(checked by `tests/test_layers.py`, which reads this line\): ([^.]+)\.", text)
    assert match is not None, "docs/ARCHITECTURE.md must state the layer order line"
    stated = tuple(tuple(p.strip() for p in layer.split(",")) for layer in match.group(1).split("<"))
    assert stated == LAYERS
