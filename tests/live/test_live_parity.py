"""Parity: one strategy on one tape, through ``tapeflow backtest``'s assembly and through ``tapeflow live`` against
the paper venue in stepped mode, gives the same orders and the same fills.

The live side is the whole live stack (``LiveSession``: the Alpaca order adapter over REST and ``trade_updates``, the
market data stream, the node on the venue's clock) against ``PaperServer`` (what ``tapeflow paper`` serves), moved
one tape event at a time by ``lockstep.Lockstep`` with the node quiescent between steps. The backtest is
``build_backtest`` on the same ``[data]`` (the first ``EVENTS`` events of the AAPL LOBSTER day, L3), ``[latency]``
(colo at XNAS), fees, capital and risk as the venue's: the venue's own node is that same assembly, so the exchange
the live orders reach is the backtest's exchange, fed the same tape.

Identical, event for event: the market data the strategy sees (quotes and trades derived from the venue's L3
book, sent over the data stream: prices, sizes, exchange times, order), every command (submit, modify, cancel:
side, type, quantity, limit price, in order), every fill (order, side, price, quantity, leaves, in order), every
other report (accepted, updated, cancelled, cancel rejected, in order), every order risk refused (and by which
rule), each report's exchange time (``ts_event``), the position; and the venue's own record of each fill equals
the backtest's field for field, fees included.

What differs, exactly, and why:

- A trade's aggressor side and exchange. Alpaca's trade messages carry no side: the live feed signs each trade
  itself (``tapeflow.live.aggressor``: the quote rule against the quotes before it, else the tick test), where the
  backtest's L3 book knows who took; and a trade's exchange is Alpaca's letter (``Q``) where the backtest has the
  MIC (``XNAS``). The live trades are exactly the backtest's, signed by ``AggressorSigner`` from the data alone.

- Time. The live node lives on the venue's clock: the exchange time (``ts_event``) of the newest market event it has
  received. It decides on a quote at that quote's exchange time, where the backtest's node decides at the quote's
  arrival, ``feed`` later (the latency model's feed delay); it sends at once, where the backtest sends after the
  compute delay, because the paper venue charges the compute delay itself when the order reaches it (so the order
  reaches the exchange at the same time in both). A report reaches the live node when its ``trade_updates``
  message arrives: it is stamped with the venue clock then, the exchange time of the newest market event received,
  where the backtest's node gets it at the exchange's time plus the response latency. Both nodes hear every report
  between the same two market events (``seen_at_report`` equal): the order of what the strategy sees is the same.
- Fees. Alpaca's trade updates carry no fee, so a live fill's ``fee`` is 0 and the live node's cash is the
  backtest's plus the fees (the venue charges them: its account's cash is the backtest's).
- Liquidity side. Alpaca's trade updates do not say whether a fill added or took liquidity; the live node marks
  every fill TAKER. A resting limit order's fills are MAKER in the backtest.
- The end. The backtest's end of data delivers what is already scheduled, however late: a DAY order still resting
  expires at the close (16:00). The live run stops at the last tape event plus a second, that order still working at
  the venue.

Alpaca's protocol also refuses things the backtest's exchange takes (a cancel while a replace is pending, a second
cancel of one order: 422 at once, where the exchange lets the cancel overtake the replace or refuses the second
cancel later); the test strategy does neither (tests/live/parity_strategy.py), so the runs stay comparable, and
the first of them has its own test below, with its exact outcome on each side.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tapeflow.backtest.config import LatencyConfig, StrategyConfig
from tapeflow.backtest.engine import Backtest
from tapeflow.backtest.run import build_backtest
from tapeflow.backtest.sources import build_sources, build_strategy
from tapeflow.live.aggressor import AggressorSigner
from tapeflow.model.enums import Aggressor, LiquiditySide, OrderType, Side
from tapeflow.model.market import Quote, Trade
from tapeflow.model.orders import CancelRejected, OrderFilled

from .lockstep import Lockstep, SteppedPaper, Trail, drive

EVENTS = 3_000
"""The first events of the AAPL day (about 3 minutes of tape after the open): a few hundred orders."""
LATENCY = LatencyConfig()  # colo at XNAS: the paper venue's default, and the backtest's
FIXED = LATENCY.build()
SECOND = 1_000_000_000
LOBSTER = "lobster-samples-2012-06-21/LOBSTER_SampleFile_AAPL_2012-06-21_1.zip"
EMA_QUOTE_CROSS = StrategyConfig(name="ema_quote_cross", params={"fast": 5, "slow": 15, "quantity": 100})
EMA_LIMIT_CROSS = StrategyConfig(name=f"{Path(__file__).parent / 'parity_strategy.py'}:EmaLimitCross")


@dataclass
class Runs:
    live: Trail
    backtest: Trail
    lockstep: Lockstep
    paper: SteppedPaper
    bt: Backtest
    result: Any


@pytest.fixture
def tape(data_dir: Path) -> Path:
    path = data_dir / LOBSTER
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path


def _run(tape: Path, strategy: StrategyConfig, events: int = EVENTS) -> Runs:
    paper = SteppedPaper(tape, LATENCY, events)
    end: list[int] = []
    try:
        lockstep = Lockstep(paper, strategy)
        live = Trail()
        live.attach(lockstep.session.node.node.kernel)

        async def body(step: Lockstep) -> None:
            await step.events(events + 1)
            assert paper.venue.done, "the venue's tape is the first ``events`` events"
            end.append(paper.venue.now + SECOND)
            await step.until(end[0])

        result = drive(lockstep, body)
    finally:
        paper.stop()
    backtest = Trail()
    cfg = paper.config.as_backtest()
    sources, level, _ = build_sources(cfg.data)
    assert level == "L3"
    bt = build_backtest(cfg, build_strategy(strategy), level, extra=[backtest]).run(sources, until=end[0])
    return Runs(live, backtest, lockstep, paper, bt, result)


def _fills(trail: Trail) -> list[OrderFilled]:
    return [r for r in trail.reports if isinstance(r, OrderFilled)]


def _assert_market_data(runs: Runs) -> None:
    """The same quotes and trades, but for each trade's aggressor (inferred live) and exchange code."""
    signer = AggressorSigner()
    expected: list[Quote | Trade] = []
    for event in runs.backtest.market:
        if isinstance(event, Quote):
            signer.quote(event)
            expected.append(msgspec.structs.replace(event, ts_init=0))
        else:
            unsigned = msgspec.structs.replace(event, aggressor=Aggressor.UNKNOWN, ts_init=0)
            expected.append(signer.sign(unsigned))
    received = [
        msgspec.structs.replace(e, ts_init=0, **({"venue": "XNAS"} if isinstance(e, Trade) and e.venue == "Q" else {}))
        for e in runs.live.market
    ]
    assert received == expected
    trades = [(x, b) for x, b in zip(runs.live.market, runs.backtest.market, strict=True) if isinstance(b, Trade)]
    assert len(trades) > 100 and any(x.aggressor != b.aggressor for x, b in trades), "the inference is not the truth"


def _assert_clean(runs: Runs) -> None:
    """Nothing was lost, doubled, malformed or refused on the way."""
    node = runs.lockstep.session.node.node
    assert runs.result.stop.how == "graceful"
    assert runs.result.orders["given_up"] == 0 and runs.result.orders["errors"] == []
    assert runs.result.feed["malformed"] == 0 and runs.result.feed["duplicates"] == 0
    assert runs.lockstep.session.venue.stream.malformed == 0
    assert runs.lockstep.session.venue.ledger.duplicates == 0
    assert runs.lockstep.ties == 0, "no report was published in the same step as a tape event (no race)"
    assert node.execution.refused_reports == 0


def _assert_times(runs: Runs, *, backtest_only: int = 0) -> None:
    """The exact time differences of the module docstring; the backtest's last ``backtest_only`` reports have no
    live twin (the expiry at the close)."""
    live, bt = runs.live, runs.backtest
    kept = len(bt.reports) - backtest_only
    for command, seen in zip(live.commands, live.seen_at_command, strict=True):
        assert command.ts_event == command.ts_init == seen, "live: decided and sent at the venue clock"
    for command in bt.commands:
        assert command.ts_init == command.ts_event + FIXED.compute_ns, "backtest: sent after the compute delay"
    offsets = Counter(b.ts_event - x.ts_event for x, b in zip(live.commands, bt.commands, strict=True))
    on_data = [i for i, t in enumerate(live.triggers) if t == "data"]
    assert on_data and all(bt.commands[i].ts_event - live.commands[i].ts_event == FIXED.feed_ns for i in on_data), (
        offsets
    )
    assert live.triggers == bt.triggers, "each command reacts to the same kind of event"
    for report, seen in zip(live.reports, live.seen_at_report, strict=True):
        assert report.ts_init == seen, "live: a report is stamped with the venue clock when it arrives"
    assert live.seen_at_report == bt.seen_at_report[:kept], "every report reaches both between the same market events"
    assert [r.ts_event for r in live.reports] == [r.ts_event for r in bt.reports[:kept]], "the exchange's own times"
    for fill in _fills(bt):
        assert fill.ts_init == fill.ts_event + FIXED.insert_response_ns == fill.ts_event + FIXED.modify_response_ns


def _assert_fees_and_cash(runs: Runs) -> None:
    live_fills, bt_fills = _fills(runs.live), _fills(runs.backtest)
    assert all(f.fee == 0 for f in live_fills), "Alpaca's trade updates carry no fee"
    fees = sum(f.fee for f in bt_fills)
    assert fees > 0
    venue = [(f.ts_event, f.price, f.quantity, f.liquidity_side, f.fee) for f in runs.paper.venue.node.results.fills]
    assert venue == [(f.ts_event, f.price, f.quantity, f.liquidity_side, f.fee) for f in bt_fills]
    node = runs.lockstep.session.node.node
    assert node.portfolio.quantity("AAPL") == runs.bt.node.portfolio.quantity("AAPL")
    assert runs.paper.venue.node.portfolio.cash == runs.bt.node.portfolio.cash
    assert node.portfolio.cash == runs.bt.node.portfolio.cash + fees


def test_market_orders_give_the_backtests_orders_fills_and_reports_through_the_live_stack(tape: Path) -> None:
    """``ema_quote_cross`` (market orders: close and reverse on each crossing of two EMAs of the mid)."""
    runs = _run(tape, EMA_QUOTE_CROSS)
    live, bt = runs.live, runs.backtest
    assert live.orders() == bt.orders()
    assert live.fills() == bt.fills()
    assert {f[4] for f in bt.fills()} == {LiquiditySide.TAKER}, "market orders only take: no liquidity difference"
    assert live.outcomes() == bt.outcomes()
    assert [(r.client_order_id.rsplit("-", 1)[-1], r.rule) for r in live.risk] == [
        (r.client_order_id.rsplit("-", 1)[-1], r.rule) for r in bt.risk
    ]
    assert len(bt.orders()) > 100 and len(bt.fills()) > 100, "the comparison is about many trades"
    _assert_market_data(runs)
    _assert_times(runs)
    _assert_fees_and_cash(runs)
    _assert_clean(runs)


def test_limit_orders_replaces_and_cancels_give_the_backtests_except_the_stated_differences(tape: Path) -> None:
    """``EmaLimitCross``: resting and marketable limits, replaces and cancels, market orders to close."""
    runs = _run(tape, EMA_LIMIT_CROSS)
    live, bt = runs.live, runs.backtest
    assert live.orders() == bt.orders()
    kinds = Counter(o[0] for o in bt.orders())
    assert kinds["submit"] > 100 and kinds["modify"] > 10 and kinds["cancel"] > 50
    # fills: identical but for the liquidity side, which the live node cannot know
    assert [f[:4] + f[5:] for f in live.fills()] == [f[:4] + f[5:] for f in bt.fills()]
    assert {f[4] for f in live.fills()} == {LiquiditySide.TAKER}
    assert Counter(f[4] for f in bt.fills())[LiquiditySide.MAKER] > 10
    # reports: identical but the backtest's last one, the resting DAY order expiring at the close
    expired = bt.outcomes()[-1]
    assert expired[0] == "OrderExpired" and bt.reports[-1].ts_event == 1_340_308_800 * SECOND  # 16:00 New York
    assert live.outcomes() == bt.outcomes()[:-1]
    still = [o for o in runs.paper.venue.orders() if live.number(o.client_order_id) == expired[1]]
    assert [o.status for o in still] == ["new"], "live, that order is still working at the venue"
    rejected = [o for o in live.outcomes() if o[0] == "CancelRejected"]
    assert rejected, "cancels that came too late for a fill are answered (the paper venue once swallowed them)"
    assert [(r.client_order_id.rsplit("-", 1)[-1], r.rule) for r in live.risk] == [
        (r.client_order_id.rsplit("-", 1)[-1], r.rule) for r in bt.risk
    ]
    _assert_market_data(runs)
    _assert_times(runs, backtest_only=1)
    _assert_fees_and_cash(runs)
    _assert_clean(runs)


def test_the_lockstep_harness_waits_for_the_node_and_fails_a_wait_that_never_ends(tape: Path) -> None:
    """A settle that cannot complete (a data message the node will never see) fails within its bound instead of
    hanging: the harness's waits are what make the comparison above trustworthy, so they must be able to fail."""
    paper = SteppedPaper(tape, LATENCY, 10)
    try:
        lockstep = Lockstep(paper, EMA_QUOTE_CROSS)

        async def body(step: Lockstep) -> None:
            await step.events(5)
            assert step.quiet()
            paper.data.published += 1  # as if the venue had published a message that never arrives
            with pytest.raises(AssertionError, match="did not settle"):
                await step.settle("a message that never arrives", timeout=0.3)

        drive(lockstep, body)
    finally:
        paper.stop()
    assert lockstep.dispatched > 0


def test_a_cancel_sent_while_a_replace_is_pending_cancels_in_the_backtest_and_is_refused_live(tape: Path) -> None:
    """The stated protocol difference, exactly: a modify then at once a cancel of one order. The backtest's exchange
    takes them in the order sent (one session): the order is modified, then cancelled. Alpaca's API (the paper
    venue as Alpaca) holds the order in ``pending_replace`` and refuses the cancel with 422 at once; the replace
    lands and the order works on, at the new price, when the run ends."""
    runs = _run(
        tape,
        StrategyConfig(
            name=f"{Path(__file__).parent / 'parity_strategy.py'}:ModifyThenCancel", params={"below": 5_000}
        ),
        300,
    )
    live, bt = runs.live, runs.backtest
    assert (
        live.orders()
        == bt.orders()
        == [
            ("submit", "#1", Side.BUY, OrderType.LIMIT, 100, bt.orders()[0][5]),
            ("modify", "#1", 100, bt.orders()[0][5] + 500),
            ("cancel", "#1"),
        ]
    )
    assert bt.outcomes() == [("OrderAccepted", "#1"), ("OrderUpdated", "#1"), ("OrderCancelled", "#1")]
    assert live.outcomes() == [("OrderAccepted", "#1"), ("CancelRejected", "#1"), ("OrderUpdated", "#1")]
    refused = live.reports[1]
    assert isinstance(refused, CancelRejected) and refused.reason.startswith("422: ")
    assert "pending_replace" in refused.reason
    working = [o for o in runs.paper.venue.orders() if o.is_open]
    assert [(o.status, o.limit_price) for o in working] == [("new", bt.orders()[0][5] + 500)]
    assert not live.fills() and not bt.fills()
