"""Ledger events for sign-ins and privileged dashboard actions.

Recording fails closed: if the ledger cannot append, the error propagates and the action is
reported as failed. The server shares one :class:`AuditLog` per process (``app.state``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from assay.ledger import Event

__all__ = ["AuditSink", "record"]


class AuditSink(Protocol):
    """What recording needs from :class:`assay.ledger.AuditLog`."""

    def append(self, event: Event) -> int: ...


def record(
    log: AuditSink,
    event_type: str,
    actor: str,
    *,
    tenant: str | None = None,
    object_ids: Mapping[str, str] | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> int:
    """Append one event once it is durable; return its ledger index."""
    event = Event(
        type=event_type,
        actor=actor,
        tenant=tenant,
        object_ids=dict(object_ids or {}),
        attributes=dict(attributes or {}),
    )
    return log.append(event)
