"""``local`` KMS: KEKs wrapped by a master key from the data directory or the environment.

The master key is ``<data_dir>/master.key`` (mode 0600, refused otherwise) or
``ASSAY_MASTER_KEY`` (32 bytes as base64 or hex). Each KEK is 32 random bytes
stored wrapped by the master key in ``crypto_local_keks``; destroying a KEK
deletes its row (with SQLite ``secure_delete`` so the page is zeroed).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, text

from assay.crypto.models import LocalKekRow
from assay.errors import ConfigError, CryptoError
from assay.instance import Instance
from assay.secrets import MASTER_KEY, read_secret

__all__ = ["LocalKMS", "load_master_key"]

_NONCE = 12


def load_master_key(instance: Instance) -> bytes:
    """The 32-byte master key: ``ASSAY_MASTER_KEY`` if set, else ``master.key`` (0600 only)."""
    configured = instance.settings.master_key
    if configured is not None:
        return _decode_master(configured.get_secret_value())
    raw = read_secret(instance.data_dir, MASTER_KEY)
    if len(raw) != 32:
        raise ConfigError(
            f"{instance.data_dir / MASTER_KEY} holds {len(raw)} bytes; a master key is 32",
            hint="Restore the file from backup; never edit it by hand.",
        )
    return raw


def _decode_master(value: str) -> bytes:
    value = value.strip()
    decoded: bytes | None = None
    try:
        decoded = (
            bytes.fromhex(value) if len(value) == 64 else base64.b64decode(value, validate=True)
        )
    except (ValueError, binascii.Error):
        decoded = None
    if decoded is None or len(decoded) != 32:
        raise ConfigError(
            "ASSAY_MASTER_KEY must be 32 bytes encoded as base64 (44 characters) or hex (64)",
            hint="Generate one with `python -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())'`.",
        )
    return decoded


def _context_bytes(key_ref: str, context: Mapping[str, str]) -> bytes:
    parts = [key_ref, *(f"{k}={context[k]}" for k in sorted(context))]
    return "\x1f".join(parts).encode("utf-8")


class LocalKMS:
    """KEKs kept in the database, wrapped by the instance master key."""

    name = "local"

    def __init__(self, instance: Instance) -> None:
        self._db = instance.db
        self._clock = instance.clock
        self._master = AESGCM(load_master_key(instance))
        self._keks: dict[str, AESGCM] = {}
        self._lock = threading.Lock()

    def create_key(self, tenant: str, version: int) -> str:
        key_ref = f"local:{secrets.token_hex(16)}"
        kek = AESGCM.generate_key(bit_length=256)
        nonce = secrets.token_bytes(_NONCE)
        wrapped = nonce + self._master.encrypt(nonce, kek, key_ref.encode())
        with self._db.session() as session:
            session.add(LocalKekRow(key_ref=key_ref, wrapped=wrapped, created_at=self._clock.now()))
        return key_ref

    def wrap(self, key_ref: str, plaintext_key: bytes, context: Mapping[str, str]) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._kek(key_ref).encrypt(
            nonce, plaintext_key, _context_bytes(key_ref, context)
        )

    def unwrap(self, key_ref: str, wrapped_key: bytes, context: Mapping[str, str]) -> bytes:
        try:
            return self._kek(key_ref).decrypt(
                wrapped_key[:_NONCE], wrapped_key[_NONCE:], _context_bytes(key_ref, context)
            )
        except InvalidTag as exc:
            raise CryptoError(
                f"data key wrapped under {key_ref} failed to unwrap (altered or wrong context)",
                hint="The key store was altered; restore it from backup.",
            ) from exc

    def destroy_key(self, key_ref: str) -> None:
        with self._lock:
            self._keks.pop(key_ref, None)
        with self._db.session() as session:
            if self._db.is_sqlite:
                session.execute(text("PRAGMA secure_delete=ON"))
            session.execute(delete(LocalKekRow).where(LocalKekRow.key_ref == key_ref))

    def _kek(self, key_ref: str) -> AESGCM:
        with self._lock:
            cached = self._keks.get(key_ref)
        if cached is not None:
            return cached
        with self._db.session() as session:
            row = session.get(LocalKekRow, key_ref)
            wrapped = None if row is None else row.wrapped
        if wrapped is None:
            raise CryptoError(
                f"key-encryption key {key_ref} does not exist in the local KMS",
                hint="It was destroyed (tenant erased) or the database was replaced.",
            )
        try:
            kek = AESGCM(self._master.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], key_ref.encode()))
        except InvalidTag as exc:
            raise CryptoError(
                f"key-encryption key {key_ref} does not open with this master key",
                hint="Use the master.key (or ASSAY_MASTER_KEY) this database was created with.",
            ) from exc
        with self._lock:
            self._keks[key_ref] = kek
        return kek
