"""C2SP signed notes and tlog checkpoints with Ed25519 keys.

Pure: standard library plus ``cryptography``. Key ids are
``SHA-256(name || 0x0A || 0x01 || public key)[:4]``; verifier keys (vkeys) are
``<name>+<hex key id>+<base64(0x01 || public key)>``. Signatures by keys the
verifier does not know are ignored, as the spec requires; a known key whose
signature does not verify is an error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "Checkpoint",
    "NoteError",
    "Signer",
    "Verifier",
    "format_checkpoint",
    "open_checkpoint",
    "open_note",
    "parse_checkpoint",
    "strict_b64decode",
]

_ED25519 = 0x01
_DASH = "\u2014 "
_MAX_NOTE = 1 << 20
_MAX_SIGNATURES = 100  # as golang.org/x/mod/sumdb/note: bounds the work a hostile note can cause


class NoteError(ValueError):
    """A note, key or checkpoint is malformed or not signed as required."""


def strict_b64decode(text: str) -> bytes:
    """Standard base64 that must be in its one canonical form (no stray bits or padding)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"{text[:24]!r} is not base64") from exc
    if base64.b64encode(raw).decode() != text:
        raise NoteError(f"{text[:24]!r} is not canonical base64")
    return raw


def _key_id(name: str, public: bytes) -> int:
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([_ED25519]) + public).digest()
    return int.from_bytes(digest[:4], "big")


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")


class Signer:
    """An Ed25519 note signer from a 32-byte seed."""

    def __init__(self, name: str, seed: bytes) -> None:
        _check_name(name)
        if len(seed) != 32:
            raise NoteError(f"an Ed25519 seed is 32 bytes, got {len(seed)}")
        self.name = name
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = _key_id(name, self.public_key)

    @property
    def vkey(self) -> str:
        encoded = base64.b64encode(bytes([_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    def verifier(self) -> Verifier:
        return Verifier.from_vkey(self.vkey)

    def sign(self, text: str) -> str:
        """The signed note: ``text``, a blank line, one signature line."""
        _check_text(text)
        signature = self._key.sign(text.encode())
        blob = base64.b64encode(self.key_id.to_bytes(4, "big") + signature).decode()
        return f"{text}\n{_DASH}{self.name} {blob}\n"


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: int
    public_key: bytes

    @classmethod
    def from_vkey(cls, vkey: str) -> Verifier:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("a vkey has three parts separated by '+': name+keyid+base64key")
        name, hex_id, encoded = parts
        _check_name(name)
        try:
            key_id = int(hex_id, 16)
            material = strict_b64decode(encoded)
        except ValueError as exc:
            raise NoteError(f"vkey {vkey!r} has a malformed key id or key") from exc
        if len(hex_id) != 8 or len(material) != 33 or material[0] != _ED25519:
            raise NoteError("only Ed25519 vkeys (type 0x01, 32-byte key, 8-hex-digit id) are supported")
        public = material[1:]
        if _key_id(name, public) != key_id:
            raise NoteError(f"vkey {vkey!r}: the key id does not match the name and key")
        return cls(name, key_id, public)

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
        except InvalidSignature:
            return False
        return True


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("note text may not contain control characters other than newline")


def _split_note(note: str) -> tuple[str, list[str]]:
    if len(note) > _MAX_NOTE:
        raise NoteError("note is too large")
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("a signed note is text, a blank line and signature lines, ending in a newline")
    text, signatures = note[: cut + 1], note[cut + 2 :]
    _check_text(text)
    lines = signatures[:-1].split("\n") if signatures else []
    if not lines:
        raise NoteError("the note has no signature lines")
    if len(lines) > _MAX_SIGNATURES:
        raise NoteError(f"the note has more than {_MAX_SIGNATURES} signature lines")
    return text, lines


def open_note(note: str | bytes, verifiers: Sequence[Verifier]) -> tuple[str, list[Verifier]]:
    """Verify ``note``; return its text and the known keys that signed it.

    Raises :class:`NoteError` if it is malformed, if a known key's signature is
    invalid, or if no known key signed it.
    """
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("the note is not valid UTF-8") from exc
    text, lines = _split_note(note)
    signed: list[Verifier] = []
    for line in lines:
        if not line.startswith(_DASH):
            raise NoteError(f"signature line {line[:40]!r} does not start with an em dash")
        name, _, blob = line[len(_DASH) :].partition(" ")
        raw = strict_b64decode(blob)
        if len(raw) < 5:
            raise NoteError(f"signature by {name!r} is too short")
        key_id = int.from_bytes(raw[:4], "big")
        for verifier in verifiers:
            if verifier.name == name and verifier.key_id == key_id:
                if not verifier.verify(text.encode(), raw[4:]):
                    raise NoteError(f"the signature by {name} ({key_id:08x}) does not verify")
                signed.append(verifier)
    if not signed:
        raise NoteError("the note carries no signature by a trusted key")
    return text, signed


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return format_checkpoint(self)


def format_checkpoint(checkpoint: Checkpoint) -> str:
    root = base64.b64encode(checkpoint.root).decode()
    lines = [checkpoint.origin, str(checkpoint.size), root, *checkpoint.extensions]
    return "\n".join(lines) + "\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text (already verified)."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
        raise NoteError("a checkpoint has at least three non-empty lines: origin, size, root hash")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not size_text.isdigit() or (len(size_text) > 1 and size_text[0] == "0"):
        raise NoteError(f"checkpoint size {size_text!r} is not a decimal without leading zeros")
    root = strict_b64decode(root_text)
    if len(root) != 32:
        raise NoteError(f"checkpoint root hash is {len(root)} bytes, not 32")
    return Checkpoint(origin, int(size_text), root, tuple(lines[3:-1]))


def open_checkpoint(note: str | bytes, verifier: Verifier, origin: str | None = None) -> Checkpoint:
    """Verify a signed checkpoint with ``verifier`` and parse it."""
    text, _ = open_note(note, [verifier])
    checkpoint = parse_checkpoint(text)
    expected = origin if origin is not None else verifier.name
    if checkpoint.origin != expected:
        raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not the expected {expected!r}")
    return checkpoint
