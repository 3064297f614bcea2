"""Push against pull: a polled strategy misses what happens between polls, and reacts late."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tapeflow.backtest.engine import Backtest
from tapeflow.cli import app
from tapeflow.model import Quote
from tapeflow.strategy.base import Strategy
from tapeflow.strategy.polling import QuotePoller

from .scenario import MS, SYM, T0, px


class Recorder(Strategy):
    def __init__(self) -> None:
        super().__init__("rec")
        self.seen: list[tuple[int, int]] = []

    def on_quote(self, quote: Quote) -> None:
        self.seen.append((self.now, quote.bid_price))


def _quote(ts: int, bid: str) -> Quote:
    return Quote(
        ts_event=ts, ts_init=ts, symbol=SYM, bid_price=px(bid), bid_size=100, ask_price=px("101.00"), ask_size=100
    )


def test_polling_delivers_only_the_latest_quote_and_counts_what_it_missed() -> None:
    tape = [
        _quote(T0, "100.00"),
        _quote(T0 + 10 * MS, "100.01"),
        _quote(T0 + 20 * MS, "100.02"),
        _quote(T0 + 130 * MS, "100.03"),
    ]
    pushed = Recorder()
    Backtest([pushed]).run([tape], until=T0 + 250 * MS)
    assert [b for _, b in pushed.seen] == [px(p) for p in ("100.00", "100.01", "100.02", "100.03")]

    pulled = Recorder()
    poller = QuotePoller(pulled, 100 * MS)
    Backtest([pulled], extra=[poller]).run([tape], until=T0 + 250 * MS)
    assert pulled.seen == [(T0 + 100 * MS, px("100.02")), (T0 + 200 * MS, px("100.03"))]
    assert (poller.quotes, poller.delivered, poller.never_seen) == (4, 2, 2)
    assert poller.delays_ns == [100 * MS, 70 * MS]  # from the first change each poll summarised


def test_compare_push_pull_reports_the_blind_spot(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "q.toml"
    cfg.write_text(
        '[data.synthetic]\nsymbols = ["AAPL"]\nevents_per_symbol = 20000\n[strategy]\nname = "imbalance_quoter"\n'
    )
    result = CliRunner().invoke(app, ["compare", str(cfg), "--push-pull", "--poll-ms", "50", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    pull = report["pull"]
    assert pull["quotes_delivered"] + pull["quotes_never_seen"] == pull["quotes"] > 1_000
    assert pull["quotes_never_seen"] > pull["quotes_delivered"]
    assert 0 < pull["reaction_delay_p50_us"] <= 50_000
    assert report["push"]["orders"] != pull["orders"]
