"""Tenant policy: versioned, secure by default, every change a ledger event.

A tenant with no stored policy gets :func:`default_policy` (version 0): secrets
and structured personal data are redacted on the way in, transcripts are kept
encrypted for 30 days, and the gateway fails closed. Loosening it is an
explicit ``assay policy set`` that is recorded with its actor.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from assay.clock import Clock
from assay.errors import StoreError, UsageError
from assay.gateway._audit import EventSink
from assay.gateway.keys import validate_tenant
from assay.gateway.models import TenantPolicyRow
from assay.store import Database

__all__ = [
    "DEFAULT_INBOUND",
    "DEFAULT_OUTBOUND",
    "PolicyLooseningError",
    "PolicyStore",
    "RedactionAction",
    "StoredPolicy",
    "TenantPolicy",
    "default_policy",
]

RedactionAction = Literal["mask", "partial", "hash", "pseudonym", "drop", "allow"]

# Secrets and structured personal data: redacted before anything leaves for a provider.
# Contact details become pseudonyms (the client gets its own values back); the rest is masked.
DEFAULT_INBOUND: dict[str, RedactionAction] = {
    "SECRET": "mask",
    "EMAIL_ADDRESS": "pseudonym",
    "PHONE_NUMBER": "pseudonym",
    "CREDIT_CARD": "mask",
    "US_SSN": "mask",
    "IBAN_CODE": "mask",
}
# What the model writes is masked before the client sees it and before it is stored.
DEFAULT_OUTBOUND: dict[str, RedactionAction] = dict.fromkeys(DEFAULT_INBOUND, "mask")
_TYPE_NAME = re.compile(r"^[A-Z][A-Z0-9_]{1,63}$")


class TenantPolicy(BaseModel):
    """What the gateway enforces for one tenant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    inbound: dict[str, RedactionAction] = Field(
        default_factory=lambda: dict(DEFAULT_INBOUND),
        description="PII type -> action applied before the request reaches the provider.",
    )
    outbound: dict[str, RedactionAction] = Field(
        default_factory=lambda: dict(DEFAULT_OUTBOUND),
        description="PII type -> action applied to answers before the client and storage.",
    )
    restore_pseudonyms: bool = Field(
        default=True,
        description="Give the client its own values back where the inbound step pseudonymised them.",
    )
    min_score: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="Detection score from which a finding is redacted, both ways. Lower redacts more: "
        "0.4 also takes phone-shaped numbers that fail validation and have no context word near.",
    )
    store_transcripts: bool = True
    retention_days: int = Field(default=30, ge=1, le=3650)
    allowed_models: list[str] | None = Field(
        default=None, description="Model aliases this tenant may use; null means every model."
    )
    rpm_limit: int | None = Field(
        default=None, gt=0,
        description="Requests per minute for the whole tenant; null means the server's ASSAY_TENANT_RPM.",
    )
    tpm_limit: int | None = Field(
        default=None, gt=0,
        description="Tokens per minute for the whole tenant; null means the server's ASSAY_TENANT_TPM.",
    )
    on_failure: Literal["closed", "open"] = Field(
        default="closed",
        description="When redaction, the key store or the ledger is unavailable: refuse (closed) "
        "or pass and count the bypass (open).",
    )

    @field_validator("inbound", "outbound")
    @classmethod
    def _type_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _TYPE_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a PII type name such as EMAIL_ADDRESS (`assay pii types`)")
        return value

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def default_policy() -> TenantPolicy:
    return TenantPolicy()


@dataclass(frozen=True)
class StoredPolicy:
    tenant: str
    version: int
    policy: TenantPolicy
    actor: str | None
    created_at: datetime | None
    loosened: tuple[str, ...] = ()  # set by PolicyStore.set: what this version loosened


def parse_policy(text: str) -> TenantPolicy:
    """A policy from JSON text, with an error naming the field that was wrong."""
    try:
        return TenantPolicy.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "policy"
        raise UsageError(
            f"policy field {where} is invalid: {first['msg']}",
            hint="Start from `assay policy show --tenant T --json` and change only what you need.",
        ) from exc


class PolicyLooseningError(UsageError):
    """A policy change would protect less than the policy in force, and was not confirmed."""

    def __init__(self, tenant: str, weaker: list[str]) -> None:
        super().__init__(
            f"this change loosens the policy of tenant {tenant}: {', '.join(weaker)}; nothing was changed",
            hint="If you mean it, confirm the loosening (`assay policy set --loosen`, or the "
            "confirmation box on the tenant's page); the ledger event records what it loosened.",
        )
        self.loosened = weaker


class PolicyStore:
    """The ``tenant_policies`` table, with a short per-process cache for the hot path."""

    def __init__(
        self, db: Database, clock: Clock, audit: EventSink | None = None, cache_s: float = 1.0
    ) -> None:
        self._db = db
        self._clock = clock
        self._audit = audit
        self._cache_s = cache_s
        self._cache: dict[str, tuple[float, StoredPolicy]] = {}

    def current(self, tenant: str) -> StoredPolicy:
        cached = self._cache.get(tenant)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self._cache_s:
            return cached[1]
        stored = self._load(tenant)
        self._cache[tenant] = (now, stored)
        return stored

    def _load(self, tenant: str) -> StoredPolicy:
        query = (
            select(TenantPolicyRow)
            .where(TenantPolicyRow.tenant == tenant)
            .order_by(TenantPolicyRow.version.desc())
            .limit(1)
        )
        try:
            with self._db.session() as session:
                row = session.scalar(query)
                if row is None:
                    return StoredPolicy(tenant, 0, default_policy(), None, None)
                return StoredPolicy(
                    tenant, row.version, parse_policy(row.body), row.actor, row.created_at
                )
        except SQLAlchemyError as exc:
            raise StoreError("the policy store is unavailable") from exc

    def history(self, tenant: str) -> list[StoredPolicy]:
        query = (
            select(TenantPolicyRow)
            .where(TenantPolicyRow.tenant == tenant)
            .order_by(TenantPolicyRow.version)
        )
        with self._db.session() as session:
            return [
                StoredPolicy(tenant, r.version, parse_policy(r.body), r.actor, r.created_at)
                for r in session.scalars(query)
            ]

    async def set(
        self, tenant: str, policy: TenantPolicy, *, actor: str, allow_loosening: bool = False
    ) -> StoredPolicy:
        """Store ``policy`` as the tenant's next version and record a ``policy.changed`` event.

        A change that protects less than the policy in force (see :func:`loosened`) is refused
        unless ``allow_loosening``: loosening is an explicit act, never a side effect of an edit.
        """
        validate_tenant(tenant)
        if self._audit is None:
            from assay.errors import LedgerError

            raise LedgerError("policy changes need the audit ledger, which is not open")
        previous = self._load(tenant)
        weaker = loosened(previous.policy, policy)
        if weaker and not allow_loosening:
            raise PolicyLooseningError(tenant, weaker)
        body = policy.canonical_json()
        now = self._clock.now()
        version = previous.version + 1
        # Recorded first (the ledger writes from its own connection); the insert then fails on
        # the primary key if another change took this version meanwhile.
        await self._audit.append(
            "policy.changed",
            actor=actor,
            tenant=tenant,
            object_ids={"policy": f"{tenant}/{version}"},
            attributes={
                "version": version,
                "previous_version": previous.version,
                "changed": _changed_fields(previous.policy, policy),
                "loosened": weaker,
                "on_failure": policy.on_failure,
            },
        )
        try:
            with self._db.session() as session:
                session.add(
                    TenantPolicyRow(tenant=tenant, version=version, body=body, actor=actor, created_at=now)
                )
        except IntegrityError as exc:
            raise StoreError(
                "another policy change for this tenant happened at the same time",
                hint="Show the policy again and retry.",
            ) from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"could not store the policy: {exc}") from exc
        self._cache.pop(tenant, None)
        return StoredPolicy(tenant, version, policy, actor, now, tuple(weaker))


def loosened(before: TenantPolicy, after: TenantPolicy) -> list[str]:
    """What ``after`` protects less than ``before``: redaction dropped, a higher score needed to
    redact, or fail-open turned on."""
    found = [
        f"{direction}.{kind}"
        for direction, old, new in (("inbound", before.inbound, after.inbound), ("outbound", before.outbound, after.outbound))
        for kind, action in old.items()
        if action != "allow" and new.get(kind, "allow") == "allow"
    ]
    if after.min_score > before.min_score:
        found.append("min_score")
    if before.on_failure == "closed" and after.on_failure == "open":
        found.append("on_failure")
    return sorted(found)


def _changed_fields(before: TenantPolicy, after: TenantPolicy) -> list[str]:
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    return sorted(k for k in new if old.get(k) != new.get(k))
