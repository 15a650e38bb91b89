"""``c2sp.org/tlog-proof@v1`` documents: an entry index, its inclusion proof, a checkpoint.

Pure: standard library plus the other pure ledger modules.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from assay.ledger.merkle import verify_inclusion
from assay.ledger.note import Checkpoint, NoteError, Verifier, open_checkpoint, strict_b64decode

__all__ = ["TLOG_PROOF_HEADER", "TlogProof", "format_tlog_proof", "parse_tlog_proof", "verify_tlog_proof"]

TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"


@dataclass(frozen=True)
class TlogProof:
    index: int
    proof: tuple[bytes, ...]
    checkpoint_note: str
    extra: bytes | None = None


def format_tlog_proof(index: int, proof: Sequence[bytes], checkpoint_note: str, extra: bytes | None = None) -> str:
    lines = [TLOG_PROOF_HEADER]
    if extra is not None:
        lines.append("extra " + base64.b64encode(extra).decode())
    lines.append(f"index {index}")
    lines.extend(base64.b64encode(item).decode() for item in proof)
    return "\n".join(lines) + "\n\n" + checkpoint_note


def parse_tlog_proof(text: str) -> TlogProof:
    head, sep, note = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or lines[0] != TLOG_PROOF_HEADER:
        raise NoteError(f"not a tlog proof: the first line must be {TLOG_PROOF_HEADER}")
    extra = None
    position = 1
    if len(lines) > position and lines[position].startswith("extra "):
        extra = strict_b64decode(lines[position][6:])
        position += 1
    if len(lines) <= position or not lines[position].startswith("index "):
        raise NoteError("the tlog proof has no index line")
    index_text = lines[position][6:]
    if not index_text.isdigit() or (len(index_text) > 1 and index_text[0] == "0"):
        raise NoteError(f"tlog proof index {index_text!r} is not a decimal")
    hashes = tuple(strict_b64decode(line) for line in lines[position + 1 :])
    return TlogProof(int(index_text), hashes, note, extra)


def verify_tlog_proof(text: str, leaf_hash: bytes, verifier: Verifier, origin: str | None = None) -> Checkpoint:
    """Check the checkpoint signature and the inclusion of ``leaf_hash``; return the checkpoint."""
    parsed = parse_tlog_proof(text)
    checkpoint = open_checkpoint(parsed.checkpoint_note, verifier, origin)
    verify_inclusion(leaf_hash, parsed.index, checkpoint.size, parsed.proof, checkpoint.root)
    return checkpoint
