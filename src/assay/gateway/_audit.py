"""The gateway's one link to the audit ledger.

Privileged actions (key created or revoked, policy changed) and every served
request become ledger events. When the ledger cannot be opened or written the
caller gets a :class:`LedgerError`: the action is refused, never done unrecorded.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from assay.errors import AssayError, LedgerError
from assay.instance import Instance

__all__ = ["EventSink", "LedgerSink", "ledger_sink"]


class EventSink(Protocol):
    async def append(
        self,
        event_type: str,
        *,
        actor: str,
        tenant: str | None,
        object_ids: Mapping[str, str],
        attributes: Mapping[str, object],
        companions: Sequence[tuple[Any, Mapping[str, Any]]] = (),
        inline: bool = False,
    ) -> int:
        """Record one event durably and return its ledger index.

        ``companions`` (table, row) are stored in the same transaction as the event.
        ``inline``: nothing else is waiting on this event loop, so the record may be committed
        on it rather than handed to the ledger's sequencer thread (ADR 0047).
        """
        ...


class LedgerSink:
    """Appends to the instance's :class:`assay.ledger.AuditLog`."""

    def __init__(self, log: Any) -> None:
        self._log = log
        self._event = importlib.import_module("assay.ledger").Event

    @property
    def log(self) -> Any:
        return self._log

    def close(self) -> None:
        """Nothing to do: the log is the process's shared one, closed with the instance."""

    async def append(
        self,
        event_type: str,
        *,
        actor: str,
        tenant: str | None,
        object_ids: Mapping[str, str],
        attributes: Mapping[str, object],
        companions: Sequence[tuple[Any, Mapping[str, Any]]] = (),
        inline: bool = False,
    ) -> int:
        try:
            event = self._event(
                type=event_type,
                actor=actor,
                tenant=tenant,
                object_ids=dict(object_ids),
                attributes=dict(attributes),
            )
            index = await self._log.append_async(event, companions, inline=inline)
        except AssayError:
            raise
        except Exception as exc:
            raise LedgerError(
                f"the audit ledger did not record {event_type}: {exc}",
                hint="Nothing was done. Check the database and run `assay doctor`.",
            ) from exc
        return int(index)


def ledger_sink(instance: Instance) -> LedgerSink:
    """The process's shared ledger of ``instance``, or :class:`LedgerError` (fail closed)."""
    try:
        audit_log_class = importlib.import_module("assay.ledger").AuditLog
    except ImportError as exc:
        raise LedgerError(
            "the audit ledger is not available in this installation",
            hint="Install Assay with the ledger component; actions are refused until then.",
        ) from exc
    try:
        return LedgerSink(audit_log_class.shared(instance))
    except LedgerError:
        raise
    except AssayError as exc:
        raise LedgerError(f"the audit ledger could not be opened: {exc.message}", hint=exc.hint) from exc
    except Exception as exc:
        raise LedgerError(
            f"the audit ledger could not be opened: {exc}", hint="Run `assay doctor`."
        ) from exc
