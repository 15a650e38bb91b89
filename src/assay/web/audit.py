"""Ledger events for sign-ins and privileged dashboard actions.

The ledger is the record of who did what; while it is not installed in this build the events
go to the structured log only, and the dashboard says so on the ledger page.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from assay.instance import Instance

__all__ = ["ledger_available", "record"]

# Plain stdlib logging: the server routes it to its JSON log; a CLI run stays quiet.
_log = logging.getLogger("assay.web.audit")


def ledger_available() -> bool:
    return importlib.util.find_spec("assay.ledger") is not None


def record(
    instance: Instance,
    event_type: str,
    actor: str,
    *,
    tenant: str | None = None,
    object_ids: Sequence[str] = (),
    attributes: Mapping[str, Any] | None = None,
) -> int | None:
    """Append one event; return its ledger index (None when no ledger is installed).

    Fails closed: if the ledger exists but cannot append, the error propagates and the
    action it records is reported as failed.
    """
    attrs = dict(attributes or {})
    if not ledger_available():
        _log.info("web_event type=%s actor=%s objects=%s", event_type, actor, list(object_ids))
        return None
    ledger: Any = importlib.import_module("assay.ledger")
    AuditLog, Event = ledger.AuditLog, ledger.Event  # noqa: N806 - class names
    event = Event(
        type=event_type,
        actor=actor,
        tenant=tenant,
        object_ids=list(object_ids),
        attributes=attrs,
    )
    index: int = AuditLog.open(instance).append(event)
    return index
