"""Keys the dashboard derives from ``session.key`` and what it does with them.

One 32-byte secret in the data directory; HKDF-SHA256 with a distinct ``info`` per use gives
independent keys, so a cookie-signing key can never decrypt a TOTP secret and vice versa.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from assay.errors import CryptoError
from assay.secrets import SESSION_KEY, read_secret

__all__ = ["WebKeys", "hash_token"]

_SEAL_VERSION = b"\x01"
_NONCE_BYTES = 12


def _derive(root: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(root)


def hash_token(token: str) -> str:
    """SHA-256 of a high-entropy random token (setup links, session ids): enough at rest."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class WebKeys:
    """The derived keys: cookie signing, sealing of secrets at rest, e-mail lookup."""

    cookie: bytes
    seal: bytes
    lookup: bytes

    @classmethod
    def from_root(cls, root: bytes) -> WebKeys:
        return cls(
            cookie=_derive(root, b"assay web cookie v1"),
            seal=_derive(root, b"assay web seal v1"),
            lookup=_derive(root, b"assay web email lookup v1"),
        )

    @classmethod
    def load(cls, data_dir: Path) -> WebKeys:
        return cls.from_root(read_secret(data_dir, SESSION_KEY))

    def sign(self, value: str) -> str:
        mac = hmac.new(self.cookie, value.encode(), hashlib.sha256).hexdigest()
        return f"{value}.{mac}"

    def unsign(self, signed: str) -> str | None:
        value, _, mac = signed.rpartition(".")
        expected = hmac.new(self.cookie, value.encode(), hashlib.sha256).hexdigest()
        if not value or not hmac.compare_digest(mac, expected):
            return None
        return value

    def mac(self, purpose: str, value: str) -> str:
        """A keyed tag binding ``value`` to ``purpose`` (CSRF tokens)."""
        message = f"{purpose}\x00{value}".encode()
        return hmac.new(self.cookie, message, hashlib.sha256).hexdigest()

    def email_lookup(self, email: str) -> str:
        normal = email.strip().lower()
        return hmac.new(self.lookup, normal.encode(), hashlib.sha256).hexdigest()

    def seal_text(self, plaintext: str, context: str) -> bytes:
        """AES-256-GCM; ``context`` (a row id and field) is bound as associated data."""
        nonce = os.urandom(_NONCE_BYTES)
        body = AESGCM(self.seal).encrypt(nonce, plaintext.encode(), context.encode())
        return _SEAL_VERSION + nonce + body

    def open_text(self, sealed: bytes, context: str) -> str:
        if sealed[:1] != _SEAL_VERSION:
            raise CryptoError(
                "a sealed dashboard secret has an unknown format",
                hint="The database row was not written by this version of Assay.",
            )
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return AESGCM(self.seal).decrypt(nonce, body, context.encode()).decode()
        except InvalidTag as exc:
            raise CryptoError(
                "a sealed dashboard secret could not be decrypted",
                hint="session.key in the data directory is not the one it was sealed with; "
                "restore it from backup.",
            ) from exc
