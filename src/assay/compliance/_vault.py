"""Encryption of evidence at rest through the crypto keyring.

Evidence belongs to the company, not to a customer tenant, so it is sealed
under the keyring's reserved tenant ``assay-compliance`` (created on first
use, with its key-encryption key in the configured KMS). Each record is an
envelope bound to its id, so ciphertexts cannot be swapped between records;
rotating, re-wrapping or crypto-shredding that tenant applies to evidence too.
"""

from __future__ import annotations

from assay.crypto import Keyring
from assay.crypto.management import provision_tenant
from assay.crypto.models import TenantRow
from assay.errors import ErasedError
from assay.instance import Instance

__all__ = ["EVIDENCE_TENANT", "open_evidence", "seal_evidence"]

EVIDENCE_TENANT = "assay-compliance"
_KIND = "evidence"
_RETENTION_DAYS = 3650


def _ensure_tenant(instance: Instance, keyring: Keyring, actor: str) -> None:
    with instance.db.session() as session:
        row = session.get(TenantRow, EVIDENCE_TENANT)
        erased = row.erased_at if row is not None else None
    if row is None:
        provision_tenant(keyring, EVIDENCE_TENANT, actor, _RETENTION_DAYS)
    elif erased is not None:
        raise ErasedError(
            f"the evidence key ({EVIDENCE_TENANT}) was erased on {erased.date().isoformat()}",
            hint="Evidence cannot be stored under an erased key; restore the instance from backup.",
        )


def seal_evidence(instance: Instance, record_id: str, plaintext: bytes, actor: str) -> bytes:
    keyring = Keyring.shared(instance)
    _ensure_tenant(instance, keyring, actor)
    return keyring.encrypt(EVIDENCE_TENANT, _KIND, record_id, plaintext)


def open_evidence(instance: Instance, record_id: str, blob: bytes) -> bytes:
    return Keyring.shared(instance).decrypt(EVIDENCE_TENANT, _KIND, record_id, blob)
