"""Conformance with transparency-dev/tessera's 15-entry tiled test log."""

from __future__ import annotations

import os
from pathlib import Path

from assay.instance import Instance
from assay.ledger.export import export_log
from assay.ledger.log import AuditLog
from assay.ledger.note import Signer, Verifier, open_checkpoint
from assay.ledger.verify import main as verify_main
from assay.ledger.verify import verify_directory

VECTOR = Path(__file__).resolve().parents[1] / "assets" / "ledger" / "tessera-log"
ORIGIN = "example.com/log/testdata"
VKEY = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"
ENTRIES = ["one", "two", "three", "four", "five", "six", "seven", "eit", "nain", "ten", "ileven", "twelf", "threeten", "fourten", "fivten"]


def _tile_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in (root / "tile").rglob("*") if p.is_file()}


def test_the_published_log_verifies_with_our_verifier() -> None:
    report = verify_directory(VECTOR, VKEY)
    assert (report.entries, report.checkpoints, report.tiles, report.bundles) == (15, 16, 15, 15)
    assert verify_main([str(VECTOR), "--vkey", VKEY]) == 0


def test_appending_the_same_entries_gives_byte_identical_tiles_and_roots(
    instance: Instance, tmp_path: Path
) -> None:
    signer = Signer(ORIGIN, os.urandom(32))  # the vector's private key is not published
    log = AuditLog(instance.db, signer, instance.clock, record_checkpoints=False)  # raw leaves only, like Tessera
    try:
        log.checkpoint(new=True)
        for entry in ENTRIES:
            log._append_raw([entry.encode()], instance.clock.now())
            log.checkpoint(new=True)
        export_log(log, tmp_path / "out")
    finally:
        log.close()
    ours = _tile_files(tmp_path / "out")
    assert ours == _tile_files(VECTOR)
    published = Verifier.from_vkey(VKEY)
    for size in range(16):
        theirs = open_checkpoint((VECTOR / f"checkpoint.{size}").read_bytes(), published)
        mine = open_checkpoint((tmp_path / "out" / f"checkpoint.{size}").read_bytes(), signer.verifier())
        assert (mine.origin, mine.size, mine.root) == (theirs.origin, theirs.size, theirs.root)
    assert verify_directory(tmp_path / "out", signer.vkey).entries == 15
