"""``assay doctor`` finding for the ledger: is every entry covered by a recent checkpoint?"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from assay.config import Settings
from assay.doctor import Finding
from assay.errors import AssayError
from assay.ledger.models import LedgerCheckpoint, LedgerEntry
from assay.store import open_database

__all__ = ["ledger_check"]

#: Checkpoints are due every <= 10 s while the log grows; a minute of lag means no sequencer signs.
STALE_AFTER = timedelta(seconds=60)


def ledger_check(settings: Settings) -> list[Finding]:
    db = open_database(settings.sqlalchemy_url)
    try:
        with db.session() as session:
            size = int(session.scalar(select(func.coalesce(func.max(LedgerEntry.idx) + 1, 0))) or 0)
            latest = session.scalars(
                select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()).limit(1)
            ).first()
    except AssayError:
        raise
    except Exception as exc:  # noqa: BLE001 - the ledger tables may not exist yet
        return [Finding("ledger", "fail", f"cannot read the ledger: {exc}", "Run `assay init`.")]
    finally:
        db.dispose()
    return [_finding(size, latest)]


def _finding(size: int, latest: LedgerCheckpoint | None, now: datetime | None = None) -> Finding:
    covered = latest.size if latest is not None else 0
    if size == covered:
        return Finding("ledger", "ok", f"{size} entries, all covered by a signed checkpoint")
    now = now or datetime.now(UTC)
    age = now - latest.created_at if latest is not None else None
    if age is not None and age < STALE_AFTER:
        return Finding("ledger", "ok", f"{size} entries; checkpoint at {covered} is {age.seconds} s old")
    return Finding(
        "ledger", "warn", f"{size - covered} of {size} entries are not yet covered by a signed checkpoint",
        "Run `assay ledger checkpoint --new`, and check that the server is running.",
    )
