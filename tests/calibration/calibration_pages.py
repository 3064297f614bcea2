"""Reading a calibration page the way a test must: each chart's figure out of the HTML, by its ``fig-NAME`` id
(names carry symbols, so upper case and ``-`` too, unlike the tear sheet's)."""

from __future__ import annotations

import json
import re
from typing import Any

_FIGURE = re.compile(r'<script type="application/json" id="fig-([A-Za-z0-9_-]+)">(.*?)</script>', re.S)


def figures(page: str) -> dict[str, dict[str, Any]]:
    return {name: json.loads(body.replace("<\\/", "</")) for name, body in _FIGURE.findall(page)}
