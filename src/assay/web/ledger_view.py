"""What the ledger page shows: the latest checkpoint, a full verification, entries, proofs.

Verification here re-derives everything from stored leaves with the pure Merkle and note
code; it is a convenience for people signed in. An auditor's real check is offline, from a
``.tlog-proof`` file and the log's public key (``c2sp.org/tlog-proof``).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from assay.errors import NotFoundError
from assay.ledger import AuditLog
from assay.ledger.log import SignedCheckpoint
from assay.ledger.merkle import (
    ProofError,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from assay.ledger.models import LedgerEntry
from assay.ledger.note import NoteError, Verifier, open_note
from assay.store import Database

__all__ = ["CheckpointView", "EntryView", "Verification", "latest", "proof_file", "verify_log"]

_CHUNK = 4096
_MAX_CONSISTENCY = 64


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
    proof = log.inclusion_proof(index, cp.size)
    lines = [
        "c2sp.org/tlog-proof@v1",
        "extra " + base64.b64encode(row.leaf).decode(),
        f"index {index}",
        *(base64.b64encode(h).decode() for h in proof),
    ]
    # Proof lines, then one empty line, then the checkpoint note verbatim.
    return "\n".join(lines) + "\n\n" + cp.note


def verify_log(log: AuditLog) -> Verification:
    """Signature, root recomputed from every leaf, consistency with earlier checkpoints."""
    steps: list[str] = []
    try:
        if log.size() == 0:
            return Verification(True, "The log is empty; nothing to verify yet.", ())
        cp = log.checkpoint(new=True)
        open_note(cp.note, [Verifier.from_vkey(log.vkey)])
        steps.append(f"Checkpoint at size {cp.size} carries a valid Ed25519 signature.")
        hashes = _leaf_hashes(log, cp.size)
        if root_from_leaf_hashes(hashes) != cp.root:
            raise ProofError("the root recomputed from the stored entries differs")
        steps.append(f"Root recomputed from all {cp.size} entries matches the checkpoint.")
        earlier = [c for c in log.checkpoints() if 0 < c.size < cp.size][-_MAX_CONSISTENCY:]
        for old in earlier:
            proof = log.consistency_proof(old.size, cp.size)
            verify_consistency(old.size, cp.size, old.root, cp.root, proof)
        steps.append(f"{len(earlier)} earlier checkpoints are consistent with it (append-only).")
        sample = [0, cp.size // 2, cp.size - 1]
        for index in sorted(set(sample)):
            proof = log.inclusion_proof(index, cp.size)
            verify_inclusion(hashes[index], index, cp.size, proof, cp.root)
        steps.append("Inclusion proofs of the first, middle and last entries verify.")
    except (ProofError, NoteError, NotFoundError) as exc:
        return Verification(False, f"Verification FAILED: {exc}", tuple(steps))
    return Verification(True, f"The log verifies up to size {cp.size}.", tuple(steps))


def _leaf_hashes(log: AuditLog, size: int) -> list[bytes]:
    hashes: list[bytes] = []
    for start in range(0, size, _CHUNK):
        hashes.extend(
            leaf_hash(leaf) for leaf in log.entry_leaves(start, min(size, start + _CHUNK))
        )
    return hashes


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
                )
            )
            points.append((day.isoformat(), float(count or 0)))
    return points
