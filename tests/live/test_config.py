"""``tapeflow live`` configurations: checked whole before any socket opens, keys never inside, paths beside the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tapeflow.live.config import load_live_config
from tapeflow.model.errors import ConfigError

GOOD = """
[live]
venue = "paper"
url = "http://127.0.0.1:8123"
symbols = ["AAPL", "MSFT"]
control_socket = "run/live.sock"

[strategy]
name = "imbalance_quoter"
params = { quantity = 100, threshold = 0.3 }

[audit]
path = "audit.db"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "live.toml"
    path.write_text(text)
    return path


def test_a_paper_configuration_gives_the_paper_venues_four_addresses_and_paths_beside_the_file(
    tmp_path: Path,
) -> None:
    cfg = load_live_config(_write(tmp_path, GOOD))
    ends = cfg.live.endpoints()
    assert ends.trading == "http://127.0.0.1:8123"
    assert ends.trade_stream == "ws://127.0.0.1:8123/stream"
    assert ends.data_stream == "ws://127.0.0.1:8123/v2/iex"
    assert ends.data_rest == "http://127.0.0.1:8123"
    assert cfg.live.control_socket == str(tmp_path / "run" / "live.sock")
    assert cfg.audit.path == str(tmp_path / "audit.db")


def test_alpaca_venues_use_alpacas_fixed_addresses() -> None:
    from tapeflow.live.config import LiveSection

    paper = LiveSection(venue="alpaca-paper", symbols=("AAPL",), feed="sip").endpoints()
    assert paper.trading == "https://paper-api.alpaca.markets"
    assert paper.trade_stream == "wss://paper-api.alpaca.markets/stream"
    assert paper.data_stream == "wss://stream.data.alpaca.markets/v2/sip"
    live = LiveSection(venue="alpaca-live", symbols=("AAPL",)).endpoints()
    assert live.trading == "https://api.alpaca.markets"


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ('[live]\nsymbols = ["AAPL"]\nkey = "PK123"\n', "live.key", "never go in a configuration"),
        ('[live]\nsymbols = ["AAPL"]\nsecret = "x"\n', "live.secret", "APCA_API_KEY_ID"),
        ('[live]\nsymbols = ["AAPL"]\n[data]\nkind = "lobster"\n', "data", "venue's market data"),
        ('[live]\nsymbols = ["AAPL"]\n[latency]\nlocation = "colo"\n', "latency", "real latency"),
        ('[live]\nsymbols = []\n', "live.symbols", "no symbols"),
        ('[live]\nsymbols = ["aapl"]\n', "live.symbols[0]", "not a ticker"),
        ('[live]\nsymbols = ["AAPL", "AAPL"]\n', "live.symbols", "twice"),
        ('[live]\nvenue = "alpaca-paper"\nurl = "http://127.0.0.1:1"\nsymbols = ["AAPL"]\n', "live.url", "fixed"),
        ('[live]\nurl = "ftp://x"\nsymbols = ["AAPL"]\n', "live.url", "not an http(s) address"),
        ('[live]\nvenue = "alpaca"\nsymbols = ["AAPL"]\n', "live.venue", "alpaca-paper"),
        ('[live]\nsymbols = ["AAPL"]\nstale_after_s = 10.0\nsilent_reconnect_s = 5.0\n', "live.silent_reconnect_s",
         "shorter"),
        ('[live]\nsymbols = ["AAPL"]\n[live.backoff]\ninitial = 100.0\n', "live.backoff", "floor <= initial <= cap"),
        ('[live]\nsymbols = ["AAPL"]\nbackfill_lookback_s = -1.0\n', "live.backfill_lookback_s", ">= 0"),
        ('[live]\nsymbols = ["AAPL"]\n[strategy]\nname = "no_such_strategy"\n', "strategy.name", ""),
        ('[live]\nsymbols = ["AAPL"]\n[portfolio]\ncapital = "-5"\n', "portfolio.capital", ""),
    ],
)  # fmt: skip
def test_a_mistake_is_one_config_error_naming_the_file_and_field(
    tmp_path: Path, text: str, field: str, words: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_live_config(path)
    assert err.value.field == field
    assert words in str(err.value)
    assert str(path) in str(err.value)


def test_the_example_configuration_loads_and_trades_on_the_paper_venues_clock() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "live_paper.toml"
    cfg = load_live_config(example)
    assert cfg.live.venue == "paper" and cfg.live.node_clock == "venue"
    assert cfg.live.endpoints().trading == "http://127.0.0.1:8000"
    assert cfg.live.control_socket == str(example.parent / "live.sock")
    assert cfg.strategy.name == "ema_quote_cross"


def test_alpaca_is_always_on_the_wall_clock() -> None:
    from tapeflow.live.config import LiveConfig, LiveSection, check_live_config

    assert LiveSection(venue="alpaca-paper", symbols=("AAPL",)).node_clock == "wall"
    with pytest.raises(ConfigError, match="trades today") as err:
        check_live_config(LiveConfig(live=LiveSection(venue="alpaca-paper", symbols=("AAPL",), clock="venue")))
    assert err.value.field == "live.clock"
