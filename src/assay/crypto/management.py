"""Key management: provisioning, rotation, re-wrapping and crypto-shredding.

Provisioning, rotation and erasure are ledger-first (ADR 0022): the event is durable
before the database changes, so no change exists without its record; if the change then
fails, a ``crypto.step_aborted`` event cites the index of the event it cancels. Shredding
overwrites wrapped keys with NULL under SQLite ``secure_delete`` (the old page bytes are
zeroed) and checkpoints the WAL.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import ColumnElement, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assay.crypto import _audit
from assay.crypto.keyring import (
    PURPOSE_DATA,
    PURPOSE_DERIVE,
    KeyVersionInfo,
    erased_message,
    slot_parts,
)
from assay.crypto.models import DataKeyRow, KekRow, TenantRow, TranscriptRow
from assay.errors import CryptoError, ErasedError, NotFoundError, UsageError

if TYPE_CHECKING:
    from assay.crypto.keyring import Keyring

__all__ = ["erase_subject", "erase_tenant", "list_keys", "provision_tenant", "rewrap", "rotate"]


def provision_tenant(keyring: Keyring, name: str, actor: str, retention_days: int) -> None:
    """Create the tenant row, its first KEK and its derivation key in one transaction."""
    _audit.preflight(actor, name)
    _refuse_taken_name(keyring, name)
    key_ref = keyring.kms.create_key(name, 1)
    events = [
        _audit.build(
            "tenant.created",
            actor=actor,
            tenant=name,
            object_ids={"tenant": name},
            attributes={"retention_days": retention_days, "kms": keyring.kms.name},
        ),
        _audit.build(
            "key.created",
            actor=actor,
            tenant=name,
            object_ids={"tenant": name, "key_version": "1"},
            attributes={"kms": keyring.kms.name},
        ),
    ]
    try:
        indices = _audit.record_all(keyring.audit, events)
    except Exception:
        keyring.kms.destroy_key(key_ref)
        raise
    try:
        _insert_tenant(keyring, name, actor, retention_days, key_ref)
    except BaseException as exc:
        keyring.kms.destroy_key(key_ref)
        _audit.record_aborted(keyring.audit, indices, actor=actor, tenant=name, cause=exc)
        if isinstance(exc, IntegrityError):  # created concurrently by someone else
            raise UsageError(
                f"tenant {name!r} already exists",
                hint="Choose another name; `assay tenants list` shows the taken ones.",
            ) from exc
        raise


def _refuse_taken_name(keyring: Keyring, name: str) -> None:
    with keyring.instance.db.session() as session:
        existing = session.get(TenantRow, name)
    if existing is None:
        return
    state = (
        f"was erased on {existing.erased_at.date().isoformat()}"
        if existing.erased_at
        else "already exists"
    )
    raise UsageError(
        f"tenant {name!r} {state}",
        hint="Choose another name; `assay tenants list` shows the taken ones.",
    )


def _insert_tenant(keyring: Keyring, name: str, actor: str, days: int, key_ref: str) -> None:
    now = keyring.instance.clock.now()
    key_id = os.urandom(16).hex()
    wrapped = keyring.kms.wrap(
        key_ref, AESGCM.generate_key(bit_length=256), keyring._wrap_context(name, key_id)
    )
    with keyring.instance.db.session() as session:
        session.add(
            TenantRow(
                name=name, created_at=now, created_by=actor, retention_days=days, primary_version=1
            )
        )
        session.flush()
        session.add(
            KekRow(
                tenant=name,
                version=1,
                kms=keyring.kms.name,
                key_ref=key_ref,
                state="primary",
                created_at=now,
            )
        )
        session.add(
            DataKeyRow(
                key_id=key_id,
                tenant=name,
                subject_ref=None,
                purpose=PURPOSE_DERIVE,
                generation=1,
                kek_version=1,
                wrapped_key=wrapped,
                encryptions_reserved=0,
                retired=True,
                created_at=now,
            )
        )


def rotate(keyring: Keyring, tenant: str, actor: str) -> int:
    """New KEK version becomes primary; current data keys retire (old data stays readable)."""
    _audit.preflight(actor, tenant)
    row = keyring._tenant(tenant)
    previous, version = row.primary_version, row.primary_version + 1
    key_ref = keyring.kms.create_key(tenant, version)
    try:
        index = keyring._record(
            "key.rotated",
            actor,
            tenant,
            object_ids={"tenant": tenant, "key_version": str(version)},
            attributes={
                "previous_version": previous,
                "data_keys_retired": _live_data_keys(keyring, tenant),
                "kms": keyring.kms.name,
            },
        )
    except Exception:
        keyring.kms.destroy_key(key_ref)
        raise
    try:
        _switch_primary(keyring, tenant, previous, key_ref)
    except BaseException as exc:
        keyring.kms.destroy_key(key_ref)
        _audit.record_aborted(keyring.audit, [index], actor=actor, tenant=tenant, cause=exc)
        if isinstance(exc, _RotationRacedError):
            raise CryptoError(
                f"tenant {tenant!r} changed while rotating (another rotation or erase)",
                hint="Run `assay keys list` and retry.",
            ) from exc
        raise
    _drop_active(keyring, tenant)
    return version


def _live_data_keys(keyring: Keyring, tenant: str) -> int:
    """Data keys a rotation retires (counted when the rotation is recorded)."""
    with keyring.instance.db.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(DataKeyRow)
                .where(
                    DataKeyRow.tenant == tenant,
                    DataKeyRow.purpose == PURPOSE_DATA,
                    DataKeyRow.retired.is_(False),
                )
            )
            or 0
        )


class _RotationRacedError(Exception):
    pass


def _switch_primary(keyring: Keyring, tenant: str, previous: int, key_ref: str) -> int:
    version = previous + 1
    now = keyring.instance.clock.now()
    with keyring.instance.db.session() as session:
        moved = session.execute(
            update(TenantRow)
            .where(
                TenantRow.name == tenant,
                TenantRow.primary_version == previous,
                TenantRow.erased_at.is_(None),
            )
            .values(primary_version=version)
        )
        if getattr(moved, "rowcount", 0) != 1:
            raise _RotationRacedError(tenant)
        session.execute(
            update(KekRow)
            .where(KekRow.tenant == tenant, KekRow.state == "primary")
            .values(state="active")
        )
        session.add(
            KekRow(
                tenant=tenant,
                version=version,
                kms=keyring.kms.name,
                key_ref=key_ref,
                state="primary",
                created_at=now,
            )
        )
        retired = session.execute(
            update(DataKeyRow)
            .where(
                DataKeyRow.tenant == tenant,
                DataKeyRow.purpose == PURPOSE_DATA,
                DataKeyRow.retired.is_(False),
            )
            .values(retired=True)
        )
        return int(getattr(retired, "rowcount", 0))


def _drop_active(keyring: Keyring, tenant: str) -> None:
    with keyring._lock:
        for slot in [s for s in keyring._active if slot_parts(s)[0] == tenant]:
            del keyring._active[slot]


def rewrap(
    keyring: Keyring,
    tenant: str | None,
    actor: str,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Re-wrap each stale data key under its tenant's primary KEK; ciphertext is untouched."""
    _audit.preflight(actor, tenant)
    tenants = [keyring._tenant(tenant).name] if tenant else _live_tenants(keyring)
    counts: dict[str, int] = {}
    for name in tenants:
        counts[name] = _rewrap_tenant(keyring, name, progress)
        keyring._record(
            "key.rewrapped",
            actor,
            name,
            object_ids={"tenant": name},
            attributes={
                "data_keys": counts[name],
                "key_version": keyring._tenant(name).primary_version,
            },
        )
    return counts


def _live_tenants(keyring: Keyring) -> list[str]:
    with keyring.instance.db.session() as session:
        return list(
            session.scalars(
                select(TenantRow.name).where(TenantRow.erased_at.is_(None)).order_by(TenantRow.name)
            )
        )


def _rewrap_tenant(
    keyring: Keyring, tenant: str, progress: Callable[[int, int], None] | None
) -> int:
    primary = keyring._tenant(tenant).primary_version
    target = keyring._kek(tenant, primary)
    with keyring.instance.db.session() as session:
        stale = list(
            session.scalars(
                select(DataKeyRow.key_id).where(
                    DataKeyRow.tenant == tenant,
                    DataKeyRow.kek_version != primary,
                    DataKeyRow.wrapped_key.is_not(None),
                )
            )
        )
    done = 0
    for key_id in stale:
        done += _rewrap_one(keyring, tenant, key_id, target)
        if progress is not None:
            progress(done, len(stale))
    _retire_unused_keks(keyring, tenant, primary)
    return done


def _rewrap_one(keyring: Keyring, tenant: str, key_id: str, target: KekRow) -> int:
    context = keyring._wrap_context(tenant, key_id)
    with keyring.instance.db.session() as session:
        row = session.get(DataKeyRow, key_id)
        if row is None or row.wrapped_key is None or row.kek_version == target.version:
            return 0
        source = session.get(KekRow, (tenant, row.kek_version))
        if source is None:
            raise CryptoError(
                f"data key {key_id} names a missing key version {row.kek_version}",
                hint="The key store is inconsistent; restore it from backup.",
            )
        raw = keyring._backend(source.kms).unwrap(source.key_ref, row.wrapped_key, context)
        wrapped = keyring._backend(target.kms).wrap(target.key_ref, raw, context)
        result = session.execute(
            update(DataKeyRow)
            .where(
                DataKeyRow.key_id == key_id,
                DataKeyRow.kek_version == row.kek_version,
                DataKeyRow.wrapped_key.is_not(None),
            )
            .values(wrapped_key=wrapped, kek_version=target.version)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0))


def _retire_unused_keks(keyring: Keyring, tenant: str, primary: int) -> None:
    with keyring.instance.db.session() as session:
        in_use = set(
            session.scalars(
                select(DataKeyRow.kek_version)
                .where(DataKeyRow.tenant == tenant, DataKeyRow.wrapped_key.is_not(None))
                .distinct()
            )
        )
        session.execute(
            update(KekRow)
            .where(
                KekRow.tenant == tenant,
                KekRow.state == "active",
                KekRow.version != primary,
                KekRow.version.not_in(in_use or {primary}),
            )
            .values(state="retired")
        )


def list_keys(keyring: Keyring, tenant: str | None) -> list[KeyVersionInfo]:
    if tenant is not None:
        keyring._tenant(tenant, allow_erased=True)
    with keyring.instance.db.session() as session:
        counts = {
            (t, v): n
            for t, v, n in session.execute(
                select(DataKeyRow.tenant, DataKeyRow.kek_version, func.count())
                .where(DataKeyRow.wrapped_key.is_not(None))
                .group_by(DataKeyRow.tenant, DataKeyRow.kek_version)
            )
        }
        query = select(KekRow).order_by(KekRow.tenant, KekRow.version)
        if tenant is not None:
            query = query.where(KekRow.tenant == tenant)
        rows = list(session.scalars(query))
    return [
        KeyVersionInfo(
            tenant=r.tenant,
            version=r.version,
            kms=r.kms,
            state=r.state,
            created_at=r.created_at,
            destroyed_at=r.destroyed_at,
            data_keys=int(counts.get((r.tenant, r.version), 0)),
        )
        for r in rows
    ]


def _shred(session: Session, keyring: Keyring, *conditions: ColumnElement[bool]) -> list[str]:
    """NULL the wrapped keys matching ``conditions``; returns the key ids shredded."""
    if keyring.instance.db.is_sqlite:
        session.execute(text("PRAGMA secure_delete=ON"))
    key_ids = list(
        session.scalars(
            select(DataKeyRow.key_id).where(DataKeyRow.wrapped_key.is_not(None), *conditions)
        )
    )
    if key_ids:
        session.execute(
            update(DataKeyRow)
            .where(DataKeyRow.key_id.in_(key_ids))
            .values(wrapped_key=None, erased_at=keyring.instance.clock.now())
            .execution_options(synchronize_session=False)
        )
    return key_ids


def _checkpoint(keyring: Keyring) -> None:
    """Push shredded key bytes out of the places that keep old versions.

    SQLite: fold the WAL into the (secure-deleted) database file and truncate it.
    PostgreSQL: VACUUM the key table so the dead tuple versions become free space.
    """
    db = keyring.instance.db
    with db.engine.connect() as conn:
        if db.is_sqlite:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        elif db.is_postgres:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM crypto_data_keys, crypto_keks, crypto_local_keks")
            )


def erase_tenant(keyring: Keyring, tenant: str, actor: str) -> dict[str, int]:
    """Crypto-shred a whole tenant: every data key and every KEK version is destroyed."""
    _audit.preflight(actor, tenant)
    row = keyring._tenant(tenant, allow_erased=True)
    if row.erased_at is not None:
        raise ErasedError(
            erased_message(f"tenant {tenant!r}", row.erased_at),
            hint="Nothing left to erase; the ledger holds the erasure record.",
        )
    counts = _erasure_counts(
        keyring, [DataKeyRow.tenant == tenant], [TranscriptRow.tenant == tenant]
    )
    counts["key_versions"] = _live_key_versions(keyring, tenant)
    index = keyring._record(
        "tenant.erased", actor, tenant, object_ids={"tenant": tenant}, attributes=dict(counts)
    )
    try:
        keks = _shred_tenant(keyring, tenant, actor)
    except BaseException as exc:
        _audit.record_aborted(keyring.audit, [index], actor=actor, tenant=tenant, cause=exc)
        raise
    keyring.forget(tenant)
    for kek in keks:
        keyring._backend(kek.kms).destroy_key(kek.key_ref)
    _checkpoint(keyring)
    return counts


def _shred_tenant(keyring: Keyring, tenant: str, actor: str) -> list[KekRow]:
    now = keyring.instance.clock.now()
    with keyring.instance.db.session() as session:
        _shred(session, keyring, DataKeyRow.tenant == tenant)
        keks = list(
            session.scalars(
                select(KekRow).where(KekRow.tenant == tenant, KekRow.state != "destroyed")
            )
        )
        for kek in keks:
            kek.state, kek.destroyed_at = "destroyed", now
        session.execute(
            update(TenantRow).where(TenantRow.name == tenant).values(erased_at=now, erased_by=actor)
        )
        session.expunge_all()
    return keks


def _erasure_counts(
    keyring: Keyring,
    keys_where: list[ColumnElement[bool]],
    transcripts_where: list[ColumnElement[bool]],
) -> dict[str, int]:
    """What an erasure will destroy, counted before it is recorded."""
    with keyring.instance.db.session() as session:
        data_keys = session.scalar(
            select(func.count())
            .select_from(DataKeyRow)
            .where(DataKeyRow.wrapped_key.is_not(None), *keys_where)
        )
        transcripts = session.scalar(
            select(func.count()).select_from(TranscriptRow).where(*transcripts_where)
        )
    return {"data_keys": int(data_keys or 0), "transcripts": int(transcripts or 0)}


def _live_key_versions(keyring: Keyring, tenant: str) -> int:
    with keyring.instance.db.session() as session:
        count = session.scalar(
            select(func.count())
            .select_from(KekRow)
            .where(KekRow.tenant == tenant, KekRow.state != "destroyed")
        )
    return int(count or 0)


def erase_subject(keyring: Keyring, tenant: str, subject: str, actor: str) -> dict[str, int]:
    """Crypto-shred one data subject: their data keys are destroyed, nothing else."""
    _audit.preflight(actor, tenant)
    ref = keyring.subject_ref(tenant, subject)
    keys_where = [DataKeyRow.tenant == tenant, DataKeyRow.subject_ref == ref]
    counts = _erasure_counts(
        keyring, keys_where, [TranscriptRow.tenant == tenant, TranscriptRow.subject_ref == ref]
    )
    if not counts["data_keys"]:
        raise NotFoundError(
            f"tenant {tenant!r} holds no keys for that subject",
            hint="Check the subject id; it may already have been erased.",
        )
    index = keyring._record(
        "subject.erased",
        actor,
        tenant,
        object_ids={"tenant": tenant, "subject_ref": ref},
        attributes=dict(counts),
    )
    try:
        with keyring.instance.db.session() as session:
            key_ids = _shred(session, keyring, *keys_where)
    except BaseException as exc:
        _audit.record_aborted(keyring.audit, [index], actor=actor, tenant=tenant, cause=exc)
        raise
    keyring.forget(tenant, key_ids)
    _checkpoint(keyring)
    return counts
