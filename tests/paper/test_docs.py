"""docs/PAPER.md's example runs as written (the tape's path aside): a doc that drifts from the code is a bug."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tapeflow.paper.app import ServerThread

ROOT = Path(__file__).resolve().parents[2]


def test_the_python_examples_run_in_order(aapl: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (ROOT / "docs" / "PAPER.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 2  # starting it; the trade_updates stream beside the REST API
    namespace: dict[str, object] = {}
    for block in blocks:  # each continues the one before, as a reader would type them
        code = block.replace('"LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"', repr(str(aapl)))
        exec(compile(code, "docs/PAPER.md", "exec"), namespace)
        server = namespace["server"]
        assert isinstance(server, ServerThread) and not server.thread.is_alive()
    assert "2012, 6, 21" in capsys.readouterr().out  # the clock answered on the tape's day
