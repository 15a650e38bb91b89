"""Tables of the compliance engine: check result history and evidence records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from assay.store.models import Base, UTCDateTime

__all__ = ["CheckResultRow", "EvidenceRow"]

# SQLite only auto-increments an INTEGER PRIMARY KEY, PostgreSQL gets a BIGINT identity.
_AutoId = BigInteger().with_variant(Integer(), "sqlite")


class CheckResultRow(Base):
    """One run of one automated check: its outcome, when, and what it looked at."""

    __tablename__ = "check_results"
    __table_args__ = (
        Index("ix_check_results_check_id_ran_at", "check_id", "ran_at"),
        Index("ix_check_results_ran_at", "ran_at"),
    )

    id: Mapped[int] = mapped_column(_AutoId, primary_key=True, autoincrement=True)
    check_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime())
    summary: Mapped[str] = mapped_column(String(2000))
    evidence: Mapped[str] = mapped_column(Text())
    evidence_sha256: Mapped[str] = mapped_column(String(64))
    remediation: Mapped[str] = mapped_column(String(2000))


class EvidenceRow(Base):
    """A piece of evidence for a control, encrypted at rest, dated by when it was true."""

    __tablename__ = "compliance_evidence"
    __table_args__ = (Index("ix_compliance_evidence_control_id", "control_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    control_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(2000))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger())
    sha256: Mapped[str] = mapped_column(String(64))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    owner: Mapped[str] = mapped_column(String(200))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary())
    ledger_index: Mapped[int | None] = mapped_column(BigInteger(), nullable=True)
