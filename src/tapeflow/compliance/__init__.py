"""Compliance: the audit trail, self-trade prevention and surveillance.

Layering, bottom up: ``head`` (the head file: a trail's anchor outside its database) -> ``chain`` (hash chain,
signed checkpoints, verify; no I/O) -> ``audit_store`` (the store
interface and SQLite) -> ``audit_writer`` (the loop side: encode and send batches to the writer process) and
``writer_process`` (numbers, chains and commits them) -> ``audit`` (the kernel component that records every order's
life with its cause). ``stp`` is a gate in front of the execution engine. ``cat_export`` and ``surveillance`` read a
finished (or live) trail. Only ``audit`` and ``stp`` touch the kernel, and only when a run adds them: a run without
compliance pays nothing.

Names are imported on first use, so that the writer process, which imports this package, does not load the
trading code it never runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tapeflow.compliance.audit import AuditTrail, OrderCause, decode_row
    from tapeflow.compliance.audit_store import AuditStore, SqliteAuditStore
    from tapeflow.compliance.audit_writer import AuditWriter
    from tapeflow.compliance.chain import VerifyResult, verify
    from tapeflow.compliance.stp import StpGate, StpMode

_WHERE = {
    "AuditStore": "audit_store",
    "AuditTrail": "audit",
    "AuditWriter": "audit_writer",
    "OrderCause": "audit",
    "SqliteAuditStore": "audit_store",
    "StpGate": "stp",
    "StpMode": "stp",
    "VerifyResult": "chain",
    "decode_row": "audit",
    "verify": "chain",
}

__all__ = [
    "AuditStore",
    "AuditTrail",
    "AuditWriter",
    "OrderCause",
    "SqliteAuditStore",
    "StpGate",
    "StpMode",
    "VerifyResult",
    "decode_row",
    "verify",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'tapeflow.compliance' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tapeflow.compliance.{module}"), name)
    globals()[name] = value
    return value
