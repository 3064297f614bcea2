"""Order commands and reports: the two bases components subscribe to, and encodings that must not move."""

from __future__ import annotations

import gc

import msgspec
import pytest

from tapeflow.engine import Kernel
from tapeflow.model import DataError, Event, LiquiditySide, OrderType, Side
from tapeflow.model.codec import event_types, from_json, from_msgpack, is_event_group, to_json, to_msgpack
from tapeflow.model.orders import (
    CancelOrder,
    CancelRejected,
    ContingentUpdate,
    ModifyOrder,
    ModifyRejected,
    OrderAccepted,
    OrderCancelled,
    OrderCommand,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderReport,
    OrderUpdated,
    RiskRejected,
    SubmitOrder,
)

_IDS = {"ts_event": 1, "ts_init": 2, "strategy_id": "s", "client_order_id": "s-1", "symbol": "AAPL"}

# Encoded by tapeflow before OrderCommand and OrderReport existed (main at e2fdc56), when every type declared
# strategy_id, client_order_id and symbol itself: tapes and audit trails written then hold exactly these bytes.
_STORED: list[tuple[Event, str]] = [
    (
        SubmitOrder(**_IDS, side=Side.BUY, order_type=OrderType.LIMIT, quantity=100, price=1234500, reason="r"),
        "9eab5375626d69744f726465720102a173a3732d31a44141504ca3425559a54c494d495464ce0012d64400a3444159a0a172",
    ),
    (CancelOrder(**_IDS), "96ab43616e63656c4f726465720102a173a3732d31a44141504c"),
    (ModifyOrder(**_IDS, quantity=5, price=7), "99ab4d6f646966794f726465720102a173a3732d31a44141504c050700"),
    (
        OrderAccepted(**_IDS, venue_order_id="v1", venue="SIM"),
        "98ad4f7264657241636365707465640102a173a3732d31a44141504ca27631a353494d",
    ),
    (OrderRejected(**_IDS, reason="x"), "98ad4f7264657252656a65637465640102a173a3732d31a44141504ca178a0"),
    (
        OrderFilled(
            **_IDS,
            side=Side.SELL,
            price=5,
            quantity=3,
            leaves_quantity=0,
            liquidity_side=LiquiditySide.MAKER,
            fee=-3,
            fee_components={"a": 1},
        ),
        "dc0010ab4f7264657246696c6c65640102a173a3732d31a44141504ca453454c4c050300a54d414b4552fda0a0a081a16101",
    ),
    (
        OrderCancelled(**_IDS, cancelled_quantity=4),
        "99ae4f7264657243616e63656c6c65640102a173a3732d31a44141504c04a0a0",
    ),
    (OrderExpired(**_IDS, expired_quantity=3), "98ac4f72646572457870697265640102a173a3732d31a44141504c03a0"),
    (
        OrderUpdated(**_IDS, quantity=3, priority_lost=True),
        "9bac4f72646572557064617465640102a173a3732d31a44141504c030000c3a0",
    ),
    (CancelRejected(**_IDS, reason="c"), "98ae43616e63656c52656a65637465640102a173a3732d31a44141504ca163a0"),
    (ModifyRejected(**_IDS, reason="m"), "98ae4d6f6469667952656a65637465640102a173a3732d31a44141504ca16da0"),
    (
        RiskRejected(**_IDS, stage="pre", rule="q", reason="big", limit=1, value=2),
        "9bac5269736b52656a65637465640102a173a3732d31a44141504ca3707265a171a36269670102",
    ),
    (
        ContingentUpdate(**_IDS, status="ARMED"),
        "9bb0436f6e74696e67656e745570646174650102a173a3732d31a44141504ca541524d45440000a0a0",
    ),
]

COMMANDS = {SubmitOrder, CancelOrder, ModifyOrder}
REPORTS = {
    OrderAccepted,
    OrderRejected,
    OrderFilled,
    OrderCancelled,
    OrderExpired,
    OrderUpdated,
    CancelRejected,
    ModifyRejected,
}


def _concrete_subclasses(base: type[Event]) -> set[type[Event]]:
    return {t for t in event_types() if issubclass(t, base)}


GROWN = {
    "OrderFilled": "dc0011ab4f7264657246696c6c65640102a173a3732d31a44141504ca453454c4c050300a54d414b4552"
    "fda0a0a081a16101ff",
}
"""Today's bytes of the types that grew a trailing field since (OrderFilled: ``queue_ahead_at_arrival``, -1)."""


@pytest.mark.parametrize(("event", "stored"), _STORED, ids=lambda v: type(v).__name__ if isinstance(v, Event) else "")
def test_order_event_encoding_is_the_bytes_stored_before_the_bases_existed(event: Event, stored: str) -> None:
    now = GROWN.get(type(event).__name__, stored)
    assert to_msgpack(event).hex() == now
    assert from_msgpack(bytes.fromhex(now)) == event
    assert from_msgpack(bytes.fromhex(stored)) == event  # records stored before a field grew read as its default


def test_commands_extend_order_command_and_venue_reports_extend_order_report_and_nothing_else_does() -> None:
    assert _concrete_subclasses(OrderCommand) == COMMANDS
    assert _concrete_subclasses(OrderReport) == REPORTS
    assert not issubclass(RiskRejected, OrderReport | OrderCommand)  # risk, not a venue, sends it
    assert not issubclass(ContingentUpdate, OrderReport | OrderCommand)  # the strategy-side emulator sends it


def test_bases_carry_the_fields_all_members_share_in_the_position_members_declared_them() -> None:
    for base in (OrderCommand, OrderReport):
        assert base.__struct_fields__ == ("ts_event", "ts_init", "strategy_id", "client_order_id", "symbol")
        for member in _concrete_subclasses(base):
            assert member.__struct_fields__[:5] == base.__struct_fields__


def test_bases_are_groups_that_the_codec_neither_lists_nor_decodes() -> None:
    assert is_event_group(OrderCommand) and is_event_group(OrderReport)
    assert not any(is_event_group(t) for t in COMMANDS | REPORTS)  # inherited attribute, own dict decides
    assert OrderCommand not in event_types() and OrderReport not in event_types()
    report = OrderReport(**_IDS)
    with pytest.raises(DataError, match="invalid event"):
        from_msgpack(msgspec.msgpack.encode(report))
    with pytest.raises(DataError, match="invalid event"):
        from_json(
            b'{"type":"OrderReport","ts_event":1,"ts_init":2,"strategy_id":"s","client_order_id":"c","symbol":"A"}'
        )


def test_json_form_of_a_command_keeps_the_field_names_in_declaration_order() -> None:
    assert to_json(CancelOrder(**_IDS)) == (
        b'{"type":"CancelOrder","ts_event":1,"ts_init":2,"strategy_id":"s","client_order_id":"s-1","symbol":"AAPL"}'
    )


def _dispatch_a_report_of_a_new_type() -> tuple[list[str], list[str]]:
    """Names of what subscribers to ``OrderReport`` and to ``OrderCommand`` saw of a new report type and a cancel.

    The type lives only in this call, so that no other test sees it among the event types once it is collected."""

    class OrderRestated(OrderReport, frozen=True, kw_only=True):
        note: str = ""

    kernel = Kernel()
    reports: list[Event] = []
    commands: list[Event] = []
    kernel.subscribe(OrderReport, reports.append)
    kernel.subscribe(OrderCommand, commands.append)
    kernel.run([OrderRestated(**_IDS), CancelOrder(**{**_IDS, "ts_init": 3})])
    return [type(e).__name__ for e in reports], [type(e).__name__ for e in commands]


def test_a_new_order_report_type_reaches_subscribers_to_order_report_but_not_to_commands() -> None:
    reports, commands = _dispatch_a_report_of_a_new_type()
    assert reports == ["OrderRestated"]
    assert commands == ["CancelOrder"]
    gc.collect()
    assert "OrderRestated" not in {t.__name__ for t in OrderReport.__subclasses__()}
