"""Ledger events of the confidentiality area (ids and counts only, never personal data)."""

from __future__ import annotations

import importlib
from typing import Any, Protocol

__all__ = ["AuditSink", "record"]


class AuditSink(Protocol):
    """What this area needs from :class:`assay.ledger.AuditLog`."""

    def append(self, event: Any) -> int: ...


def record(
    audit: AuditSink,
    type_: str,
    *,
    actor: str,
    tenant: str | None,
    object_ids: dict[str, Any] | None = None,
    attributes: dict[str, Any] | None = None,
) -> int:
    """Append one event and return its ledger index (durable on return)."""
    event = _event_class()(
        type=type_,
        actor=actor,
        tenant=tenant,
        object_ids=object_ids or {},
        attributes=attributes or {},
    )
    return audit.append(event)


def _event_class() -> Any:
    return importlib.import_module("assay.ledger").Event


def open_audit(instance: Any) -> AuditSink:
    """The instance's audit ledger (``assay.ledger.AuditLog.open``)."""
    log: AuditSink = importlib.import_module("assay.ledger").AuditLog.open(instance)
    return log
