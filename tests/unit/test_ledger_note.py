"""Signed notes: the spec's example, key ids, unknown signatures ignored, bad notes refused."""

from __future__ import annotations

import pytest

from assay.ledger.note import Checkpoint, NoteError, Signer, Verifier, open_checkpoint, open_note

SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def test_the_spec_example_verifies() -> None:
    text, signers = open_note(SPEC_NOTE, [Verifier.from_vkey(SPEC_VKEY)])
    assert text == "This is an example message.\n"
    assert [s.name for s in signers] == ["example.com/foo"]


def test_signer_round_trip_and_vkey_format() -> None:
    signer = Signer("assay.ledger/x", bytes(range(32)))
    name, key_id, key = signer.vkey.split("+", 2)
    assert name == "assay.ledger/x" and len(key_id) == 8 and key.startswith("A")
    note = signer.sign(Checkpoint("assay.ledger/x", 3, b"\x01" * 32).text)
    assert open_checkpoint(note, Verifier.from_vkey(signer.vkey)).size == 3


def test_unknown_signatures_are_ignored() -> None:
    ours, other = Signer("log.example/a", bytes(32)), Signer("witness.example/b", bytes([1]) * 32)
    note = ours.sign("hello\n")
    extra = other.sign("hello\n").split("\n\n", 1)[1]
    open_note(note + extra, [ours.verifier()])


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ("hello\n", "blank line"),
        ("hello\n\n", "no signature lines"),
        ("hello\n\nnot a signature\n", "em dash"),
        ("hel\x01lo\n\n\u2014 a AAAAAAA=\n", "control characters"),
        ("hello\n\n\u2014 log.example/a AAAA\n", "too short"),
        ("hello\n\n\u2014 log.example/a !!!!\n", "not base64"),
    ],
)
def test_malformed_notes_are_refused(note: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        open_note(note, [Signer("log.example/a", bytes(32)).verifier()])


def test_a_known_key_with_a_bad_signature_fails_and_no_trusted_key_fails() -> None:
    signer = Signer("log.example/a", bytes(32))
    note = signer.sign("hello\n").replace("hello", "hullo")
    with pytest.raises(NoteError, match="does not verify"):
        open_note(note, [signer.verifier()])
    with pytest.raises(NoteError, match="no signature by a trusted key"):
        open_note(signer.sign("hello\n"), [Signer("log.example/b", bytes(32)).verifier()])


@pytest.mark.parametrize(
    ("vkey", "message"),
    [
        ("nokey", "three parts"),
        ("a+zz+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "malformed"),
        ("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "does not match"),
        ("example.com/foo+530d903a+AgkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "Ed25519"),
        ("has space+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "key name"),
    ],
)
def test_bad_vkeys_are_refused(vkey: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        Verifier.from_vkey(vkey)


def test_checkpoint_origin_must_match() -> None:
    signer = Signer("log.example/a", bytes(32))
    note = signer.sign(Checkpoint("log.example/other", 1, b"\x00" * 32).text)
    with pytest.raises(NoteError, match="origin"):
        open_checkpoint(note, signer.verifier())
