"""risk: the pre-trade risk engine, its rules (order, account, flow), and the kill switch. See docs/RISK.md.

``engine`` is the only subscriber to order commands; ``context`` is what rules may read; ``order_rules`` (with
``book_rules``), ``account_rules`` and ``flow_rules`` are the three stages; ``fast`` composes the rules' fast
checks into one function; ``build`` turns a ``config.RiskConfig`` into the pipeline; ``killswitch`` persists the
switch (``tapeflow kill`` is ``cli/kill_cmd.py``).
"""

from tapeflow.risk.build import build_kill_switch, build_rules, build_trips
from tapeflow.risk.config import RiskConfig, load_risk_config, validate
from tapeflow.risk.context import RiskContext
from tapeflow.risk.engine import RiskEngine, TripRule
from tapeflow.risk.killswitch import KillSwitch, KillSwitchState, read_state, write_state
from tapeflow.risk.order_rules import MaxOrderQuantity
from tapeflow.risk.rules import RiskRule, Rule, Violation

__all__ = [
    "KillSwitch",
    "KillSwitchState",
    "MaxOrderQuantity",
    "RiskConfig",
    "RiskContext",
    "RiskEngine",
    "RiskRule",
    "Rule",
    "TripRule",
    "Violation",
    "build_kill_switch",
    "build_rules",
    "build_trips",
    "load_risk_config",
    "read_state",
    "validate",
    "write_state",
]
