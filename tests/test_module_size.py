"""Modules stay small: over 400 lines a module says why in its docstring; over 600 it is split, whatever the reason.

A long module usually holds two ideas, and splitting it along them is the fix. Where the length is one idea (one
state machine, one reader whose parts share their state), the module docstring has a line that starts with
``Why this module is long:`` and gives the reason, so the next reader knows it was a choice. Lines are counted as
``str.splitlines`` counts them (what ``wc -l`` shows for a file ending in a newline).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "tapeflow"
SOFT_LIMIT = 400
HARD_CAP = 600
MARKER = "Why this module is long:"


def problem(source: str, name: str) -> str | None:
    """Why ``source`` is too long, or None when it is not."""
    lines = len(source.splitlines())
    if lines > HARD_CAP:
        return f"{name}: {lines} lines, over the cap of {HARD_CAP}: split it"
    if lines <= SOFT_LIMIT:
        return None
    docstring = ast.get_docstring(ast.parse(source)) or ""
    if any(line.strip().startswith(MARKER) for line in docstring.splitlines()):
        return None
    return f"{name}: {lines} lines, over {SOFT_LIMIT} with no '{MARKER}' line in its docstring: split it or say why"


def _all_problems() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(SRC.rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        why = problem(path.read_text(encoding="utf-8"), name)
        if why is not None:
            found[name] = why
    return found


def test_no_module_is_too_long_without_a_reason() -> None:
    found = [why for name, why in _all_problems().items()]
    assert not found, "modules too long:\n" + "\n".join(found)


def _module(lines: int, docstring: str = "A module.") -> str:
    head = f'"""{docstring}"""\n'
    return head + "x = 1\n" * (lines - len(head.splitlines()))


@pytest.mark.parametrize(
    ("source", "too_long"),
    [
        (_module(400), False),
        (_module(401), True),
        (_module(401, "One idea.\n\nWhy this module is long: one state machine.\n"), False),
        (_module(401, "One idea.\n\n    Why this module is long: indented is fine.\n"), False),
        (_module(401, "One idea; Why this module is long: must start its line.\n"), True),
        (_module(401, "One idea.\n\nwhy this module is long: the marker is exact.\n"), True),
        ('x = 1\n"""Why this module is long: not the docstring."""\n' + "x = 1\n" * 399, True),
        (_module(600, "Why this module is long: one idea."), False),
        (_module(601, "Why this module is long: one idea."), True),
    ],
)
def test_the_checker_wants_a_reason_over_400_and_a_split_over_600(source: str, too_long: bool) -> None:
    assert (problem(source, "m.py") is not None) == too_long


def test_a_long_module_is_named_with_its_length() -> None:
    assert problem(_module(601), "src/m.py") == "src/m.py: 601 lines, over the cap of 600: split it"
