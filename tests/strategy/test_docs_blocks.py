"""The building-blocks example in docs/BACKTEST.md runs on real daily bars and never stacks entries."""

from __future__ import annotations

from pathlib import Path

from tapeflow.backtest.engine import Backtest
from tapeflow.data.bars import read_bars
from tapeflow.model import Bar
from tapeflow.model.enums import Side
from tapeflow.portfolio import PortfolioConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "BACKTEST.md"


def test_the_documented_trend_follower_trades_nvda_one_entry_at_a_time(data_dir: Path) -> None:
    blocks = [b.split("```")[0] for b in DOC.read_text().split("```python\n")[1:]]
    source = next(b for b in blocks if "class TrendFollower" in b)
    namespace: dict[str, object] = {}
    exec(compile(source, str(DOC), "exec"), namespace)  # the doc's own code, nothing else
    bars = [e for e in read_bars(data_dir / "backtrader-yahoo-daily" / "nvda-1999-2014.txt.gz") if isinstance(e, Bar)]
    run = Backtest(
        [namespace["TrendFollower"]()],  # type: ignore[operator]
        portfolio=PortfolioConfig(starting_cash=100_000 * 10_000, sample_interval_ns=None),
    )
    run.run([bars])
    fills = run.results.fills
    assert len(fills) > 20
    sides = [f.side for f in fills]
    assert sides[::2] == [Side.BUY] * len(sides[::2])  # every entry is closed by a sell before the next one
    assert sides[1::2] == [Side.SELL] * len(sides[1::2])
    held = 0
    for f in fills:
        held += f.quantity if f.side is Side.BUY else -f.quantity
        assert held >= 0
