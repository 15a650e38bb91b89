"""Tenants: creation with their first key, listing, and erasure by crypto-shredding."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from assay.clock import format_rfc3339
from assay.crypto import management
from assay.crypto._audit import AuditSink
from assay.crypto.keyring import Keyring
from assay.crypto.models import TenantRow, TranscriptRow
from assay.errors import NotFoundError, UsageError
from assay.instance import Instance

__all__ = ["MAX_RETENTION_DAYS", "TENANT_NAME", "Tenant", "TenantStore", "validate_tenant_name"]

TENANT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
MAX_RETENTION_DAYS = 3650


def validate_tenant_name(name: str) -> str:
    if not TENANT_NAME.fullmatch(name):
        raise UsageError(
            f"invalid tenant name {name!r}",
            hint="Use 1-63 characters: lower-case letters, digits and '-', starting with a letter.",
        )
    return name


@dataclass(frozen=True)
class Tenant:
    name: str
    created_at: datetime
    created_by: str
    retention_days: int
    key_version: int
    erased_at: datetime | None
    transcripts: int = 0

    @property
    def erased(self) -> bool:
        return self.erased_at is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "created_at": format_rfc3339(self.created_at),
            "created_by": self.created_by,
            "retention_days": self.retention_days,
            "key_version": self.key_version,
            "erased_at": format_rfc3339(self.erased_at) if self.erased_at else None,
            "transcripts": self.transcripts,
        }


def _tenant(row: TenantRow, transcripts: int = 0) -> Tenant:
    return Tenant(
        name=row.name,
        created_at=row.created_at,
        created_by=row.created_by,
        retention_days=row.retention_days,
        key_version=row.primary_version,
        erased_at=row.erased_at,
        transcripts=transcripts,
    )


class TenantStore:
    """Create, list and erase tenants. Erasure destroys keys; the ledger records it."""

    def __init__(
        self, instance: Instance, audit: AuditSink, keyring: Keyring | None = None
    ) -> None:
        self.instance = instance
        self.audit = audit
        self.keyring = keyring if keyring is not None else Keyring.open(instance, audit)

    def create(self, name: str, actor: str, retention_days: int = 30) -> Tenant:
        validate_tenant_name(name)
        if not 1 <= retention_days <= MAX_RETENTION_DAYS:
            raise UsageError(
                f"retention of {retention_days} days is out of range",
                hint=f"Choose between 1 and {MAX_RETENTION_DAYS} days.",
            )
        management.provision_tenant(self.keyring, name, actor, retention_days)
        return self.get(name)

    def get(self, name: str) -> Tenant:
        with self.instance.db.session() as session:
            row = session.get(TenantRow, name)
            count = (
                session.scalar(
                    select(func.count())
                    .select_from(TranscriptRow)
                    .where(TranscriptRow.tenant == name)
                )
                or 0
            )
        if row is None:
            raise NotFoundError(
                f"tenant {name!r} does not exist", hint="List tenants with `assay tenants list`."
            )
        return _tenant(row, int(count))

    def list(self) -> list[Tenant]:
        with self.instance.db.session() as session:
            counts = {
                str(t): int(n)
                for t, n in session.execute(
                    select(TranscriptRow.tenant, func.count()).group_by(TranscriptRow.tenant)
                )
            }
            rows = list(session.scalars(select(TenantRow).order_by(TenantRow.name)))
        return [_tenant(row, int(counts.get(row.name, 0))) for row in rows]

    def erase(self, name: str, actor: str) -> dict[str, int]:
        """Crypto-shred ``name``: returns counts of destroyed keys and unreadable transcripts."""
        return management.erase_tenant(self.keyring, name, actor)
