"""The transcript vault: encrypted conversation records with retention deadlines.

Transcripts are sealed by the keyring (kind ``transcript``, record id = row id)
and stored with the SHA-256 of the envelope, which other records (ledger
events) can cite without revealing content. Reading one for a person is a
privileged act and writes ``transcript.accessed`` before the text is returned.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, select

from assay.clock import format_rfc3339
from assay.crypto import _audit
from assay.crypto._audit import AuditSink
from assay.crypto.keyring import Keyring, new_record_id
from assay.crypto.models import TenantRow, TranscriptRow
from assay.crypto.tenants import MAX_RETENTION_DAYS
from assay.errors import NotFoundError, UsageError
from assay.instance import Instance
from assay.ledger import AuditLog
from assay.logs import get_logger

__all__ = [
    "RETENTION_ACTOR",
    "RetentionScheduler",
    "SealedTranscript",
    "StoredTranscript",
    "TranscriptInfo",
    "TranscriptVault",
    "run_retention",
    "start_retention_scheduler",
]

KIND = "transcript"
RETENTION_ACTOR = "system"
_IDS_PER_EVENT = 500


@dataclass(frozen=True)
class StoredTranscript:
    id: str
    ciphertext_sha256: str
    retention_deadline: datetime


@dataclass(frozen=True)
class SealedTranscript:
    """An encrypted transcript not yet stored: ``row`` goes into ``TRANSCRIPTS``.

    A caller that commits it with other records (the ledger event that cites it) stores
    both in one transaction; :meth:`TranscriptVault.store` commits it on its own.
    """

    stored: StoredTranscript
    row: dict[str, Any]


#: The vault's table, for callers that insert a :class:`SealedTranscript` themselves.
TRANSCRIPTS: Table = TranscriptRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class TranscriptInfo:
    """Metadata of a stored transcript (never its content)."""

    id: str
    tenant: str
    conversation_id: str
    has_subject: bool
    created_at: datetime
    retention_deadline: datetime
    ciphertext_sha256: str
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "conversation_id": self.conversation_id,
            "has_subject": self.has_subject,
            "created_at": format_rfc3339(self.created_at),
            "retention_deadline": format_rfc3339(self.retention_deadline),
            "ciphertext_sha256": self.ciphertext_sha256,
            "size": self.size,
        }


class TranscriptVault:
    def __init__(self, instance: Instance, keyring: Keyring, audit: AuditSink) -> None:
        self.instance = instance
        self.keyring = keyring
        self.audit = audit

    def store(
        self,
        tenant: str,
        conversation_id: str,
        transcript: bytes,
        *,
        subject: str | None = None,
        retention_days: int | None = None,
    ) -> StoredTranscript:
        """Encrypt and store; ``retention_days`` defaults to the tenant's setting."""
        sealed = self.seal(
            tenant, conversation_id, transcript, subject=subject, retention_days=retention_days
        )
        with self.instance.db.session() as session:
            session.execute(TRANSCRIPTS.insert(), [sealed.row])
        return sealed.stored

    def seal(
        self,
        tenant: str,
        conversation_id: str,
        transcript: bytes,
        *,
        subject: str | None = None,
        retention_days: int | None = None,
    ) -> SealedTranscript:
        """Encrypt without storing; the caller inserts ``row`` (see :class:`SealedTranscript`)."""
        if not conversation_id or len(conversation_id) > 200:
            raise UsageError(
                "conversation id must be 1-200 characters",
                hint="Pass the id the conversation is known by.",
            )
        days = retention_days if retention_days is not None else self._tenant_days(tenant)
        if not 0 <= days <= MAX_RETENTION_DAYS:
            raise UsageError(
                f"retention of {days} days is out of range",
                hint=f"Choose between 0 and {MAX_RETENTION_DAYS} days.",
            )
        record_id = new_record_id()
        envelope = self.keyring.encrypt(tenant, KIND, record_id, transcript, subject)
        digest = hashlib.sha256(envelope).hexdigest()
        now = self.instance.clock.now()
        deadline = now + timedelta(days=days)
        subject_ref = None if subject is None else self.keyring.subject_ref(tenant, subject)
        row = {
            "id": record_id,
            "tenant": tenant,
            "subject_ref": subject_ref,
            "conversation_id": conversation_id,
            "created_at": now,
            "retention_deadline": deadline,
            "ciphertext": envelope,
            "ciphertext_sha256": digest,
        }
        stored = StoredTranscript(
            id=record_id, ciphertext_sha256=digest, retention_deadline=deadline
        )
        return SealedTranscript(stored, row)

    def _tenant_days(self, tenant: str) -> int:
        with self.instance.db.session() as session:
            days = session.scalar(select(TenantRow.retention_days).where(TenantRow.name == tenant))
        if days is None:
            raise NotFoundError(
                f"tenant {tenant!r} does not exist",
                hint=f"Create it with `assay tenants create {tenant}`.",
            )
        return int(days)

    def read(self, transcript_id: str, *, actor: str, reason: str) -> bytes:
        """Decrypt for a person; the access is in the ledger before the text is returned."""
        if not reason.strip():
            raise UsageError(
                "reading a transcript needs a reason",
                hint='Pass --reason "..." (for example a support ticket id).',
            )
        with self.instance.db.session() as session:
            row = session.get(TranscriptRow, transcript_id)
        if row is None:
            raise NotFoundError(
                f"transcript {transcript_id!r} does not exist",
                hint="It may have passed its retention deadline; see `assay transcripts list`.",
            )
        event = _audit.build(
            "transcript.accessed",
            actor=actor,
            tenant=row.tenant,
            object_ids={"transcript_id": row.id},
            attributes={"reason": reason},
        )
        plaintext = self.keyring.decrypt(row.tenant, KIND, row.id, row.ciphertext)
        self.audit.append(event)  # durable before anyone sees the text
        return plaintext

    def list(self, tenant: str, *, limit: int = 1000) -> list[TranscriptInfo]:
        with self.instance.db.session() as session:
            rows = list(
                session.scalars(
                    select(TranscriptRow)
                    .where(TranscriptRow.tenant == tenant)
                    .order_by(TranscriptRow.created_at, TranscriptRow.id)
                    .limit(limit)
                )
            )
        return [
            TranscriptInfo(
                id=r.id,
                tenant=r.tenant,
                conversation_id=r.conversation_id,
                has_subject=r.subject_ref is not None,
                created_at=r.created_at,
                retention_deadline=r.retention_deadline,
                ciphertext_sha256=r.ciphertext_sha256,
                size=len(r.ciphertext),
            )
            for r in rows
        ]


def _record_run(audit: AuditSink, now: datetime, counts: dict[str, int]) -> None:
    """One event per run, so a run that found nothing to delete is evidence too."""
    audit.append(
        _audit.build(
            "retention.run",
            actor=RETENTION_ACTOR,
            tenant=None,
            attributes={"deleted": counts["deleted"], "before": format_rfc3339(now)},
        )
    )


def run_retention(
    instance: Instance, audit: AuditSink, *, batch: int = _IDS_PER_EVENT
) -> dict[str, int]:
    """Delete every transcript past its deadline; one ledger event per tenant and batch."""
    counts: dict[str, int] = {"deleted": 0, "events": 0}
    while True:
        now = instance.clock.now()
        with instance.db.session() as session:
            expired = [
                (str(r[0]), str(r[1]))
                for r in session.execute(
                    select(TranscriptRow.id, TranscriptRow.tenant)
                    .where(TranscriptRow.retention_deadline <= now)
                    .order_by(TranscriptRow.tenant, TranscriptRow.id)
                    .limit(batch)
                )
            ]
        if not expired:
            _record_run(audit, now, counts)
            return counts
        for tenant, ids in _by_tenant(expired).items():
            event = _audit.build(
                "retention.deleted",
                actor=RETENTION_ACTOR,
                tenant=tenant,
                object_ids={"tenant": tenant},
                attributes={
                    "count": len(ids),
                    "transcript_ids": ids,
                    "before": format_rfc3339(now),
                },
            )
            # Recorded before it happens: a deletion is never left without its evidence.
            audit.append(event)
            with instance.db.session() as session:
                session.execute(
                    delete(TranscriptRow)
                    .where(TranscriptRow.id.in_(ids))
                    .execution_options(synchronize_session=False)
                )
            counts["deleted"] += len(ids)
            counts["events"] += 1


def _by_tenant(rows: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for record_id, tenant in rows:
        grouped.setdefault(tenant, []).append(record_id)
    return grouped


class RetentionScheduler:
    """A daemon thread running :func:`run_retention` every ``interval_s`` seconds."""

    def __init__(
        self, instance: Instance, audit: AuditSink, interval_s: float, *, owns_audit: bool = False
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self._instance, self._audit, self._interval = instance, audit, interval_s
        self._owns_audit = owns_audit
        self._stop = threading.Event()
        self.runs = 0
        self._thread = threading.Thread(target=self._loop, name="assay-retention", daemon=True)

    def start(self) -> RetentionScheduler:
        self._thread.start()
        return self

    def _loop(self) -> None:
        log = get_logger("assay.retention")
        while not self._stop.is_set():
            try:
                counts = run_retention(self._instance, self._audit)
                if counts["deleted"]:
                    log.info("retention run", **counts)
            except Exception as exc:  # noqa: BLE001 - keep the schedule alive; the next run retries
                log.error("retention run failed", error=str(exc), error_type=type(exc).__name__)
            self.runs += 1
            self._stop.wait(self._interval)

    def stop(self, timeout: float | None = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        close = getattr(self._audit, "close", None)
        if self._owns_audit and callable(close):
            close()


def start_retention_scheduler(
    instance: Instance, interval_s: float, audit: AuditSink | None = None
) -> RetentionScheduler:
    """Start the retention schedule (first run immediately); call ``.stop()`` to end it."""
    if audit is not None:
        return RetentionScheduler(instance, audit, interval_s).start()
    return RetentionScheduler(instance, _LazyAudit(instance), interval_s).start()


class _LazyAudit:
    """Opens the process's shared ledger at the first event, so a ledger that is unavailable
    when the server starts delays retention (each run logs the failure and retries) instead of
    stopping it. The instance closes the shared ledger."""

    def __init__(self, instance: Instance) -> None:
        self._instance = instance
        self._log: AuditSink | None = None

    def append(self, event: Any) -> int:
        return self._opened().append(event)

    def append_batch(self, events: Sequence[Any]) -> list[int]:
        return self._opened().append_batch(events)

    def _opened(self) -> AuditSink:
        if self._log is None:
            self._log = AuditLog.shared(self._instance)
        return self._log
