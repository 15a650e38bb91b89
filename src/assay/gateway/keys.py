"""API keys: created once, stored as a hash, verified in constant time.

A key looks like ``sk-assay-<id>-<secret>``. The id selects the row; the whole
key is compared against the stored SHA-256 with :func:`hmac.compare_digest`.
Keys carry 256 bits of randomness, so a fast hash is enough (no password
stretching is needed, and verification stays well under a millisecond).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from assay.clock import Clock, format_rfc3339
from assay.errors import AuthError, NotFoundError, StoreError, UsageError
from assay.gateway._audit import EventSink
from assay.gateway.models import ApiKeyRow
from assay.ids import hex_id
from assay.store import Database

__all__ = ["ROLES", "ApiKey", "ApiKeyStore", "KeyRejectedError", "Role"]

Role = Literal["app", "admin", "auditor"]
ROLES: tuple[str, ...] = get_args(Role)
KEY_PREFIX = "sk-assay-"
_KEY_RE = re.compile(r"^sk-assay-([0-9a-f]{16})-([A-Za-z0-9_-]{43})$")
_DUMMY_HASH = hashlib.sha256(b"no such key").digest()
_TENANT_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")  # the key store's tenant names
_LAST_USED_EVERY = timedelta(minutes=1)
#: How long a verified key's row is reused without reading the store again. A revocation
#: through this process applies at once; one made by another process within this bound.
KEY_CACHE_S = 1.0


class KeyRejectedError(AuthError):
    """The key is missing, malformed, unknown, revoked or expired (401)."""

    title = "Invalid API key"
    default_hint = "Create a key with `assay keys create --tenant T --role app`."

    def __init__(self, message: str, *, code: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code


@dataclass(frozen=True)
class ApiKey:
    """What the gateway knows about a key (never the secret)."""

    id: str
    tenant: str
    role: str
    name: str | None
    prefix: str
    allowed_models: tuple[str, ...] | None
    rpm_limit: int | None
    tpm_limit: int | None
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime
    last_used_at: datetime | None

    @property
    def actor(self) -> str:
        return f"apikey:{self.id}"

    def may_use(self, alias: str) -> bool:
        return self.allowed_models is None or alias in self.allowed_models

    def as_dict(self) -> dict[str, object]:
        def ts(value: datetime | None) -> str | None:
            return format_rfc3339(value) if value else None

        return {
            "id": self.id,
            "tenant": self.tenant,
            "role": self.role,
            "name": self.name,
            "prefix": self.prefix,
            "allowed_models": list(self.allowed_models) if self.allowed_models else None,
            "rpm_limit": self.rpm_limit,
            "tpm_limit": self.tpm_limit,
            "expires_at": ts(self.expires_at),
            "revoked_at": ts(self.revoked_at),
            "created_at": ts(self.created_at),
            "last_used_at": ts(self.last_used_at),
        }


def _hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _to_key(row: ApiKeyRow) -> ApiKey:
    models = tuple(json.loads(row.allowed_models)) if row.allowed_models else None
    return ApiKey(
        id=row.id,
        tenant=row.tenant,
        role=row.role,
        name=row.name,
        prefix=row.prefix,
        allowed_models=models,
        rpm_limit=row.rpm_limit,
        tpm_limit=row.tpm_limit,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )


def validate_tenant(tenant: str) -> str:
    if not _TENANT_RE.fullmatch(tenant):
        raise UsageError(
            f"tenant name {tenant!r} is not valid",
            hint="Use 1-63 characters: lower-case letters, digits and '-', starting with a letter.",
        )
    return tenant


class ApiKeyStore:
    """The ``api_keys`` table. Creation and revocation are ledger events."""

    def __init__(
        self, db: Database, clock: Clock, audit: EventSink | None = None, cache_s: float = KEY_CACHE_S,
        *, redis_url: str | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._audit = audit
        self._redis_url = redis_url  # revocations are published there for the other replicas
        self._last_touch: dict[str, datetime] = {}
        self._cache_s = cache_s
        self._rows: dict[str, tuple[float, ApiKeyRow, ApiKey]] = {}

    def _require_audit(self) -> EventSink:
        if self._audit is None:
            from assay.errors import LedgerError

            raise LedgerError("key changes need the audit ledger, which is not open")
        return self._audit

    async def create(
        self,
        tenant: str,
        role: str,
        *,
        actor: str,
        name: str | None = None,
        expires_at: datetime | None = None,
        allowed_models: list[str] | None = None,
        rpm_limit: int | None = None,
        tpm_limit: int | None = None,
    ) -> tuple[ApiKey, str]:
        """Create a key; return it and the secret, which is never shown again."""
        self.check_new(tenant, role, expires_at, rpm_limit, tpm_limit)
        now = self._clock.now()
        audit = self._require_audit()
        key_id = hex_id()  # recorded in the ledger: never a run of digits
        secret = f"{KEY_PREFIX}{key_id}-{secrets.token_urlsafe(32)}"
        row = ApiKeyRow(
            id=key_id,
            tenant=tenant,
            role=role,
            name=name,
            key_hash=_hash(secret),
            prefix=f"{KEY_PREFIX}{key_id}",
            allowed_models=json.dumps(sorted(allowed_models)) if allowed_models else None,
            rpm_limit=rpm_limit,
            tpm_limit=tpm_limit,
            expires_at=expires_at,
            created_at=now,
        )
        key = _to_key(row)
        # Recorded first: if the ledger refuses, the key never exists. (The ledger writes from
        # its own connection, so it cannot run inside this transaction on SQLite.)
        await audit.append(
            "apikey.created",
            actor=actor,
            tenant=tenant,
            object_ids={"apikey": key_id},
            attributes={"role": role, "expires_at": key.as_dict()["expires_at"]},
        )
        try:
            with self._db.session() as session:
                session.add(row)
        except SQLAlchemyError as exc:
            raise StoreError(f"could not store the key: {exc}") from exc
        return key, secret

    def check_new(
        self, tenant: str, role: str, expires_at: datetime | None, rpm: int | None, tpm: int | None
    ) -> None:
        """Refuse bad arguments before anything is written (here or by the caller)."""
        validate_tenant(tenant)
        if role not in ROLES:
            raise UsageError(f"unknown role {role!r}", hint=f"Use one of: {', '.join(ROLES)}.")
        if expires_at is not None and expires_at <= self._clock.now():
            raise UsageError("the expiry date is in the past", hint="Give a future date.")
        for limit in (rpm, tpm):
            if limit is not None and limit <= 0:
                raise UsageError("rate limits must be positive", hint="Omit a limit to use none.")

    async def revoke(self, key_id: str, *, actor: str) -> ApiKey:
        audit = self._require_audit()
        key = self.get(key_id)
        if key.revoked_at is not None:
            return key
        await audit.append(
            "apikey.revoked", actor=actor, tenant=key.tenant, object_ids={"apikey": key_id}, attributes={}
        )
        try:
            with self._db.session() as session:
                session.execute(
                    update(ApiKeyRow)
                    .where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
                    .values(revoked_at=self._clock.now())
                )
        except SQLAlchemyError as exc:
            raise StoreError(f"could not revoke the key: {exc}", hint="Retry the revocation.") from exc
        finally:
            self._rows.pop(key_id, None)
        if self._redis_url:
            from assay.gateway.revocations import publish_revocation

            await asyncio.to_thread(publish_revocation, self._redis_url, key_id)
        return self.get(key_id)

    def forget(self, key_id: str) -> None:
        """Drop a cached row (another process revoked the key): the next request reads it again."""
        self._rows.pop(key_id, None)

    def get(self, key_id: str) -> ApiKey:
        with self._db.session() as session:
            row = session.get(ApiKeyRow, key_id)
            if row is None:
                raise NotFoundError(
                    f"no API key with id {key_id!r}", hint="List keys with `assay keys api-list`."
                )
            return _to_key(row)

    def list(self, tenant: str | None = None) -> list[ApiKey]:
        query = select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id)
        if tenant is not None:
            query = query.where(ApiKeyRow.tenant == tenant)
        with self._db.session() as session:
            return [_to_key(r) for r in session.scalars(query)]

    def verify(self, presented: str | None) -> ApiKey:
        """The key for ``presented``, or :class:`KeyRejectedError`. Store failures raise StoreError."""
        if not presented:
            raise KeyRejectedError(
                "You didn't provide an API key. Send it as `Authorization: Bearer <key>`.",
                code="missing_api_key",
            )
        match = _KEY_RE.fullmatch(presented)
        key_id = match.group(1) if match else None
        loaded = self._load(key_id) if key_id else None
        stored = loaded[0].key_hash if loaded is not None else _DUMMY_HASH
        if not hmac.compare_digest(_hash(presented), stored) or loaded is None:
            raise KeyRejectedError("Incorrect API key provided.", code="invalid_api_key")
        row, key = loaded
        now = self._clock.now()
        if row.revoked_at is not None:
            raise KeyRejectedError("This API key has been revoked.", code="invalid_api_key")
        if row.expires_at is not None and row.expires_at <= now:
            raise KeyRejectedError("This API key has expired.", code="invalid_api_key")
        self._touch(row.id, now)
        return key

    def resolve(self, token: str | None) -> ApiKey:
        """Alias of :meth:`verify` for the API's ``require_role`` dependency."""
        return self.verify(token)

    def _load(self, key_id: str) -> tuple[ApiKeyRow, ApiKey] | None:
        """The key's row and its (immutable) :class:`ApiKey`, reused for ``cache_s`` seconds
        (only rows that exist are cached)."""
        now = time.monotonic()
        cached = self._rows.get(key_id)
        if cached is not None and now - cached[0] < self._cache_s:
            return cached[1], cached[2]
        row = self._read(key_id)
        if row is None:
            self._rows.pop(key_id, None)
            return None
        if len(self._rows) > 100_000:  # bound the memory a stream of distinct keys can take
            self._rows.clear()
        key = _to_key(row)
        self._rows[key_id] = (now, row, key)
        return row, key

    def _read(self, key_id: str) -> ApiKeyRow | None:
        try:
            with self._db.session() as session:
                row = session.get(ApiKeyRow, key_id)
                if row is not None:
                    session.expunge(row)
                return row
        except SQLAlchemyError as exc:
            raise StoreError(
                "the key store is unavailable", hint="Check the database; requests are refused."
            ) from exc

    def _touch(self, key_id: str, now: datetime) -> None:
        """Record last use at most once a minute per key, so verification stays read-only."""
        last = self._last_touch.get(key_id)
        if last is not None and now - last < _LAST_USED_EVERY:
            return
        self._last_touch[key_id] = now
        try:
            with self._db.session() as session:
                session.execute(
                    update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(last_used_at=now)
                )
        except SQLAlchemyError:
            pass  # a missed last-used stamp must not fail a request
