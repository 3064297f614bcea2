"""The [risk] TOML section: read, validated at start, errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from tapeflow.model import ConfigError
from tapeflow.risk.config import KillSwitchConfig, load_risk_config
from tapeflow.risk.kill_cancels import ChaseTiming


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


def test_full_section_is_read_in_its_units(tmp_path: Path) -> None:
    config = load_risk_config(
        write(
            tmp_path,
            """
[market]
ignored = true

[risk.order]
max_quantity = 500
collar_bps = 300
restricted = ["TSLA"]
locates = { AAPL = 1000 }
sessions = ["pre", "regular"]

[risk.account]
initial_margin_bps = 6000
maintenance_margin_bps = 3000
max_daily_loss_usd = 25000

[risk.flow]
strategy_orders_per_second = 5

[risk.kill_switch]
state_file = "var/kill.json"
cancel_retry_ms = 250
cancel_max_retry_ms = 2000
cancel_max_refusals = 3
cancel_unanswered_ms = 4000
cancel_unsent_ms = 45000

[risk.symbols.AAPL]
max_quantity = 200
""",
        )
    )
    assert config.order.max_quantity == 500 and config.order.restricted == ("TSLA",)
    assert config.order.locates == {"AAPL": 1000} and config.order.sessions == ("pre", "regular")
    assert config.account.initial_margin_bps == 6000 and config.account.max_daily_loss_usd == 25000
    assert config.flow.strategy_orders_per_second == 5 and config.symbols["AAPL"].max_quantity == 200
    assert config.kill_switch.chase_timing() == ChaseTiming(
        250_000_000, 2_000_000_000, 3, 4_000_000_000, 45_000_000_000
    )


def test_the_kill_chase_defaults_are_the_chases_own() -> None:
    """Left out of the file, the chase retries as it did before it was configurable (0.1 s doubling to 5 s, 5), and
    waits 10 s for a cancel's answer before the no-answer alarm."""
    timing = ChaseTiming(100_000_000, 5_000_000_000, 5, 10_000_000_000)
    assert KillSwitchConfig().chase_timing() == ChaseTiming() == timing


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("[risk.order]\nmax_quantity = 0", "risk.order.max_quantity", ">= 1"),
        ("[risk.order]\ncollar_bps = 10001", "risk.order.collar_bps", "<= 10000"),
        ("[risk.order]\nsessions = ['lunch']", "risk.order.sessions[0]", "lunch"),
        ("[risk.flow]\nmax_open_order = 3", "risk.flow", "unknown field `max_open_order`"),
        (
            "[risk.account]\ninitial_margin_bps = 2000\nmaintenance_margin_bps = 2500",
            "risk.account.maintenance_margin_bps",
            "above the initial margin",
        ),
        ("[risk.order]\nrestricted = ['GME']\nlocates = { GME = 10 }", "risk.order.locates", "both restricted"),
        ("[risk.kill_switch]\ncancel_retry_ms = 0", "risk.kill_switch.cancel_retry_ms", ">= 1"),
        ("[risk.kill_switch]\ncancel_max_refusals = 0", "risk.kill_switch.cancel_max_refusals", ">= 1"),
        ("[risk.kill_switch]\ncancel_max_retry_ms = 1.5", "risk.kill_switch.cancel_max_retry_ms", "Expected `int`"),
        ("[risk.kill_switch]\ncancel_unanswered_ms = 0", "risk.kill_switch.cancel_unanswered_ms", ">= 1"),
        ("[risk.kill_switch]\ncancel_unanswered_ms = '10s'", "risk.kill_switch.cancel_unanswered_ms", "Expected `int`"),
        ("[risk.kill_switch]\ncancel_unsent_ms = 0", "risk.kill_switch.cancel_unsent_ms", ">= 1"),
        (
            "[risk.kill_switch]\ncancel_retry_ms = 500\ncancel_max_retry_ms = 200",
            "risk.kill_switch.cancel_max_retry_ms",
            "below the first 500 ms",
        ),
    ],
)
def test_bad_values_name_the_field(tmp_path: Path, text: str, field: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_risk_config(write(tmp_path, text))
    assert info.value.field is not None and info.value.field.startswith(field)
    assert message in str(info.value) and "run.toml" in str(info.value)
