"""Export the log as a C2SP tiled-log directory an auditor can verify offline.

Layout: ``checkpoint`` (latest), ``checkpoint.<size>`` (every checkpoint ever
signed), ``tile/...`` full and partial tiles and entry bundles for every
checkpointed size, ``vkey``, and optionally ``proofs/<index>.tlog-proof``.
The directory is written next to its destination and renamed into place, so a
failed export leaves nothing half-written.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assay.errors import UsageError
from assay.ledger.log import AuditLog, SignedCheckpoint
from assay.ledger.proof import format_tlog_proof
from assay.ledger.tiles import TILE_WIDTH, encode_bundle, entries_path, tile_path, tiles_for_size

__all__ = ["ExportReport", "export_log"]

Progress = Callable[[int], None]


@dataclass
class ExportReport:
    directory: Path
    entries: int
    checkpoints: int
    files: int


def _write(root: Path, relative: str, data: bytes) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _tile_files(log: AuditLog, checkpoints: list[SignedCheckpoint]) -> dict[str, tuple[int, int, int]]:
    wanted: dict[str, tuple[int, int, int]] = {}
    for checkpoint in checkpoints:
        for level, index, width in tiles_for_size(checkpoint.size):
            wanted[tile_path(level, index, width)] = (level, index, width)
    return wanted


def _bundle_files(checkpoints: list[SignedCheckpoint]) -> dict[str, tuple[int, int]]:
    wanted: dict[str, tuple[int, int]] = {}
    for checkpoint in checkpoints:
        for _, index, width in (t for t in tiles_for_size(checkpoint.size) if t[0] == 0):
            wanted[entries_path(index, width)] = (index, width)
    return wanted


def export_log(
    log: AuditLog,
    destination: Path,
    *,
    proofs: bool = False,
    latest_only: bool = False,
    progress: Progress | None = None,
) -> ExportReport:
    """Write the tiled log of every checkpointed size (or only the latest) to ``destination``.

    ``destination`` must be new or empty. With ``latest_only`` the export holds one
    checkpoint and its tiles: smaller, but without the history of checkpoints whose
    consistency an auditor can check.
    """
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise UsageError(f"{destination} exists and is not an empty directory", hint="Choose a new directory.")
    checkpoints = log.checkpoints()
    if not checkpoints:
        checkpoints = [log.checkpoint(new=True)]
    if latest_only:
        checkpoints = checkpoints[-1:]
    staging = destination.with_name(destination.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        files = _write_all(log, staging, checkpoints, proofs, progress)
        if destination.exists():
            destination.rmdir()
        staging.rename(destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportReport(destination, checkpoints[-1].size, len(checkpoints), files)


def _write_all(
    log: AuditLog, root: Path, checkpoints: list[SignedCheckpoint], proofs: bool, progress: Progress | None
) -> int:
    files = 0
    for checkpoint in checkpoints:
        _write(root, f"checkpoint.{checkpoint.size}", checkpoint.note.encode())
        files += 1
    _write(root, "checkpoint", checkpoints[-1].note.encode())
    _write(root, "vkey", (log.vkey + "\n").encode())
    files += 2
    for relative, (level, index, width) in sorted(_tile_files(log, checkpoints).items()):
        _write(root, relative, log.tile(level, index, width))
        files += 1
    by_index: dict[int, list[tuple[str, int]]] = {}
    for relative, (index, width) in _bundle_files(checkpoints).items():
        by_index.setdefault(index, []).append((relative, width))
    for index in sorted(by_index):
        widest = max(width for _, width in by_index[index])
        leaves = log.entry_leaves(index * TILE_WIDTH, index * TILE_WIDTH + widest)
        for relative, width in by_index[index]:
            _write(root, relative, encode_bundle(leaves[:width]))
            files += 1
        if progress is not None:
            progress(widest)
    if proofs:
        files += _write_proofs(log, root, checkpoints[-1])
    return files


def _write_proofs(log: AuditLog, root: Path, checkpoint: SignedCheckpoint) -> int:
    for index in range(checkpoint.size):
        proof = log.inclusion_proof(index, checkpoint.size)
        _write(root, f"proofs/{index}.tlog-proof", format_tlog_proof(index, proof, checkpoint.note).encode())
    return checkpoint.size
