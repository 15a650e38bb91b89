"""The small interface every KMS backend implements.

A backend holds key-encryption keys (KEKs) and wraps or unwraps data keys with
them. Adding Vault Transit or GCP KMS means one new module with a class like
:class:`~assay.crypto.kms.local.LocalKMS` and one line in ``BACKENDS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

__all__ = ["KMS"]


@runtime_checkable
class KMS(Protocol):
    """A key management service holding one KEK per tenant and version."""

    name: str

    def create_key(self, tenant: str, version: int) -> str:
        """Create a new KEK and return the reference to store (never the key itself)."""
        ...

    def wrap(self, key_ref: str, plaintext_key: bytes, context: Mapping[str, str]) -> bytes:
        """Encrypt a data key under the KEK; ``context`` is bound as associated data."""
        ...

    def unwrap(self, key_ref: str, wrapped_key: bytes, context: Mapping[str, str]) -> bytes:
        """Decrypt a data key; raise :class:`~assay.errors.CryptoError` if anything differs."""
        ...

    def destroy_key(self, key_ref: str) -> None:
        """Destroy (or schedule destruction of) the KEK so nothing it wrapped can be unwrapped."""
        ...
