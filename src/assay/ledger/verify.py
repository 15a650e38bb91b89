"""Offline verifier for an exported Assay (or any C2SP tiled) log.

Needs only the standard library and ``cryptography``::

    python -m assay.ledger.verify DIR --vkey VKEY

It checks every checkpoint signature, recomputes every tile from the entry
bundles, compares every file in the directory with what it must contain, checks
each checkpoint's root and the consistency between successive checkpoints, and
verifies any ``proofs/*.tlog-proof`` files. The first problem is reported with
the file and, where it applies, the entry index.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assay.ledger.merkle import (
    ProofError,
    consistency_proof,
    range_hash,
    verify_consistency,
)
from assay.ledger.note import Checkpoint, NoteError, Verifier, open_checkpoint
from assay.ledger.proof import parse_tlog_proof, verify_tlog_proof
from assay.ledger.tiles import (
    TILE_WIDTH,
    TileBuilder,
    TileCache,
    TileError,
    encode_bundle,
    entries_path,
    parse_bundle,
    parse_tile_path,
    split_hashes,
    tile_path,
    tiles_for_size,
)

__all__ = ["DirectoryReport", "Problem", "main", "verify_directory"]

_sha256 = hashlib.sha256


#: Top-level files that are not part of the log (licence notes of published test logs).
_INFORMATIONAL = frozenset({"vkey", "LICENSE", "README", "README.md"})


class Problem(Exception):  # noqa: N818 - reads naturally in the report
    """What is wrong and where: ``place`` is a file (and entry) name."""

    def __init__(self, place: str, what: str) -> None:
        super().__init__(f"{place}: {what}")
        self.place = place
        self.what = what


@dataclass
class DirectoryReport:
    entries: int = 0
    checkpoints: int = 0
    tiles: int = 0
    bundles: int = 0
    proofs: int = 0
    root: bytes = b""
    files: list[str] = field(default_factory=list)


def _read(root: Path, relative: str) -> bytes:
    path = root / relative
    if not path.is_file():
        raise Problem(relative, "missing")
    return path.read_bytes()


def _classify(root: Path) -> tuple[list[str], list[str], list[str]]:
    checkpoints, tiles, proofs = [], [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if relative == "checkpoint" or relative.startswith("checkpoint."):
            checkpoints.append(relative)
        elif relative.startswith("tile/"):
            tiles.append(relative)
        elif relative.startswith("proofs/") and relative.endswith(".tlog-proof"):
            proofs.append(relative)
        elif relative not in _INFORMATIONAL:
            raise Problem(relative, "unexpected file in a tiled log export")
    return checkpoints, tiles, proofs


def _open_checkpoints(root: Path, names: list[str], verifier: Verifier, origin: str | None) -> dict[int, Checkpoint]:
    by_size: dict[int, Checkpoint] = {}
    latest: Checkpoint | None = None
    for name in names:
        try:
            checkpoint = open_checkpoint(_read(root, name), verifier, origin)
        except NoteError as exc:
            raise Problem(name, str(exc)) from exc
        if name == "checkpoint":
            latest = checkpoint
            continue
        if name != f"checkpoint.{checkpoint.size}":
            raise Problem(name, f"holds the checkpoint for size {checkpoint.size}")
        by_size[checkpoint.size] = checkpoint
    if latest is not None:
        known = by_size.setdefault(latest.size, latest)
        if known != latest:
            raise Problem("checkpoint", f"differs from checkpoint.{latest.size}")
        if latest.size != max(by_size):
            raise Problem("checkpoint", f"is at size {latest.size}, older than checkpoint.{max(by_size)}")
    if not by_size:
        raise Problem("checkpoint", "missing")
    return by_size


def _load_leaves(root: Path, size: int) -> tuple[list[bytes], list[bytes]]:
    """Leaf hashes and bundle bytes of the widest bundle at each index."""
    hashes: list[bytes] = []
    bundles: list[bytes] = []
    for _, index, width in (t for t in tiles_for_size(size) if t[0] == 0):
        name = entries_path(index, width)
        data = _read(root, name)
        try:
            entries = parse_bundle(data)
        except TileError as exc:
            raise Problem(name, str(exc)) from exc
        if len(entries) != width:
            raise Problem(name, f"holds {len(entries)} entries, {width} expected")
        tile_name = tile_path(0, index, width)
        stored = split_hashes(_read(root, tile_name)) if (root / tile_name).is_file() else []
        digests = [_sha256(b"\x00" + entry).digest() for entry in entries]  # leaf_hash, inlined
        if stored and stored[: len(digests)] != digests[: len(stored)]:
            position = next(i for i, (got, want) in enumerate(zip(stored, digests, strict=False)) if got != want)
            raise Problem(
                f"{name} entry {index * TILE_WIDTH + position}",
                f"does not match its hash in {tile_name} (entry or tile altered)",
            )
        hashes += digests
        bundles.append(data)
    return hashes, bundles


def _build_tiles(hashes: list[bytes]) -> dict[tuple[int, int], bytes]:
    builder = TileBuilder()
    builder.extend(hashes)
    full, partial = builder.drain()
    return {(level, index): data for level, index, data in full + partial}


def _check_tile_file(root: Path, name: str, tiles: dict[tuple[int, int], bytes], bundles: list[bytes]) -> None:
    try:
        level, index, width = parse_tile_path(name)
    except TileError as exc:
        raise Problem(name, str(exc)) from exc
    data = _read(root, name)
    if level is None:
        expected_entries = parse_bundle(bundles[index])[:width] if index < len(bundles) else []
        if len(expected_entries) < width:
            raise Problem(name, "describes entries beyond the newest checkpoint")
        if data != encode_bundle(expected_entries):
            raise Problem(name, _first_entry_difference(data, expected_entries, index))
        return
    full = tiles.get((level, index), b"")
    if len(full) < width * 32:
        raise Problem(name, "describes hashes beyond the newest checkpoint")
    expected = full[: width * 32]
    if data != expected:
        raise Problem(name, _first_hash_difference(data, expected, level, index))


def _first_hash_difference(data: bytes, expected: bytes, level: int, index: int) -> str:
    if len(data) != len(expected):
        return f"is {len(data)} bytes, {len(expected)} expected"
    position = next(i for i in range(0, len(data), 32) if data[i : i + 32] != expected[i : i + 32]) // 32
    first_entry = (index * TILE_WIDTH + position) * TILE_WIDTH**level
    return f"hash {position} is wrong (it covers entries from index {first_entry})"


def _first_entry_difference(data: bytes, expected: list[bytes], index: int) -> str:
    try:
        found = parse_bundle(data)
    except TileError as exc:
        return str(exc)
    for position, (got, want) in enumerate(zip(found, expected, strict=False)):
        if got != want:
            return f"entry {index * TILE_WIDTH + position} differs from the newest bundle"
    return f"holds {len(found)} entries, {len(expected)} expected"


def _check_required(root: Path, sizes: Sequence[int]) -> None:
    for size in sizes:
        for level, index, width in tiles_for_size(size):
            for name in (tile_path(level, index, width), *([entries_path(index, width)] if level == 0 else [])):
                if not (root / name).is_file():
                    raise Problem(name, f"missing (needed by checkpoint.{size})")


def _check_roots(checkpoints: dict[int, Checkpoint], tiles: dict[tuple[int, int], bytes]) -> bytes:
    cache = TileCache(lambda level, index: tiles[(level, index)])
    previous: Checkpoint | None = None
    root = b""
    for size in sorted(checkpoints):
        checkpoint = checkpoints[size]
        root = range_hash(0, size, cache.node)
        if root != checkpoint.root:
            raise Problem(f"checkpoint.{size}", "the root hash does not match the entries")
        if previous is not None and previous.size > 0:
            try:
                proof = consistency_proof(previous.size, size, cache.node)
                verify_consistency(previous.size, size, previous.root, checkpoint.root, proof)
            except ProofError as exc:
                raise Problem(f"checkpoint.{size}", f"not consistent with checkpoint.{previous.size}: {exc}") from exc
        previous = checkpoint
    return root


def _check_proofs(root: Path, names: list[str], hashes: list[bytes], verifier: Verifier, origin: str | None) -> None:
    for name in names:
        try:
            text = _read(root, name).decode("utf-8")
            index = parse_tlog_proof(text).index
            if index >= len(hashes) or name != f"proofs/{index}.tlog-proof":
                raise Problem(name, f"is for entry {index}, which does not match its name or the log")
            verify_tlog_proof(text, hashes[index], verifier, origin)
        except (UnicodeDecodeError, NoteError, ProofError) as exc:
            raise Problem(name, str(exc)) from exc


_RECORD_TYPE = "ledger.checkpoint"
_RECORD_HEAD = b'{"actor":"system","attributes":{"checkpoint_size":'


def _check_recorded(checkpoints: dict[int, Checkpoint], bundles: list[bytes]) -> None:
    """Every checkpoint the log's ``ledger.checkpoint`` entries record must be in the export."""
    entries = (entry for data in bundles for entry in parse_bundle(data))
    for index, entry in enumerate(entries):
        if not entry.startswith(_RECORD_HEAD):
            continue
        try:
            record = json.loads(entry)
            attributes = record["attributes"]
            size, previous, previous_root = (
                attributes["checkpoint_size"], attributes["previous_size"], attributes["previous_root"]
            )
        except (ValueError, KeyError, TypeError):
            continue
        if record.get("type") != _RECORD_TYPE or not isinstance(size, int) or index > max(checkpoints):
            continue
        if size not in checkpoints:
            raise Problem(f"checkpoint.{size}", f"missing (entry {index} records that it was signed)")
        if isinstance(previous, int) and (
            previous not in checkpoints or checkpoints[previous].root.hex() != previous_root
        ):
            raise Problem(f"checkpoint.{previous}", f"missing or different from the one entry {index} records")


def verify_directory(
    root: Path, vkey: str, origin: str | None = None, *, all_checkpoints: bool = False
) -> DirectoryReport:
    """Verify an exported tiled log; raise :class:`Problem` naming the first fault.

    With ``all_checkpoints`` (an export of every checkpoint, not ``--latest-only``) every
    checkpoint recorded by a ``ledger.checkpoint`` entry must be present too (ADR 0014).
    """
    try:
        verifier = Verifier.from_vkey(vkey)
    except NoteError as exc:
        raise Problem("--vkey", str(exc)) from exc
    if not root.is_dir():
        raise Problem(str(root), "is not a directory")
    if (root / "vkey").is_file() and (root / "vkey").read_bytes() != (vkey.strip() + "\n").encode():
        raise Problem("vkey", "differs from the key you gave with --vkey")
    checkpoint_names, tile_names, proof_names = _classify(root)
    checkpoints = _open_checkpoints(root, checkpoint_names, verifier, origin)
    newest = max(checkpoints)
    _check_required(root, sorted(checkpoints))
    hashes, bundles = _load_leaves(root, newest)
    tiles = _build_tiles(hashes)
    for name in tile_names:
        _check_tile_file(root, name, tiles, bundles)
    report = DirectoryReport(entries=newest, checkpoints=len(checkpoints), proofs=len(proof_names))
    report.root = _check_roots(checkpoints, tiles)
    if all_checkpoints:
        _check_recorded(checkpoints, bundles)
    _check_proofs(root, proof_names, hashes, verifier, origin)
    report.bundles = sum(1 for n in tile_names if n.startswith("tile/entries/"))
    report.tiles = len(tile_names) - report.bundles
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m assay.ledger.verify",
        description="Verify an exported C2SP tiled log offline (checkpoints, tiles, entries, proofs).",
    )
    parser.add_argument("directory", type=Path, help="the exported directory")
    parser.add_argument("--vkey", required=True, help="the log's verifier key (name+keyid+key)")
    parser.add_argument("--origin", default=None, help="expected checkpoint origin (default: the key name)")
    parser.add_argument(
        "--all-checkpoints", action="store_true",
        help="the directory is a full export (not --latest-only): also require every checkpoint the log records",
    )
    args = parser.parse_args(argv)
    try:
        report = verify_directory(args.directory, args.vkey, args.origin, all_checkpoints=args.all_checkpoints)
    except Problem as problem:
        sys.stderr.write(f"FAIL {problem.place}: {problem.what}\n")
        return 1
    sys.stdout.write(
        f"OK {report.entries} entries, {report.checkpoints} checkpoints, {report.tiles} tiles, "
        f"{report.bundles} entry bundles, {report.proofs} proofs verified\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
