"""``risk_path``: run a test once through the fused check and once rule by rule.

The fused check (``risk/fast.py``) decides every order that passes, so a boundary test ("at the limit it
passes") run only through it never reaches the rule object's own compare: a ``>`` turned ``>=`` in a rule would
survive. Modules that test limits use this fixture for every test (``pytestmark``), so each boundary is checked
through both paths.
"""

from __future__ import annotations

import pytest

from tests.risk import helpers


@pytest.fixture(params=["fused", "rule_by_rule"])
def risk_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    path: str = request.param
    monkeypatch.setattr(helpers, "FUSED_DEFAULT", path == "fused")
    return path
