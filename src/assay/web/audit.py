"""Ledger events for sign-ins and privileged dashboard actions.

One :class:`AuditLog` per opened instance (it owns a sequencer thread), shared by the pages
that read the ledger and by :func:`record`. Recording fails closed: if the ledger cannot
append, the error propagates and the action is reported as failed.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from assay.instance import Instance
from assay.ledger import AuditLog, Event

__all__ = ["close_ledger", "ledger_for", "record"]

_lock = threading.Lock()
_open: dict[int, tuple[Instance, AuditLog]] = {}


def ledger_for(instance: Instance) -> AuditLog:
    """The shared log of ``instance`` (opened on first use)."""
    with _lock:
        found = _open.get(id(instance))
        if found is not None and found[0] is instance:
            return found[1]
        log = AuditLog.open(instance)
        _open[id(instance)] = (instance, log)
        return log


def close_ledger(instance: Instance) -> None:
    """Stop the log's sequencer (CLI commands and tests, before closing the instance)."""
    with _lock:
        found = _open.pop(id(instance), None)
    if found is not None and found[0] is instance:
        found[1].close()


def record(
    instance: Instance,
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
    return ledger_for(instance).append(event)
