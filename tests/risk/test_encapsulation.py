"""No module in ``risk/`` reads a private attribute of an object it does not own.

A rule's fast check once reached into the duplicate window, the ledger, the token buckets, the calendar and the
context through their private names, so a change to any of them could silently break the fast path. Now each
object exposes what others read; this test keeps it so. ``x._name`` is allowed only when ``x`` is ``self`` or
``cls`` (an object's own state), and enum ``_value_``-style names (sunder: the enum's public API) are allowed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tapeflow.risk

RISK = Path(tapeflow.risk.__file__).parent


def private_reads(source: str) -> list[tuple[int, str]]:
    """``(line, "owner._name")`` for every private attribute read through something other than self or cls."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or name.startswith("__") or (name.endswith("_") and len(name) > 2):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
            continue
        found.append((node.lineno, f"{ast.unparse(owner)}.{name}"))
    return found


def test_no_risk_module_reads_another_objects_private_attributes() -> None:
    offenders = {
        path.name: reads for path in sorted(RISK.glob("*.py")) if (reads := private_reads(path.read_text("utf-8")))
    }
    assert offenders == {}


def test_the_check_finds_a_private_read_through_another_object() -> None:
    source = "def f(self, ledger):\n    self._own = 1\n    return ledger._entries, self.ledger._entries, E._value_\n"
    assert private_reads(source) == [(3, "ledger._entries"), (3, "self.ledger._entries")]
