"""Tables owned by the gateway: API keys and versioned tenant policies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from assay.store.models import Base, UTCDateTime

__all__ = ["ApiKeyRow", "TenantPolicyRow"]


class ApiKeyRow(Base):
    """One API key. Only the SHA-256 of the secret is kept; ``prefix`` is for display."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(128), index=True)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    prefix: Mapped[str] = mapped_column(String(64))
    allowed_models: Mapped[str | None] = mapped_column(Text, nullable=True)
    rpm_limit: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    tpm_limit: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class TenantPolicyRow(Base):
    """One version of a tenant's policy; the highest version is the one in force."""

    __tablename__ = "tenant_policies"
    __table_args__ = (Index("ix_tenant_policies_tenant_version", "tenant", "version"),)

    tenant: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    body: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
