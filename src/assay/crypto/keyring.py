"""The keyring: per-tenant KEKs in a KMS, wrapped data keys, envelope encryption.

Hot path: after warm-up, ``encrypt`` and ``decrypt`` use data keys cached
unwrapped in memory and make no KMS or database call, except one database
update per ``lease_size`` encryptions that reserves nonce budget for the key.
The cache is bounded by count (``cache_max_keys``) and time (``cache_ttl_s``),
which also bounds how long another process may keep using a key that was
erased or retired here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select, update

from assay.crypto import _audit
from assay.crypto._audit import AuditSink
from assay.crypto.envelope import (
    HEADER_SIZE,
    MIN_SIZE,
    NONCE_SIZE,
    Envelope,
    associated_data,
    header_bytes,
)
from assay.crypto.kms import BACKENDS, KMS, open_kms
from assay.crypto.models import DataKeyRow, KekRow, TenantRow
from assay.errors import CryptoError, ErasedError, NotFoundError
from assay.instance import Instance

__all__ = ["DEFAULT_LEASE", "DEFAULT_NONCE_BUDGET", "KeyVersionInfo", "Keyring", "new_record_id"]

# Random 96-bit nonces: NIST SP 800-38D caps a key at 2^32 messages. We retire a
# data key after 2^24, keeping the nonce-collision chance below 2^-48 (ADR 0020).
DEFAULT_NONCE_BUDGET = 2**24
DEFAULT_LEASE = 2**14
PURPOSE_DATA = "data"
PURPOSE_DERIVE = "derive"


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower()


def new_record_id() -> str:
    """128 random bits as 26 lower-case base32 characters.

    Base32 has no long runs of digits, so an id is never mistaken for a card
    number by the ledger's personal-data guard (hex ids sometimes are).
    """
    return _b32(os.urandom(16))


def erased_message(what: str, when: datetime | None) -> str:
    day = when.date().isoformat() if when is not None else "an unknown date"
    return f"{what} was erased on {day}: its key was destroyed"


@dataclass(slots=True)
class _DataKey:
    key_id: bytes
    tenant: str
    subject_ref: str | None
    generation: int
    raw: bytes
    aead: AESGCM
    header: bytes
    expires_at: float


@dataclass(slots=True)
class _Active:
    """A data key in use for new encryptions, with a reserved share of its nonce budget."""

    key: _DataKey
    limit: int
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def take(self) -> bool:
        return next(self.counter) < self.limit and time.monotonic() < self.key.expires_at


@dataclass(frozen=True)
class KeyVersionInfo:
    tenant: str
    version: int
    kms: str
    state: str
    created_at: datetime
    destroyed_at: datetime | None
    data_keys: int

    def as_dict(self) -> dict[str, Any]:
        from assay.clock import format_rfc3339

        return {
            "tenant": self.tenant,
            "version": self.version,
            "kms": self.kms,
            "state": self.state,
            "created_at": format_rfc3339(self.created_at),
            "destroyed_at": format_rfc3339(self.destroyed_at) if self.destroyed_at else None,
            "data_keys": self.data_keys,
        }


class Keyring:
    """Envelope encryption under per-tenant (and optionally per-subject) data keys."""

    def __init__(
        self,
        instance: Instance,
        audit: AuditSink,
        kms: KMS | None = None,
        *,
        cache_ttl_s: float = 300.0,
        cache_max_keys: int = 10_000,
        lease_size: int = DEFAULT_LEASE,
        nonce_budget: int = DEFAULT_NONCE_BUDGET,
    ) -> None:
        if not 0 < lease_size <= nonce_budget <= 2**32:
            raise ValueError("need 0 < lease_size <= nonce_budget <= 2**32")
        self.instance = instance
        self.audit = audit
        self.kms = kms if kms is not None else open_kms(instance)
        self._backends: dict[str, KMS] = {self.kms.name: self.kms}
        self._ttl = cache_ttl_s
        self._max_keys = cache_max_keys
        self._lease = lease_size
        self._budget = nonce_budget
        self._cache: dict[bytes, _DataKey] = {}
        self._active: dict[tuple[str, str | None], _Active] = {}
        self._derived: dict[tuple[str, str], tuple[bytes, float]] = {}
        self._lock = threading.RLock()

    @classmethod
    def open(cls, instance: Instance, audit: AuditSink, **options: Any) -> Keyring:
        """A keyring using the KMS named by ``instance.settings.kms``."""
        return cls(instance, audit, **options)

    # ------------------------------------------------------------------ hot path

    def encrypt(
        self, tenant: str, kind: str, record_id: str, plaintext: bytes, subject: str | None = None
    ) -> bytes:
        """Seal ``plaintext`` for (tenant, kind, record_id); returns envelope bytes."""
        slot = (tenant, None if subject is None else self.subject_ref(tenant, subject))
        active = self._active.get(slot)
        if active is None or not active.take():
            active = self._activate(slot)
        key = active.key
        nonce = os.urandom(NONCE_SIZE)
        aad = associated_data(key.header, tenant, kind, record_id)
        return key.header + nonce + key.aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, tenant: str, kind: str, record_id: str, envelope: bytes) -> bytes:
        """Open an envelope; :class:`ErasedError` if its key was shredded, else CryptoError."""
        if len(envelope) < MIN_SIZE:
            Envelope.parse(envelope)  # raises with the reason
        key = self._cache.get(envelope[8:HEADER_SIZE])
        if key is None or key.expires_at < time.monotonic():
            key = self._load(Envelope.parse(envelope).key_id)
        if key.tenant != tenant:
            raise CryptoError(
                f"record was not encrypted for tenant {tenant!r}",
                hint="A record can only be read through the tenant it belongs to.",
            )
        header = envelope[:HEADER_SIZE]
        if header != key.header:
            Envelope.parse(envelope)  # unsupported version or algorithm raise here
            raise CryptoError(
                "envelope header does not match its data key (altered record)",
                hint="Treat the record as tampered with; restore it from backup.",
            )
        try:
            return key.aead.decrypt(
                envelope[HEADER_SIZE : HEADER_SIZE + NONCE_SIZE],
                envelope[HEADER_SIZE + NONCE_SIZE :],
                associated_data(header, tenant, kind, record_id),
            )
        except InvalidTag as exc:
            raise CryptoError(
                f"{kind} {record_id} of tenant {tenant} failed authentication",
                hint="The record was altered or moved from another row; restore it from backup.",
            ) from exc

    def derive_key(self, tenant: str, purpose: str) -> bytes:
        """A stable 32-byte secret for ``purpose`` (HMAC keys, pseudonyms); erased with the tenant."""
        cached = self._derived.get((tenant, purpose))
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        root = self._derive_root(tenant)
        derived = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=b"assay/derive/" + purpose.encode(),
        ).derive(root.raw)
        self._derived[(tenant, purpose)] = (derived, root.expires_at)
        return derived

    def subject_ref(self, tenant: str, subject: str) -> str:
        """The keyed hash under which a data subject is stored (no plaintext id at rest)."""
        if not subject:
            raise CryptoError("subject id must not be empty", hint="Pass None when unknown.")
        key = self.derive_key(tenant, "subject-ref")
        return _b32(hmac.new(key, subject.encode("utf-8"), hashlib.sha256).digest())

    # ------------------------------------------------------------------ warm-up

    def _activate(self, slot: tuple[str, str | None]) -> _Active:
        with self._lock:
            current = self._active.get(slot)
            if current is not None and current.take():
                return current
            active = self._renew(current) or self._adopt(slot) or self._create(slot)
            active.take()
            self._active[slot] = active
            return active

    def _renew(self, current: _Active | None) -> _Active | None:
        if current is None or not self._reserve(current.key.key_id.hex()):
            return None
        key = current.key
        if key.expires_at < time.monotonic():
            key = self._load(key.key_id)
        return _Active(key=key, limit=self._lease)

    def _adopt(self, slot: tuple[str, str | None]) -> _Active | None:
        """Reuse the newest data key of this slot that still has nonce budget."""
        tenant, subject_ref = slot
        with self.instance.db.session() as session:
            candidate = session.scalar(
                select(DataKeyRow.key_id)
                .join(TenantRow, TenantRow.name == DataKeyRow.tenant)
                .where(*self._usable(tenant, subject_ref))
                .where(DataKeyRow.generation == TenantRow.primary_version)
                .order_by(DataKeyRow.created_at.desc())
                .limit(1)
            )
        if candidate is None or not self._reserve(candidate):
            return None
        return _Active(key=self._load(bytes.fromhex(candidate)), limit=self._lease)

    def _usable(self, tenant: str, subject_ref: str | None) -> list[Any]:
        return [
            DataKeyRow.tenant == tenant,
            DataKeyRow.subject_ref.is_(None)
            if subject_ref is None
            else DataKeyRow.subject_ref == subject_ref,
            DataKeyRow.purpose == PURPOSE_DATA,
            DataKeyRow.retired.is_(False),
            DataKeyRow.wrapped_key.is_not(None),
            DataKeyRow.encryptions_reserved + self._lease <= self._budget,
        ]

    def _reserve(self, key_id: str) -> bool:
        """Take ``lease_size`` encryptions from the key's budget; False if spent or retired."""
        with self.instance.db.session() as session:
            result = session.execute(
                update(DataKeyRow)
                .where(DataKeyRow.key_id == key_id)
                .where(DataKeyRow.retired.is_(False), DataKeyRow.wrapped_key.is_not(None))
                .where(DataKeyRow.encryptions_reserved + self._lease <= self._budget)
                .values(encryptions_reserved=DataKeyRow.encryptions_reserved + self._lease)
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def _create(self, slot: tuple[str, str | None]) -> _Active:
        tenant, subject_ref = slot
        row = self._new_data_key(tenant, subject_ref, PURPOSE_DATA, reserved=self._lease)
        return _Active(key=self._load(bytes.fromhex(row)), limit=self._lease)

    def _new_data_key(
        self, tenant: str, subject_ref: str | None, purpose: str, *, reserved: int
    ) -> str:
        tenant_row = self._tenant(tenant)
        version = tenant_row.primary_version
        kek = self._kek(tenant, version)
        key_id = os.urandom(16).hex()
        wrapped = self._backend(kek.kms).wrap(
            kek.key_ref, AESGCM.generate_key(bit_length=256), self._wrap_context(tenant, key_id)
        )
        with self.instance.db.session() as session:
            session.add(
                DataKeyRow(
                    key_id=key_id,
                    tenant=tenant,
                    subject_ref=subject_ref,
                    purpose=purpose,
                    generation=version,
                    kek_version=version,
                    wrapped_key=wrapped,
                    encryptions_reserved=reserved,
                    retired=purpose == PURPOSE_DERIVE,
                    created_at=self.instance.clock.now(),
                )
            )
        return key_id

    def _load(self, key_id: bytes) -> _DataKey:
        """Fetch, unwrap (one KMS call) and cache a data key."""
        with self.instance.db.session() as session:
            row = session.get(DataKeyRow, key_id.hex())
            kek = None if row is None else session.get(KekRow, (row.tenant, row.kek_version))
        if row is None:
            raise CryptoError(
                "record was encrypted under a data key this keyring does not know",
                hint="The record was altered, or comes from another installation.",
            )
        if row.wrapped_key is None or kek is None:
            raise ErasedError(erased_message("this record", row.erased_at))
        raw = self._backend(kek.kms).unwrap(
            kek.key_ref, row.wrapped_key, self._wrap_context(row.tenant, row.key_id)
        )
        key = _DataKey(
            key_id=key_id,
            tenant=row.tenant,
            subject_ref=row.subject_ref,
            generation=row.generation,
            raw=raw,
            aead=AESGCM(raw),
            header=header_bytes(key_id, row.generation),
            expires_at=time.monotonic() + self._ttl,
        )
        with self._lock:
            while len(self._cache) >= self._max_keys:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key_id] = key
        return key

    def _derive_root(self, tenant: str) -> _DataKey:
        with self.instance.db.session() as session:
            key_id = session.scalar(
                select(DataKeyRow.key_id).where(
                    DataKeyRow.tenant == tenant, DataKeyRow.purpose == PURPOSE_DERIVE
                )
            )
        if key_id is None:
            self._tenant(tenant)  # raises NotFound / Erased with the right message
            raise CryptoError(
                f"tenant {tenant!r} has no derivation key",
                hint="The key store is incomplete; restore it from backup.",
            )
        try:
            return self._load(bytes.fromhex(key_id))
        except ErasedError:
            self._tenant(tenant)
            raise

    # ------------------------------------------------------------------ lookups

    @staticmethod
    def _wrap_context(tenant: str, key_id: str) -> dict[str, str]:
        return {"assay:tenant": tenant, "assay:data-key": key_id}

    def _backend(self, name: str) -> KMS:
        backend = self._backends.get(name)
        if backend is None:
            factory = BACKENDS.get(name)
            if factory is None:
                raise CryptoError(
                    f"keys were made by KMS backend {name!r}, unknown here",
                    hint="Install the Assay version that supports it.",
                )
            backend = self._backends.setdefault(name, factory(self.instance))
        return backend

    def _tenant(self, tenant: str, *, allow_erased: bool = False) -> TenantRow:
        with self.instance.db.session() as session:
            row = session.get(TenantRow, tenant)
        if row is None:
            raise NotFoundError(
                f"tenant {tenant!r} does not exist",
                hint=f"Create it with `assay tenants create {tenant}`.",
            )
        if row.erased_at is not None and not allow_erased:
            raise ErasedError(erased_message(f"tenant {tenant!r}", row.erased_at))
        return row

    def _kek(self, tenant: str, version: int) -> KekRow:
        with self.instance.db.session() as session:
            kek = session.get(KekRow, (tenant, version))
        if kek is None or kek.state == "destroyed":
            raise CryptoError(
                f"key version {version} of tenant {tenant!r} is not available",
                hint="Run `assay keys list --tenant " + tenant + "`.",
            )
        return kek

    def forget(self, tenant: str, key_ids: list[str] | None = None) -> None:
        """Drop cached keys of ``tenant`` (all, or only ``key_ids``)."""
        with self._lock:
            for key_id in [k for k, v in self._cache.items() if v.tenant == tenant]:
                if key_ids is None or key_id.hex() in key_ids:
                    del self._cache[key_id]
            for slot in [s for s, a in self._active.items() if s[0] == tenant]:
                if key_ids is None or self._active[slot].key.key_id.hex() in key_ids:
                    del self._active[slot]
            if key_ids is None:
                for name in [d for d in self._derived if d[0] == tenant]:
                    del self._derived[name]

    def _record(self, type_: str, actor: str, tenant: str | None, **fields: Any) -> int:
        return _audit.record(self.audit, type_, actor=actor, tenant=tenant, **fields)

    # Management operations live in assay.crypto.management (keeps this module small).

    def rotate(self, tenant: str, actor: str) -> int:
        """Make a new key version primary for ``tenant``; returns the new version."""
        from assay.crypto import management

        return management.rotate(self, tenant, actor)

    def rewrap(
        self, tenant: str | None, actor: str, progress: Callable[[int, int], None] | None = None
    ) -> dict[str, int]:
        """Re-wrap data keys under each tenant's primary version; returns counts per tenant."""
        from assay.crypto import management

        return management.rewrap(self, tenant, actor, progress)

    def list_keys(self, tenant: str | None = None) -> list[KeyVersionInfo]:
        from assay.crypto import management

        return management.list_keys(self, tenant)

    def erase_subject(self, tenant: str, subject: str, actor: str) -> dict[str, int]:
        """Destroy every data key of one data subject; returns counts."""
        from assay.crypto import management

        return management.erase_subject(self, tenant, subject, actor)
