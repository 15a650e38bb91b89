"""Tables of the confidentiality area: tenants, key-encryption keys, data keys, transcripts.

No table holds plaintext personal data: subject ids are stored as keyed hashes
(``subject_ref``), keys only wrapped, transcripts only as envelopes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from assay.store.models import Base, UTCDateTime

__all__ = ["DataKeyRow", "KekRow", "LocalKekRow", "TenantRow", "TranscriptRow"]


class TenantRow(Base):
    __tablename__ = "crypto_tenants"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    retention_days: Mapped[int] = mapped_column(Integer)
    primary_version: Mapped[int] = mapped_column(Integer)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    erased_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class KekRow(Base):
    """One version of a tenant's key-encryption key; the key itself lives in the KMS."""

    __tablename__ = "crypto_keks"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    kms: Mapped[str] = mapped_column(String(32))
    key_ref: Mapped[str] = mapped_column(String(512))
    state: Mapped[str] = mapped_column(String(16))  # primary | active | destroyed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DataKeyRow(Base):
    """A data key, stored only wrapped by one version of its tenant's KEK."""

    __tablename__ = "crypto_data_keys"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    subject_ref: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # data | derive
    generation: Mapped[int] = mapped_column(Integer)
    kek_version: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    encryptions_reserved: Mapped[int] = mapped_column(BigInteger)
    retired: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LocalKekRow(Base):
    """KEK material of the ``local`` KMS, wrapped by the master key."""

    __tablename__ = "crypto_local_keks"

    key_ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TranscriptRow(Base):
    """An encrypted conversation transcript with its retention deadline."""

    __tablename__ = "crypto_transcripts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    subject_ref: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    conversation_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retention_deadline: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext_sha256: Mapped[str] = mapped_column(String(64))
