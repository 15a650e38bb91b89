"""Ledger tables.

``ledger_entries`` holds each leaf (RFC 8785 JSON of the event) with plain,
indexed columns other components aggregate over in SQL. ``ledger_tiles`` holds
the C2SP tiles (level-0 leaf hashes and the hashes of full tiles above) so a
proof needs O(log n) reads. ``ledger_checkpoints`` keeps every signed checkpoint.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from assay.store.models import Base, UTCDateTime

__all__ = ["LedgerCheckpoint", "LedgerEntry", "LedgerTile"]


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"

    # On SQLite an INTEGER primary key is the rowid: entries are stored in index order
    # and appends skip a separate primary-key index.
    idx: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False
    )
    event_type: Mapped[str] = mapped_column(String(128), index=True)
    tenant: Mapped[str | None] = mapped_column(String(200), index=True, nullable=True)
    actor: Mapped[str] = mapped_column(String(256))
    event_time: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    leaf: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerTile(Base):
    __tablename__ = "ledger_tiles"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tile_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    width: Mapped[int] = mapped_column(Integer)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerCheckpoint(Base):
    __tablename__ = "ledger_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
