"""The envelope format: layout, parsing and the associated-data framing (pure)."""

from __future__ import annotations

import pytest

from assay.crypto.envelope import (
    HEADER_SIZE,
    MIN_SIZE,
    Envelope,
    associated_data,
    header_bytes,
)
from assay.errors import CryptoError

KEY_ID = bytes(range(16))


def test_header_layout() -> None:
    header = header_bytes(KEY_ID, 7)
    assert header == b"AE\x01\x01\x00\x00\x00\x07" + KEY_ID
    assert len(header) == HEADER_SIZE == 24


def test_parse_splits_fields_and_round_trips() -> None:
    raw = header_bytes(KEY_ID, 3) + b"N" * 12 + b"ciphertext" + b"T" * 16
    env = Envelope.parse(raw)
    assert (env.version, env.algorithm, env.key_version, env.key_id) == (1, 1, 3, KEY_ID)
    assert (env.nonce, env.ciphertext, env.tag) == (b"N" * 12, b"ciphertext", b"T" * 16)
    assert env.to_bytes() == raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "shorter than"),
        (b"AE\x01\x01" + b"\x00" * (MIN_SIZE - 5), "shorter than"),
        (b"XX\x01\x01" + b"\x00" * MIN_SIZE, "bad magic"),
        (b"AE\x02\x01" + b"\x00" * MIN_SIZE, "unsupported envelope format 2"),
        (b"AE\x01\x09" + b"\x00" * MIN_SIZE, "algorithm 9"),
    ],
)
def test_parse_rejects_what_is_not_an_envelope(raw: bytes, message: str) -> None:
    with pytest.raises(CryptoError, match=message):
        Envelope.parse(raw)


@pytest.mark.parametrize(("key_id", "version"), [(b"short", 1), (KEY_ID, 0), (KEY_ID, 2**32)])
def test_header_rejects_bad_inputs(key_id: bytes, version: int) -> None:
    with pytest.raises(ValueError):
        header_bytes(key_id, version)


def test_associated_data_frames_each_field() -> None:
    header = header_bytes(KEY_ID, 1)
    assert associated_data(header, "ab", "c", "d") != associated_data(header, "a", "bc", "d")
    assert associated_data(header, "t", "k", "r") == header + b"\x00\x00\x00\x01t\x00\x00\x00\x01kr"


@pytest.mark.parametrize("field", ["tenant", "kind", "record"])
def test_associated_data_refuses_empty_fields(field: str) -> None:
    values = {"tenant": "t", "kind": "k", "record": "r"} | {field: ""}
    with pytest.raises(CryptoError, match="must not be empty"):
        associated_data(header_bytes(KEY_ID, 1), values["tenant"], values["kind"], values["record"])
