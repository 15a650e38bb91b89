"""Writing governance steps to the audit ledger.

Every privileged step (registration, each change-request step, evaluation,
activation, viewing a decision record) is a ledger event. The step takes effect
only after its event was appended, so a change can never be live unrecorded.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from assay.errors import AssayError, LedgerError

__all__ = ["AuditSink", "PendingEvent", "emit", "open_audit"]


class AuditSink(Protocol):
    """What governance needs from the ledger: a durable append returning the index."""

    def append(self, event: Any) -> int: ...


@dataclass(frozen=True)
class PendingEvent:
    """Same fields as the ledger's ``Event``; used only when no ledger is installed."""

    type: str
    actor: str
    tenant: str | None = None
    object_ids: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, object] = field(default_factory=dict)


def _event_class() -> Any:
    try:
        return importlib.import_module("assay.ledger").Event
    except (ImportError, AttributeError):
        return PendingEvent


def open_audit(instance: Any) -> AuditSink:
    """The instance's audit ledger."""
    try:
        ledger = importlib.import_module("assay.ledger")
    except ImportError as exc:
        raise LedgerError(
            "the audit ledger is not installed, so governance steps cannot be recorded",
            hint="Install Assay with its ledger component.",
        ) from exc
    sink: AuditSink = ledger.AuditLog.open(instance)
    return sink


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
    _reject_floats(attributes or {})
    event = _event_class()(
        type=event_type,
        actor=actor,
        tenant=tenant,
        object_ids=dict(object_ids),
        attributes=dict(attributes or {}),
    )
    try:
        return int(audit.append(event))
    except AssayError:
        raise
    except Exception as exc:
        raise LedgerError(
            f"could not record {event_type} in the audit ledger: {exc}",
            hint="Nothing was changed. Run `assay doctor`, then retry.",
        ) from exc


def _reject_floats(value: object) -> None:
    """Hashed payloads hold no floats (canonical JSON); catch mistakes early."""
    if isinstance(value, float):
        raise ValueError("ledger attributes must not contain floats; use integers")
    if isinstance(value, Mapping):
        for item in value.values():
            _reject_floats(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _reject_floats(item)
