"""Encryption of evidence at rest (AES-256-GCM, key derived from the instance master key).

Each record is sealed with a fresh nonce and its id as associated data, so a
ciphertext cannot be swapped between records unnoticed.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from assay.errors import CryptoError
from assay.instance import Instance
from assay.secrets import MASTER_KEY, read_secret

__all__ = ["open_evidence", "seal_evidence"]

_VERSION = b"\x01"
_NONCE = 12
_INFO = b"assay/compliance/evidence/v1"


def _key(instance: Instance) -> bytes:
    master = read_secret(instance.data_dir, MASTER_KEY)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(master)


def seal_evidence(instance: Instance, record_id: str, plaintext: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(_key(instance)).encrypt(nonce, plaintext, record_id.encode())
    return _VERSION + nonce + sealed


def open_evidence(instance: Instance, record_id: str, blob: bytes) -> bytes:
    if not blob.startswith(_VERSION) or len(blob) < 1 + _NONCE + 16:
        raise CryptoError(f"evidence {record_id} is not a sealed record", hint="Restore it from backup.")
    nonce, sealed = blob[1 : 1 + _NONCE], blob[1 + _NONCE :]
    try:
        return AESGCM(_key(instance)).decrypt(nonce, sealed, record_id.encode())
    except InvalidTag as exc:
        raise CryptoError(
            f"evidence {record_id} does not decrypt: wrong master key or altered record",
            hint="Check that master.key belongs to this data directory.",
        ) from exc
