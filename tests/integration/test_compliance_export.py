"""The auditor package: contents, offline verification, and tamper detection for every file."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assay.clock import FixedClock
from assay.compliance import add_evidence, export_package, load_library, parse_period
from assay.compliance.package_verify import verify_files, verify_package
from assay.errors import UsageError, VerificationError
from assay.instance import Instance

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _package(instance: Instance, tmp_path: Path) -> Path:
    instance.clock = FixedClock(NOW)
    library = load_library()
    for n, control in enumerate(["AS-RSK-01", "AS-GOV-01", "AS-ACC-04"]):
        doc = tmp_path / f"doc{n}.txt"
        doc.write_text(f"evidence {n} for {control}\n")
        add_evidence(instance, library, str(doc), control_id=control, effective=NOW - timedelta(days=40 + n), owner="Compliance Lead")
    add_evidence(instance, library, "https://example.com/trust", control_id="AS-COM-02", effective=NOW - timedelta(days=5), owner="Legal")
    out = tmp_path / "audit.zip"
    export_package(instance, library, parse_period("2026-01-01..2026-11-19"), out)
    return out


def _files(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {i.filename: archive.read(i) for i in archive.infolist() if not i.is_dir()}


def test_package_contents_and_offline_verification(instance: Instance, tmp_path: Path) -> None:
    out = _package(instance, tmp_path)
    files = _files(out)
    library = load_library()
    for name in ("README.md", "manifest.json", "ledger-export.json", "assessment/assessment.json",
                 "assessment/assessment.md", "assessment/assessment.html", "evidence/index.json",
                 "ledger/checkpoint", "ledger/vkey"):
        assert name in files, name
    for kind in ("catalog", "profile", "component-definition", "ssp", "assessment-results", "poam"):
        assert f"oscal/{kind}.json" in files
    assert all(f"populations/{c}.json" in files and f"samples/{c}.json" in files for c in library.controls)
    assessment = json.loads(files["assessment/assessment.json"])
    assert len(assessment["criteria"]) == 61 and assessment["summary"]["kind"] == "type2"
    evidence = json.loads(files["evidence/index.json"])
    assert len(evidence) == 4
    proofs = [n for n in files if n.startswith("ledger/proofs/") and n.endswith(".tlog-proof")]
    assert len(proofs) == 5  # one per evidence record and one for the export event
    assert "python -m assay.ledger.verify" in files["README.md"].decode()
    lines = verify_package(out)
    assert any("4 evidence files match" in line for line in lines)
    # The ledger part verifies with the standalone verifier an auditor runs.
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(out) as archive:
        archive.extractall(unpacked)
    vkey = (unpacked / "ledger" / "vkey").read_text().strip()
    done = subprocess.run([sys.executable, "-m", "assay.ledger.verify", str(unpacked / "ledger"), "--vkey", vkey],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK")


def test_every_changed_byte_is_caught(instance: Instance, tmp_path: Path) -> None:
    if not instance.db.is_sqlite:
        pytest.skip("one engine is enough for the byte-flipping sweep")
    files = _files(_package(instance, tmp_path))
    verify_files(files)
    vkey = files["ledger/vkey"].decode().strip()
    for name, data in sorted(files.items()):
        position = len(data) // 2
        changed = dict(files)
        changed[name] = data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]
        with pytest.raises(VerificationError):
            verify_files(changed, vkey=vkey)
    for name in ("manifest.json", "evidence/index.json", "ledger/checkpoint"):
        missing = {k: v for k, v in files.items() if k != name}
        with pytest.raises(VerificationError):
            verify_files(missing, vkey=vkey)
    extra = {**files, "evidence/extra.txt": b"slipped in"}
    with pytest.raises(VerificationError, match="not listed"):
        verify_files(extra, vkey=vkey)


def test_a_different_key_is_refused(instance: Instance, tmp_path: Path) -> None:
    from assay.ledger.note import Signer

    files = _files(_package(instance, tmp_path))
    other = Signer("assay.ledger/someone-else", b"\x07" * 32).vkey
    with pytest.raises(VerificationError):
        verify_files(files, vkey=other)


def test_export_refuses_a_bad_name_and_leaves_nothing(instance: Instance, tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        export_package(instance, load_library(), parse_period("2026-01-01..2026-01-31"), tmp_path / "x.tar")
    assert not list(tmp_path.glob("x.tar*"))
