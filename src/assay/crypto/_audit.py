"""Ledger events of the confidentiality area (ids and counts only, never personal data)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import ValidationError

from assay.errors import UsageError
from assay.ledger import AuditLog, Event

_log = logging.getLogger(__name__)

__all__ = [
    "AuditSink",
    "build",
    "open_audit",
    "preflight",
    "record",
    "record_aborted",
    "record_all",
]


class AuditSink(Protocol):
    """What this area needs from :class:`assay.ledger.AuditLog`."""

    def append(self, event: Event) -> int: ...

    def append_batch(self, events: Sequence[Event]) -> list[int]: ...


def build(
    type_: str,
    *,
    actor: str,
    tenant: str | None,
    object_ids: dict[str, str] | None = None,
    attributes: dict[str, Any] | None = None,
) -> Event:
    """A validated event; a value the ledger refuses becomes a clear :class:`UsageError`."""
    try:
        return Event(
            type=type_,
            actor=actor,
            tenant=tenant,
            object_ids=object_ids or {},
            attributes=attributes or {},
        )
    except ValidationError as exc:
        detail = exc.errors()[0].get("msg", str(exc))
        raise UsageError(
            f"cannot record {type_} in the audit ledger: {detail}",
            hint="Nothing was changed; pass an actor and values the ledger accepts.",
        ) from exc


def preflight(actor: str, tenant: str | None) -> None:
    """Check before acting that the event describing the action will be accepted."""
    build("crypto.preflight", actor=actor, tenant=tenant)


def record(
    audit: AuditSink,
    type_: str,
    *,
    actor: str,
    tenant: str | None,
    object_ids: dict[str, str] | None = None,
    attributes: dict[str, Any] | None = None,
) -> int:
    """Append one event and return its ledger index (durable on return)."""
    event = build(type_, actor=actor, tenant=tenant, object_ids=object_ids, attributes=attributes)
    return audit.append(event)


def record_all(audit: AuditSink, events: Sequence[Event]) -> list[int]:
    """Append ``events`` in one transaction (all or none); returns their indices."""
    return audit.append_batch(events)


def record_aborted(
    audit: AuditSink,
    indices: Sequence[int],
    *,
    actor: str,
    tenant: str | None,
    cause: BaseException,
) -> None:
    """Cancel recorded events whose change did not happen (best effort: the cause re-raises)."""
    event = build(
        "crypto.step_aborted",
        actor=actor,
        tenant=tenant,
        object_ids={"event_index": ",".join(str(i) for i in indices)},
        attributes={"cause": type(cause).__name__},
    )
    try:
        audit.append(event)
    except Exception:  # noqa: BLE001 - the original failure is what the caller must see
        _log.warning("could not record crypto.step_aborted", extra={"indices": list(indices)})


def open_audit(instance: Any) -> AuditLog:
    """The instance's audit ledger."""
    return AuditLog.open(instance)
