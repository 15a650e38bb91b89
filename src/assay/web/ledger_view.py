"""What the ledger page shows: the latest checkpoint, a full verification, entries, proofs.

Verification runs the same full check as ``assay ledger verify``; it is a convenience for
people signed in. An auditor's real check is offline, from a
``.tlog-proof`` file and the log's public key (``c2sp.org/tlog-proof``).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from assay.errors import VerificationError
from assay.ledger import AuditLog
from assay.ledger.check import verify_database
from assay.ledger.events import RECORD_TYPE
from assay.ledger.log import SignedCheckpoint
from assay.ledger.models import LedgerEntry
from assay.ledger.proof import format_tlog_proof
from assay.store import Database

__all__ = ["CheckpointView", "EntryView", "Verification", "latest", "proof_file", "verify_log"]


@dataclass(frozen=True)
class CheckpointView:
    size: int
    root: str
    note: str
    time: datetime
    vkey: str


@dataclass(frozen=True)
class EntryView:
    index: int
    event_type: str
    tenant: str | None
    actor: str
    time: datetime
    leaf_hash: str
    event: dict[str, Any]
    covered_by: int | None


@dataclass(frozen=True)
class Verification:
    ok: bool
    summary: str
    steps: tuple[str, ...]


def _view(log: AuditLog, cp: SignedCheckpoint) -> CheckpointView:
    return CheckpointView(
        cp.size, base64.b64encode(cp.root).decode(), cp.note, cp.created_at, log.vkey
    )


def latest(log: AuditLog) -> CheckpointView | None:
    cp = log.latest_checkpoint()
    return None if cp is None else _view(log, cp)


def entry(log: AuditLog, index: int) -> EntryView:
    row = log.entry(index)
    cp = log.latest_checkpoint()
    try:
        event = json.loads(row.leaf)
    except ValueError:
        event = {}
    return EntryView(
        index=row.idx,
        event_type=row.event_type,
        tenant=row.tenant,
        actor=row.actor,
        time=row.event_time,
        leaf_hash=row.leaf_hash.hex(),
        event=event,
        covered_by=cp.size if cp is not None and cp.size > index else None,
    )


def proof_file(log: AuditLog, index: int) -> str:
    """``c2sp.org/tlog-proof@v1`` for entry ``index``; ``extra`` carries the leaf bytes."""
    row = log.entry(index)
    cp = log.latest_checkpoint()
    if cp is None or cp.size <= index:
        cp = log.checkpoint(new=True)
    return format_tlog_proof(index, log.inclusion_proof(index, cp.size), cp.note, extra=row.leaf)


def verify_log(log: AuditLog, db: Database) -> Verification:
    """The same full check as ``assay ledger verify``, after signing a fresh checkpoint."""
    if log.size() == 0:
        return Verification(True, "The log is empty; nothing to verify yet.", ())
    log.checkpoint(new=True)
    try:
        report = verify_database(db, log.vkey, log.origin)
    except VerificationError as exc:
        return Verification(False, f"Verification FAILED: {exc.message}", (exc.hint,))
    steps = (
        f"Every one of the {report.entries} entries was re-hashed from its stored bytes.",
        f"All {report.tiles} tiles were recomputed and match the stored tiles.",
        f"All {report.checkpoints} checkpoints carry a valid signature of this log's key, "
        "and each is consistent with the one before it (append-only).",
        f"Root: {base64.b64encode(report.root).decode()} ({report.seconds:.2f} s).",
    )
    return Verification(True, f"The log verifies: {report.entries} entries.", steps)


@dataclass(frozen=True)
class RecentEvent:
    index: int
    event_type: str
    actor: str
    tenant: str | None
    time: datetime


def recent_events(db: Database, limit: int = 10) -> list[RecentEvent]:
    """The newest entries, newest first (metadata columns only)."""
    with db.session() as s:
        rows = s.execute(
            select(
                LedgerEntry.idx,
                LedgerEntry.event_type,
                LedgerEntry.actor,
                LedgerEntry.tenant,
                LedgerEntry.event_time,
            )
            .where(LedgerEntry.event_type != RECORD_TYPE)  # the log's own checkpoint records are not activity
            .order_by(LedgerEntry.idx.desc())
            .limit(limit)
        ).all()
    return [RecentEvent(*row) for row in rows]


def events_per_day(db: Database, today: date, days: int = 14) -> list[tuple[str, float]]:
    """``(YYYY-MM-DD, count)`` for the last ``days`` days, oldest first, zeros included."""
    points: list[tuple[str, float]] = []
    with db.session() as s:
        for back in range(days - 1, -1, -1):
            day = today - timedelta(days=back)
            start = datetime.combine(day, time.min, tzinfo=UTC)
            count = s.scalar(
                select(func.count())
                .select_from(LedgerEntry)
                .where(
                    LedgerEntry.event_time >= start,
                    LedgerEntry.event_time < start + timedelta(days=1),
                    LedgerEntry.event_type != RECORD_TYPE,
                )
            )
            points.append((day.isoformat(), float(count or 0)))
    return points
