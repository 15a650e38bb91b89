"""Evidence records: a file or URL for a control, dated by when it was true.

The content is stored encrypted; its SHA-256 is recorded in the audit ledger
(event ``evidence.added``) so an auditor can check the copy they receive.
"""

from __future__ import annotations

import hashlib
import mimetypes
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select, update

from assay.clock import format_rfc3339
from assay.compliance import _ledger
from assay.compliance._vault import open_evidence, seal_evidence
from assay.compliance.library import ControlLibrary
from assay.compliance.models import EvidenceRow
from assay.errors import NotFoundError, UsageError, VerificationError
from assay.instance import Instance

__all__ = ["EvidenceInfo", "add_evidence", "evidence_content", "list_evidence"]

_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class EvidenceInfo:
    id: str
    control_id: str
    kind: str
    source: str
    media_type: str
    size: int
    sha256: str
    effective_at: datetime
    expires_at: datetime | None
    collected_at: datetime
    owner: str
    ledger_index: int | None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "control": self.control_id,
            "kind": self.kind,
            "source": self.source,
            "media_type": self.media_type,
            "size": self.size,
            "sha256": self.sha256,
            "effective": format_rfc3339(self.effective_at),
            "expires": format_rfc3339(self.expires_at) if self.expires_at else None,
            "collected": format_rfc3339(self.collected_at),
            "owner": self.owner,
            "ledger_index": self.ledger_index,
        }


def _info(row: EvidenceRow) -> EvidenceInfo:
    return EvidenceInfo(
        row.id, row.control_id, row.kind, row.source, row.media_type, row.size, row.sha256,
        row.effective_at, row.expires_at, row.collected_at, row.owner, row.ledger_index,
    )


def _read(target: str) -> tuple[str, str, bytes, str]:
    """(kind, source, content, media type) for a path or URL."""
    if target.startswith(("https://", "http://")):
        # A URL is recorded, not fetched: the record proves what was referenced and when.
        return "url", target, target.encode(), "text/uri-list"
    path = Path(target)
    if not path.is_file():
        raise UsageError(f"evidence file {target} does not exist", hint="Give a readable file or an https:// URL.")
    if path.stat().st_size > _MAX_BYTES:
        raise UsageError(f"evidence file {target} is larger than 64 MiB", hint="Split it or link it by URL.")
    media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return "file", path.name, path.read_bytes(), media


def add_evidence(
    instance: Instance,
    library: ControlLibrary,
    target: str,
    *,
    control_id: str,
    effective: datetime,
    owner: str,
    expires: datetime | None = None,
    actor: str | None = None,
) -> EvidenceInfo:
    """Store one piece of evidence encrypted and record its hash in the ledger."""
    control = library.control(control_id)
    if not owner.strip():
        raise UsageError("--owner is empty", hint="Name the role or person who owns this evidence.")
    if expires is not None and expires <= effective:
        raise UsageError("--expires is not after --effective", hint="Give an expiry later than the effective date.")
    kind, source, content, media = _read(target)
    actor = actor or _ledger.cli_actor()
    record_id = uuid.uuid4().hex
    digest = hashlib.sha256(content).hexdigest()
    row = EvidenceRow(
        id=record_id, control_id=control.id, kind=kind, source=source, media_type=media,
        size=len(content), sha256=digest, effective_at=effective, expires_at=expires,
        collected_at=instance.clock.now(), owner=owner.strip(),
        ciphertext=seal_evidence(instance, record_id, content, actor), ledger_index=None,
    )
    with instance.db.session() as session:
        session.add(row)
    # The ledger writes through its own connection, so the row is committed first and
    # removed again if the ledger refuses: evidence is never kept without its record.
    try:
        index = _ledger.append_event(
            instance, "evidence.added", actor=actor,
            object_ids={"evidence": record_id, "control": control.id},
            attributes={
                "sha256": digest, "size": len(content), "kind": kind,
                "effective": format_rfc3339(effective),
                "expires": format_rfc3339(expires) if expires else None,
            },
        )
    except BaseException:
        with instance.db.session() as session:
            session.execute(delete(EvidenceRow).where(EvidenceRow.id == record_id))
        raise
    if index is not None:
        with instance.db.session() as session:
            session.execute(update(EvidenceRow).where(EvidenceRow.id == record_id).values(ledger_index=index))
        row.ledger_index = index
    return _info(row)


def list_evidence(instance: Instance, control_id: str | None = None) -> list[EvidenceInfo]:
    query = select(EvidenceRow).order_by(EvidenceRow.effective_at, EvidenceRow.id)
    if control_id:
        query = query.where(EvidenceRow.control_id == control_id.upper())
    with instance.db.session() as session:
        return [_info(r) for r in session.scalars(query)]


def evidence_content(instance: Instance, evidence_id: str) -> bytes:
    """Decrypted content, checked against the recorded SHA-256."""
    with instance.db.session() as session:
        row = session.get(EvidenceRow, evidence_id)
        if row is None:
            raise NotFoundError(f"no evidence {evidence_id}", hint="List it with `assay evidence list`.")
        content = open_evidence(instance, row.id, row.ciphertext)
        expected = row.sha256
    if hashlib.sha256(content).hexdigest() != expected:
        raise VerificationError(f"evidence {evidence_id} does not match its recorded hash", hint="Restore it from backup.")
    return content
