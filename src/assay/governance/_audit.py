"""Writing governance steps to the audit ledger.

Every privileged step (registration, each change-request step, evaluation,
activation, viewing a decision record) is a ledger event. The step takes effect
only after its event was appended, so a change can never be live unrecorded.
No database transaction is held open while appending: the ledger commits on
its own connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from pydantic import ValidationError

from assay.errors import AssayError, LedgerError
from assay.instance import Instance
from assay.ledger import AuditLog, Event

__all__ = ["AuditSink", "emit", "open_audit"]


class AuditSink(Protocol):
    """What governance needs from the ledger: a durable append returning the index."""

    def append(self, event: Event) -> int: ...


def open_audit(instance: Instance) -> AuditLog:
    """The instance's audit ledger (close it when done)."""
    return AuditLog.open(instance)


def emit(
    audit: AuditSink,
    event_type: str,
    *,
    actor: str,
    object_ids: Mapping[str, str],
    attributes: Mapping[str, object] | None = None,
    tenant: str | None = None,
) -> int:
    """Append one event and return its ledger index; failures fail the step (closed)."""
    try:
        event = Event(type=event_type, actor=actor, tenant=tenant, object_ids=dict(object_ids),
                      attributes=dict(attributes or {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise LedgerError(
            f"cannot record {event_type}: {first['msg']}",
            hint="Nothing was changed. Actors are cli:<user>, user:<id>, apikey:<id> or system.",
        ) from exc
    try:
        return audit.append(event)
    except AssayError:
        raise
    except Exception as exc:
        raise LedgerError(
            f"could not record {event_type} in the audit ledger: {exc}",
            hint="Nothing was changed. Run `assay doctor`, then retry.",
        ) from exc
