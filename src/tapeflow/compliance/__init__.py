"""Compliance: the audit trail, self-trade prevention and surveillance.

Layering, bottom up: ``chain`` (hash chain, signed checkpoints, verify; no I/O) -> ``audit_store`` (the store
interface and SQLite) -> ``audit_writer`` (the writer thread and its bounded queue) -> ``audit`` (the kernel
component that records every order's life with its cause). ``stp`` is a gate in front of the execution engine.
``cat_export`` and ``surveillance`` read a finished (or live) trail. Only ``audit`` and ``stp`` touch the kernel,
and only when a run adds them: a run without compliance pays nothing.
"""

from tapeflow.compliance.audit import AuditTrail, OrderCause, decode_row
from tapeflow.compliance.audit_store import AuditStore, SqliteAuditStore
from tapeflow.compliance.audit_writer import AuditWriter
from tapeflow.compliance.chain import VerifyResult, verify
from tapeflow.compliance.stp import StpGate, StpMode

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
