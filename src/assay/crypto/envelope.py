"""The versioned envelope format (pure: bytes in, bytes out).

Layout (all integers big-endian)::

    offset  size  field
    0       2     magic  b"AE"
    2       1     format version (1)
    3       1     algorithm (1 = AES-256-GCM, 96-bit random nonce, 128-bit tag)
    4       4     key version (the tenant key generation the data key was made under)
    8       16    key id (random id of the data key)
    24      12    nonce
    36      n     ciphertext
    36+n    16    tag

The associated data is the 24-byte header, then the tenant and the record kind
each prefixed with its 4-byte length, then the record id, which runs to the end
(GCM authenticates the total length of the associated data, so the last field
needs no prefix). An envelope copied to another row, kind or tenant fails to
decrypt, and so does any change to its header.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from assay.errors import CryptoError

__all__ = [
    "ALGORITHM_AES_256_GCM",
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "KEY_ID_SIZE",
    "MAGIC",
    "MIN_SIZE",
    "NONCE_SIZE",
    "TAG_SIZE",
    "Envelope",
    "associated_data",
    "header_bytes",
]

MAGIC = b"AE"
FORMAT_VERSION = 1
ALGORITHM_AES_256_GCM = 1
KEY_ID_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16
HEADER_SIZE = 8 + KEY_ID_SIZE
MIN_SIZE = HEADER_SIZE + NONCE_SIZE + TAG_SIZE
_FIXED = struct.Struct(">2sBBI")
_MAX_KEY_VERSION = 2**32 - 1


def header_bytes(key_id: bytes, key_version: int, algorithm: int = ALGORITHM_AES_256_GCM) -> bytes:
    """The 24 header bytes for one data key (computed once per key and cached)."""
    if len(key_id) != KEY_ID_SIZE:
        raise ValueError(f"key id must be {KEY_ID_SIZE} bytes, got {len(key_id)}")
    if not 0 < key_version <= _MAX_KEY_VERSION:
        raise ValueError(f"key version {key_version} is out of range")
    return _FIXED.pack(MAGIC, FORMAT_VERSION, algorithm, key_version) + key_id


def _field(value: str, name: str) -> bytes:
    if not value:
        raise CryptoError(
            f"the {name} of an encrypted record must not be empty",
            hint=f"Pass the {name} the record is stored under.",
        )
    raw = value.encode("utf-8")
    return len(raw).to_bytes(4, "big") + raw


def associated_data(header: bytes, tenant: str, kind: str, record_id: str) -> bytes:
    """Header, length-prefixed tenant and kind, then the record id (unambiguous framing)."""
    return (
        header
        + _field(tenant, "tenant")
        + _field(kind, "record kind")
        + _field(record_id, "record id")[4:]
    )


@dataclass(frozen=True, slots=True)
class Envelope:
    """A parsed envelope. ``parse`` checks the structure, not the authenticity."""

    version: int
    algorithm: int
    key_version: int
    key_id: bytes
    nonce: bytes
    ciphertext: bytes
    tag: bytes

    @property
    def header(self) -> bytes:
        return _FIXED.pack(MAGIC, self.version, self.algorithm, self.key_version) + self.key_id

    def to_bytes(self) -> bytes:
        return self.header + self.nonce + self.ciphertext + self.tag

    @classmethod
    def parse(cls, data: bytes) -> Envelope:
        """Split ``data`` into fields; raise :class:`CryptoError` if it is not an envelope."""
        if len(data) < MIN_SIZE:
            raise CryptoError(
                f"encrypted record is {len(data)} bytes, shorter than the {MIN_SIZE}-byte minimum",
                hint="The stored value is truncated or is not an Assay envelope.",
            )
        magic, version, algorithm, key_version = _FIXED.unpack_from(data)
        if magic != MAGIC:
            raise CryptoError(
                "stored value is not an Assay envelope (bad magic bytes)",
                hint="The record was altered or written by something else.",
            )
        if version != FORMAT_VERSION or algorithm != ALGORITHM_AES_256_GCM:
            raise CryptoError(
                f"unsupported envelope format {version} / algorithm {algorithm}",
                hint="Upgrade Assay, or treat the record as altered.",
            )
        return cls(
            version=version,
            algorithm=algorithm,
            key_version=key_version,
            key_id=data[8:HEADER_SIZE],
            nonce=data[HEADER_SIZE : HEADER_SIZE + NONCE_SIZE],
            ciphertext=data[HEADER_SIZE + NONCE_SIZE : -TAG_SIZE],
            tag=data[-TAG_SIZE:],
        )
