"""Enumerations: one ``OrderStatus`` for the execution engine and the results files."""

from __future__ import annotations

import re
from pathlib import Path

import tapeflow
from tapeflow.execution import orders as execution_orders
from tapeflow.model.enums import OrderStatus
from tapeflow.report import results

SRC = Path(tapeflow.__file__).parent


def test_order_status_is_declared_once_in_the_source_tree() -> None:
    declared = [
        path.relative_to(SRC).as_posix()
        for path in sorted(SRC.rglob("*.py"))
        for line in path.read_text().splitlines()
        if re.match(r"\s*class\s+OrderStatus\b", line)
    ]
    assert declared == ["model/enums.py"]
    assert execution_orders.OrderStatus is OrderStatus
    assert results.OrderStatus is OrderStatus


def test_order_status_values_keep_the_order_results_files_list_them_in() -> None:
    # the orders.parquet ``status`` dictionary is every member in declaration order: files of one schema agree
    assert [s.value for s in OrderStatus] == [
        "SUBMITTED",
        "ACCEPTED",
        "PARTIALLY_FILLED",
        "FILLED",
        "CANCELLED",
        "EXPIRED",
        "REJECTED",
        "RISK_REJECTED",
    ]
    assert all(s.name == s.value for s in OrderStatus)


def test_only_submitted_accepted_and_partially_filled_orders_are_open() -> None:
    assert {s for s in OrderStatus if s.is_open} == {
        OrderStatus.SUBMITTED,
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_FILLED,
    }
