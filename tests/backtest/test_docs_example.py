"""The strategy in docs/BACKTEST.md runs, trades, and fits in under 40 lines."""

from __future__ import annotations

import re
from pathlib import Path

from tapeflow.backtest.engine import Backtest
from tapeflow.config import SyntheticConfig
from tapeflow.data.synthetic import SyntheticMarket

DOC = Path(__file__).resolve().parents[2] / "docs" / "BACKTEST.md"


def test_the_documented_strategy_runs_and_is_short() -> None:
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert code is not None
    source = code.group(1)
    assert len([line for line in source.splitlines() if line.strip()]) < 40
    namespace: dict[str, object] = {}
    exec(compile(source, str(DOC), "exec"), namespace)  # the doc's own code, nothing else
    strategy = namespace["LeanBuyer"]()  # type: ignore[operator]
    market = SyntheticMarket(SyntheticConfig(symbols=("AAPL",), events_per_symbol=20_000, seed=3))
    bt = Backtest([strategy])  # type: ignore[list-item]
    bt.run(market.sources())
    assert bt.summary().fills > 0
