"""Offline check of an auditor package: manifest, ledger tiles and proofs, hash links.

Uses only the standard library, ``cryptography`` and the pure ledger modules,
so it runs on an auditor's machine without a database. Any changed byte is
caught: files listed in the manifest by their SHA-256, the manifest by the
ledger entry that records its hash, and the ledger material by its signed
checkpoint, tiles and proofs.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from assay.errors import VerificationError

__all__ = ["verify_files", "verify_package"]

_LEDGER = "ledger/"
_EXPORT_RECORD = "ledger-export.json"


def _fail(place: str, what: str) -> VerificationError:
    return VerificationError(f"{place}: {what}", hint="Treat the package as altered; ask for a new export.")


def _read_zip(path: Path) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(path) as archive:
            files = {}
            for info in archive.infolist():
                name = info.filename
                if info.is_dir():
                    continue
                pure = PurePosixPath(name)
                if pure.is_absolute() or ".." in pure.parts:
                    raise _fail(name, "unsafe path in the archive")
                files[name] = archive.read(info)
            return files
    except (zipfile.BadZipFile, OSError) as exc:
        raise _fail(str(path), f"is not a readable zip: {exc}") from exc


def _check_manifest(files: dict[str, bytes]) -> dict[str, Any]:
    if "manifest.json" not in files:
        raise _fail("manifest.json", "is missing")
    try:
        manifest: dict[str, Any] = json.loads(files["manifest.json"])
        listed: dict[str, str] = manifest["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise _fail("manifest.json", "is not a valid manifest") from exc
    for name, expected in sorted(listed.items()):
        if name not in files:
            raise _fail(name, "is listed in the manifest but missing")
        if hashlib.sha256(files[name]).hexdigest() != expected:
            raise _fail(name, "does not match its SHA-256 in the manifest")
    for name in files:
        if name not in ("manifest.json", _EXPORT_RECORD) and name not in listed and not name.startswith(_LEDGER):
            raise _fail(name, "is not listed in the manifest")
    return manifest


def _leaf(root: Path, index: int, size: int) -> dict[str, Any]:
    tiles = importlib.import_module("assay.ledger.tiles")
    bundle = index // tiles.TILE_WIDTH
    width = min(tiles.TILE_WIDTH, size - bundle * tiles.TILE_WIDTH)
    data = (root / tiles.entries_path(bundle, width)).read_bytes()
    leaves = tiles.parse_bundle(data)
    leaf: dict[str, Any] = json.loads(leaves[index % tiles.TILE_WIDTH])
    return leaf


def _check_links(files: dict[str, bytes], root: Path, size: int) -> list[str]:
    from assay.compliance.export import export_record

    try:
        export = json.loads(files[_EXPORT_RECORD])
        export_index = int(export["index"])
    except (KeyError, ValueError, TypeError) as exc:
        raise _fail(_EXPORT_RECORD, "is missing or invalid") from exc
    if files[_EXPORT_RECORD] != export_record(export_index, size) or not 0 <= export_index < size:
        raise _fail(_EXPORT_RECORD, "does not name an entry of the exported ledger in canonical form")
    leaf = _leaf(root, export_index, size)
    manifest_sha = hashlib.sha256(files["manifest.json"]).hexdigest()
    if leaf.get("type") != "audit.exported" or leaf.get("attributes", {}).get("manifest_sha256") != manifest_sha:
        raise _fail("manifest.json", f"its SHA-256 is not the one recorded in ledger entry {export_index}")
    if f"ledger/proofs/{export_index}.tlog-proof" not in files:
        raise _fail(f"ledger/proofs/{export_index}.tlog-proof", "is missing")
    latest = files.get("ledger/checkpoint")
    if latest is None or latest != files.get(f"ledger/checkpoint.{size}"):
        raise _fail("ledger/checkpoint", f"is missing or is not the checkpoint of size {size}")
    lines = [f"manifest.json matches ledger entry {export_index}"]
    for record in json.loads(files["evidence/index.json"]):
        index = record.get("ledger_index")
        if index is None:
            lines.append(f"evidence {record['id']} has no ledger record (added before the ledger existed)")
            continue
        entry = _leaf(root, int(index), size)
        if entry.get("attributes", {}).get("sha256") != hashlib.sha256(files[record["file"]]).hexdigest():
            raise _fail(record["file"], f"does not match the SHA-256 in ledger entry {index}")
        if f"ledger/proofs/{index}.tlog-proof" not in files:
            raise _fail(f"ledger/proofs/{index}.tlog-proof", "is missing")
    lines.append(f"{len(json.loads(files['evidence/index.json']))} evidence files match their ledger records")
    return lines


def verify_package(path: Path, *, vkey: str | None = None) -> list[str]:
    """Verify the package; return report lines or raise :class:`VerificationError`."""
    return verify_files(_read_zip(path), vkey=vkey)


def verify_files(files: dict[str, bytes], *, vkey: str | None = None) -> list[str]:
    """Verify the unpacked files of a package (name -> bytes)."""
    manifest = _check_manifest(files)
    lines = [f"{len(manifest['files'])} files match manifest.json"]
    verify = importlib.import_module("assay.ledger.verify")
    included = files.get("ledger/vkey", b"").decode().strip()
    key = (vkey or included).strip()
    if not key:
        raise _fail("ledger/vkey", "is missing and no --vkey was given")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ledger"
        for name, data in files.items():
            if name.startswith(_LEDGER):
                target = root / name[len(_LEDGER):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        try:
            report = verify.verify_directory(root, key)
        except verify.Problem as problem:
            raise _fail(f"ledger/{problem.place}", problem.what) from problem
        lines.append(
            f"ledger verifies: {report.entries} entries, {report.checkpoints} checkpoints, {report.proofs} proofs"
        )
        lines += _check_links(files, root, report.entries)
    if vkey is None:
        lines.append("note: verified with the key inside the package; compare it with the one the company publishes")
    return lines
