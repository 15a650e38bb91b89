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
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from assay.crypto import _audit
from assay.crypto._audit import AuditSink
from assay.crypto._nonces import NonceSource
from assay.crypto.envelope import (
    Envelope,
    associated_data,
    header_bytes,
)
from assay.crypto.kms import BACKENDS, KMS, open_kms
from assay.crypto.models import DataKeyRow, KekRow, TenantRow
from assay.errors import CryptoError, ErasedError, NotFoundError, StoreError
from assay.instance import Instance

__all__ = ["DEFAULT_LEASE", "DEFAULT_NONCE_BUDGET", "KeyVersionInfo", "Keyring", "new_record_id"]

# Random 96-bit nonces: NIST SP 800-38D caps a key at 2^32 messages. We retire a
# data key after 2^24, keeping the nonce-collision chance below 2^-48 (ADR 0020).
DEFAULT_NONCE_BUDGET = 2**24
DEFAULT_LEASE = 2**16
_MAX_KINDS = 1024
_monotonic = time.monotonic
SWEEP_S = 1.0
_take_nonce = NonceSource(12).take  # NONCE_SIZE
PURPOSE_DATA = "data"
PURPOSE_DERIVE = "derive"


@contextmanager
def _store_errors(what: str) -> Iterator[None]:
    """Database failures on the key path become a :class:`StoreError` (fail closed)."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise StoreError(
            f"could not {what}: the database failed ({type(exc).__name__})",
            hint="Check the database with `assay doctor`; nothing was encrypted or returned.",
        ) from exc


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower()


_take_id_bits = NonceSource(16).take  # 128-bit record ids, one system call per 341
_B32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_B32_PAIRS = tuple(a + b for a in _B32_ALPHABET for b in _B32_ALPHABET)  # 10 bits -> 2 chars
_ID_SHIFTS = tuple(range(120, -1, -10))


def new_record_id() -> str:
    """128 random bits as 26 lower-case base32 characters.

    Base32 has no long runs of digits, so an id is never mistaken for a card
    number by the ledger's personal-data guard (hex ids sometimes are). The same
    text as ``_b32`` of the bits, built ten bits at a time: the gateway makes one
    per request, and the standard library's base32 is pure Python.
    """
    return _b32_128(_take_id_bits())


def _b32_128(raw: bytes) -> str:
    """``_b32(raw)`` for exactly 16 bytes."""
    bits = int.from_bytes(raw, "big") << 2  # RFC 4648 pads the last group with zero bits
    return "".join([_B32_PAIRS[(bits >> shift) & 0x3FF] for shift in _ID_SHIFTS])


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
    # kind -> associated data up to the record id (header, framed tenant and kind)
    prefixes: dict[str, bytes] = field(default_factory=dict)
    # Bound methods of ``aead``, bound once: saves two attribute lookups per call on the hot path.
    seal: Callable[[bytes, bytes, bytes], bytes] = field(init=False, repr=False)
    unseal: Callable[[bytes, bytes, bytes], bytes] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.seal = self.aead.encrypt
        self.unseal = self.aead.decrypt

    def prefix_for(self, kind: str) -> bytes:
        prefix = associated_data(self.header, self.tenant, kind, "-")[:-1]
        if len(self.prefixes) < _MAX_KINDS:
            self.prefixes[kind] = prefix
        return prefix


@dataclass(slots=True)
class _Active:
    """A data key in use for new encryptions, with a reserved share of its nonce budget."""

    key: _DataKey
    tickets: Iterator[int]  # one per encryption this process may still make with the key

    @classmethod
    def lease(cls, key: _DataKey, size: int) -> _Active:
        return cls(key=key, tickets=iter(range(size)))

    def take(self) -> bool:
        return next(self.tickets, None) is not None and _monotonic() < self.key.expires_at


class _Sweeper:
    """One daemon thread that drops expired cache entries of every live keyring.

    Expiry is enforced here rather than on each encrypt/decrypt, keeping the hot
    path free of clock reads; a key lives at most ``cache_ttl_s + SWEEP_S``.
    """

    def __init__(self) -> None:
        self._rings: weakref.WeakSet[Keyring] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, ring: Keyring) -> None:
        with self._lock:
            self._rings.add(ring)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="assay-key-sweeper", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(SWEEP_S)
            with self._lock:
                rings = list(self._rings)
            for ring in rings:
                ring.sweep()
            del rings


_SWEEPER = _Sweeper()


# A slot is the tenant name (tenant-wide key) or (tenant, subject_ref) (per-subject key).
Slot = str | tuple[str, str]


def slot_parts(slot: Slot) -> tuple[str, str | None]:
    return (slot, None) if isinstance(slot, str) else slot


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

    # Slots make the attribute reads on the hot path cheaper; __weakref__ lets the sweeper
    # hold keyrings without keeping them alive.
    __slots__ = (
        "__weakref__",
        "_active",
        "_backends",
        "_budget",
        "_cache",
        "_derived",
        "_lease",
        "_lock",
        "_max_keys",
        "_ttl",
        "audit",
        "instance",
        "kms",
    )

    def __init__(
        self,
        instance: Instance,
        audit: AuditSink,
        kms: KMS | None = None,
        *,
        cache_ttl_s: float = 60.0,
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
        self._active: dict[Slot, _Active] = {}
        self._derived: dict[tuple[str, str], tuple[bytes, float]] = {}
        self._lock = threading.RLock()
        _SWEEPER.add(self)

    @classmethod
    def open(cls, instance: Instance, audit: AuditSink, **options: Any) -> Keyring:
        """A keyring using the KMS named by ``instance.settings.kms``."""
        return cls(instance, audit, **options)

    @classmethod
    def shared(cls, instance: Instance) -> Keyring:
        """The process's one keyring of ``instance``, recording to the shared ledger.

        One keyring per process means one cache of unwrapped keys: a rotation or erasure done
        through the web pages is seen at once by the gateway of the same server.
        """
        from assay.ledger import AuditLog

        return instance.shared("assay.crypto.Keyring", lambda: cls.open(instance, AuditLog.shared(instance)))

    # ------------------------------------------------------------------ hot path

    def encrypt(
        self, tenant: str, kind: str, record_id: str, plaintext: bytes, subject: str | None = None
    ) -> bytes:
        """Seal ``plaintext`` for (tenant, kind, record_id); returns envelope bytes."""
        # Hot path: kept flat on purpose (each attribute lookup and call shows in the benchmark).
        slot: Slot = tenant if subject is None else (tenant, self.subject_ref(tenant, subject))
        active = self._active.get(slot)
        if active is None or next(active.tickets, None) is None:
            active = self._activate(slot)
        key = active.key
        nonce = _take_nonce()
        try:
            prefix = key.prefixes[kind]
        except KeyError:
            prefix = key.prefix_for(kind)
        if not record_id:  # decrypt needs no check: nothing is ever sealed under an empty id
            associated_data(key.header, tenant, kind, record_id)  # raises the clear error
        aad = prefix + record_id.encode()
        return key.header + nonce + key.seal(nonce, plaintext, aad)

    def decrypt(self, tenant: str, kind: str, record_id: str, envelope: bytes) -> bytes:
        """Open an envelope; :class:`ErasedError` if its key was shredded, else CryptoError."""
        # The cache is keyed by the whole 24-byte header, so a hit also proves the
        # version, algorithm and key version bytes are the ones this key writes.
        key = self._cache.get(envelope[:24])  # HEADER_SIZE
        if key is None or key.tenant != tenant:
            key = self._checked_key(tenant, envelope)
        try:
            prefix = key.prefixes[kind]
        except KeyError:
            prefix = key.prefix_for(kind)
        try:
            return key.unseal(envelope[24:36], envelope[36:], prefix + record_id.encode())
        except (InvalidTag, ValueError) as exc:  # ValueError: nonce cut short
            raise CryptoError(
                f"{kind} {record_id} of tenant {tenant} failed authentication",
                hint="The record was altered or moved from another row; restore it from backup.",
            ) from exc

    def sweep(self) -> int:
        """Drop cached keys (and active slots) whose time is up; returns how many."""
        now = _monotonic()
        with self._lock:
            stale = [h for h, k in self._cache.items() if k.expires_at <= now]
            for header in stale:
                del self._cache[header]
            for slot in [s for s, a in self._active.items() if a.key.expires_at <= now]:
                del self._active[slot]
            for name in [d for d, (_, until) in self._derived.items() if until <= now]:
                del self._derived[name]
        return len(stale)

    def _checked_key(self, tenant: str, envelope: bytes) -> _DataKey:
        """The slow path of ``decrypt``: parse, load if needed, and say exactly what is wrong."""
        parsed = Envelope.parse(envelope)
        key = self._cache.get(parsed.header)
        if key is None:
            key = self._load(parsed.key_id)
        if key.tenant != tenant:
            raise CryptoError(
                f"record was not encrypted for tenant {tenant!r}",
                hint="A record can only be read through the tenant it belongs to.",
            )
        if parsed.header != key.header:
            raise CryptoError(
                "envelope header does not match its data key (altered record)",
                hint="Treat the record as tampered with; restore it from backup.",
            )
        return key

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

    def _activate(self, slot: Slot) -> _Active:
        with self._lock, _store_errors("prepare an encryption key"):
            current = self._active.get(slot)
            if current is not None and current.take():
                return current
            active = self._renew(current) or self._adopt(slot) or self._create(slot)
            active.take()
            self._active.pop(slot, None)
            while len(self._active) >= self._max_keys:  # bounded like the key cache
                self._active.pop(next(iter(self._active)))
            self._active[slot] = active
            return active

    def _renew(self, current: _Active | None) -> _Active | None:
        if current is None or not self._reserve(current.key.key_id.hex()):
            return None
        key = current.key
        if key.expires_at < time.monotonic():
            key = self._load(key.key_id)
        return _Active.lease(key, self._lease)

    def _adopt(self, slot: Slot) -> _Active | None:
        """Reuse the newest data key of this slot that still has nonce budget."""
        tenant, subject_ref = slot_parts(slot)
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
        return _Active.lease(self._load(bytes.fromhex(candidate)), self._lease)

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

    def _create(self, slot: Slot) -> _Active:
        tenant, subject_ref = slot_parts(slot)
        row = self._new_data_key(tenant, subject_ref, PURPOSE_DATA, reserved=self._lease)
        return _Active.lease(self._load(bytes.fromhex(row)), self._lease)

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
        with _store_errors("load a data key"), self.instance.db.session() as session:
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
            self._cache[key.header] = key
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
            for header, key in list(self._cache.items()):
                if key.tenant == tenant and (key_ids is None or key.key_id.hex() in key_ids):
                    del self._cache[header]
            for slot in [s for s in self._active if slot_parts(s)[0] == tenant]:
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
