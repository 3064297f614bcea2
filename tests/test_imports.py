"""Imports sit at the top of a module; one inside a function must say why, on its own line, with ``# lazy:``.

An import hidden in a function is a dependency the reader of the module's top does not see, and a cost paid at
an unexpected moment. It is allowed only where loading at the top would cost something real: an optional or heavy
dependency (pyarrow, pandas through exchange_calendars), one reader of several when a caller needs only one, or
what would slow ``tapeflow --help``. The reason goes in a comment on the import itself, ``# lazy: <why>``; in a
parenthesised import any of its lines may carry it, and it may follow another comment on the same line
(``# type: ignore[...]  # lazy: ...``). Imports under ``if TYPE_CHECKING:`` are not run and are not counted.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "tapeflow"
LAZY = re.compile(r"#\s*lazy:\s*\S")
"""``# lazy:`` followed by a reason; the marker alone says nothing and does not count."""


def _comments(source: str) -> dict[int, str]:
    """Line number -> the comment on that line (the whole text after ``#``, other comments included)."""
    found: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            found[token.start[0]] = token.string
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def offenders(source: str, name: str) -> list[str]:
    """Each import inside a function (or method, or a function nested in one) without a ``# lazy:`` reason."""
    comments = _comments(source)
    found: list[str] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            children: list[ast.AST] = list(node.orelse)  # the body is not run; an else branch is
        else:
            children = list(ast.iter_child_nodes(node))
        if isinstance(node, ast.Import | ast.ImportFrom) and in_function:
            end = node.end_lineno or node.lineno
            if not any(LAZY.search(comments.get(line, "")) for line in range(node.lineno, end + 1)):
                found.append(
                    f"{name}:{node.lineno}: {ast.unparse(node)} "
                    "(inside function; move it to the top or say why with # lazy:)"
                )
        inside = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for child in children:
            visit(child, inside)

    visit(ast.parse(source), in_function=False)
    return found


def _all_offenders() -> dict[str, list[str]]:
    by_path: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        found = offenders(path.read_text(encoding="utf-8"), name)
        if found:
            by_path[name] = found
    return by_path


def test_no_import_inside_a_function_without_a_lazy_reason() -> None:
    found = [line for path, lines in _all_offenders().items() for line in lines]
    assert not found, "imports inside functions:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "count"),
    [
        ("import os\n\ndef f():\n    return os\n", 0),
        ("def f():\n    import os\n", 1),
        ("class C:\n    def m(self):\n        from a import b\n", 1),
        ("def f():\n    def g():\n        import os\n", 1),
        ("async def f():\n    import os\n", 1),
        ("def f():\n    if True:\n        import os\n", 1),
        ("def f():\n    import os  # lazy: only on Tuesdays\n", 0),
        ("def f():\n    import os  # lazy:\n", 1),
        ("def f():\n    import os  # lazy\n", 1),
        ("def f():\n    import os  # type: ignore[import]  # lazy: untyped and slow\n", 0),
        ("def f():\n    from a import (  # lazy: heavy\n        b,\n        c,\n    )\n", 0),
        ("def f():\n    from a import (\n        b,\n        c,  # lazy: heavy\n    )\n", 0),
        ("def f():\n    # lazy: said on the wrong line\n    import os\n", 1),
        ("def f():\n    if TYPE_CHECKING:\n        import os\n", 0),
        ("def f():\n    if typing.TYPE_CHECKING:\n        import os\n    else:\n        import sys\n", 1),
        ("if TYPE_CHECKING:\n    import os\n", 0),
        ("try:\n    import os\nexcept ImportError:\n    os = None\n", 0),
    ],
)
def test_the_checker_flags_exactly_unexplained_imports_in_functions(source: str, count: int) -> None:
    assert len(offenders(source, "m.py")) == count


def test_an_offender_is_printed_as_path_line_and_import() -> None:
    assert offenders("x = 1\n\ndef f():\n    from a.b import c, d\n", "src/m.py") == [
        "src/m.py:4: from a.b import c, d (inside function; move it to the top or say why with # lazy:)"
    ]
