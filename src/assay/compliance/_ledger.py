"""The compliance engine's one link to the audit ledger.

The ledger package is imported lazily so the library, checks and assessment
work (reporting the ledger as absent) in an installation without it.
"""

from __future__ import annotations

import getpass
import hashlib
import importlib
import os
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import Any

from sqlalchemy import inspect, text

from assay.compliance._timeutil import aware
from assay.errors import LedgerError
from assay.instance import Instance

__all__ = ["LedgerReport", "append_event", "cli_actor", "ledger_module", "verify_stored_ledger"]


def cli_actor() -> str:
    """``cli:<os user>``: the ledger actor for commands run from a shell."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = f"uid{os.getuid()}"
    return f"cli:{user}"


def ledger_module() -> ModuleType | None:
    try:
        return importlib.import_module("assay.ledger")
    except ModuleNotFoundError as exc:
        if exc.name in ("assay.ledger", "assay"):
            return None
        raise


@dataclass
class LedgerReport:
    ok: bool
    size: int
    unanchored: int
    checkpoint_time: datetime | None
    problem: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


def _has_ledger_tables(instance: Instance) -> bool:
    return "ledger_entries" in set(inspect(instance.db.engine).get_table_names())


def verify_stored_ledger(instance: Instance) -> LedgerReport:
    """Check the stored log against its newest signed checkpoint.

    Every leaf is re-hashed (in SQL on PostgreSQL), the indexes must be
    contiguous, the Merkle root of the checkpointed prefix must equal the root
    in the checkpoint, and the checkpoint signature must verify with this
    instance's ledger key. (``assay ledger verify`` additionally re-checks every
    stored column and tile; this is the fast path a continuous check can afford.)
    """
    with instance.db.engine.connect() as conn:
        count, top = conn.execute(text("SELECT COUNT(*), MAX(idx) FROM ledger_entries")).one()
        latest = conn.execute(
            text("SELECT size, created_at, note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1")
        ).first()
    size = int(count or 0)
    evidence: dict[str, Any] = {"entries": size, "method": "leaf hashes, contiguity, root and signature"}
    if size and int(top) + 1 != size:
        return LedgerReport(False, size, 0, None, f"entries have gaps (max index {top})", evidence)
    if latest is None:
        return LedgerReport(True, size, size, None, evidence=evidence)
    checkpoint_size, created = int(latest[0]), aware(latest[1])
    evidence["checkpoint_size"] = checkpoint_size
    if checkpoint_size > size:
        return LedgerReport(False, size, 0, created, "the checkpoint covers entries that are missing", evidence)
    problem = _cryptographic_problem(instance, str(latest[2]), checkpoint_size, evidence)
    return LedgerReport(problem == "", size, size - checkpoint_size, created, problem, evidence)


def _checkpoint_root(instance: Instance, note: str, size: int) -> bytes:
    from assay.ledger.log import ledger_origin
    from assay.ledger.note import NoteError, Signer, open_checkpoint
    from assay.secrets import LEDGER_KEY, read_secret

    origin = ledger_origin(instance.instance_id)
    verifier = Signer(origin, read_secret(instance.data_dir, LEDGER_KEY)).verifier()
    try:
        checkpoint = open_checkpoint(note, verifier, origin)
    except NoteError as exc:
        raise LedgerError(f"checkpoint {size}: {exc}") from exc
    if checkpoint.size != size:
        raise LedgerError(f"checkpoint row {size} holds a note for size {checkpoint.size}")
    return checkpoint.root


def _bad_leaves_sql(instance: Instance) -> int | None:
    """Leaves whose stored hash is wrong, counted by PostgreSQL itself (None on SQLite)."""
    if not instance.db.is_postgres:
        return None
    sql = "SELECT COUNT(*) FROM ledger_entries WHERE sha256('\\x00'::bytea || leaf) <> leaf_hash"
    with instance.db.engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar() or 0)


def _leaf_hashes(instance: Instance, size: int, *, check_leaves: bool) -> tuple[list[bytes], int]:
    """Stored leaf hashes of ``[0, size)`` in order, and how many leaves do not match theirs.

    Reads the table in storage order through the DB-API cursor in large batches
    and places each hash by its index (the caller has checked the indexes are
    contiguous): at a million entries, index lookups for ORDER BY and per-row
    result objects would dominate the check.
    """
    column = "idx, leaf, leaf_hash" if check_leaves else "idx, leaf_hash"
    mark = "?" if instance.db.is_sqlite else "%s"
    sql = f"SELECT {column} FROM ledger_entries WHERE idx < {mark}"  # noqa: S608 - constant
    hashes: list[bytes] = [b""] * size
    bad = 0
    sha = hashlib.sha256
    raw = instance.db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(sql, (size,))
        while rows := cursor.fetchmany(50_000):
            if check_leaves:
                for idx, leaf, stored in rows:
                    if sha(b"\x00" + leaf).digest() != stored:
                        bad += 1
                    hashes[idx] = stored
            else:
                for idx, stored in rows:
                    hashes[idx] = stored
        cursor.close()
    finally:
        raw.close()
    return hashes, bad


def _merkle_root(hashes: list[bytes]) -> bytes:
    """RFC 6962 tree hash of leaf hashes, bottom-up (same result as the recursive definition)."""
    if not hashes:
        return hashlib.sha256(b"").digest()
    sha = hashlib.sha256
    level = hashes
    while len(level) > 1:
        pairs = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            pairs.append(level[-1])
        level = pairs
    return level[0]


def _cryptographic_problem(instance: Instance, note: str, checkpoint_size: int, evidence: dict[str, Any]) -> str:
    if ledger_module() is None:
        evidence["signature_verified"] = False
        return ""
    try:
        root = _checkpoint_root(instance, note, checkpoint_size)
    except LedgerError as exc:
        return exc.message
    evidence["signature_verified"] = True
    bad = _bad_leaves_sql(instance)
    hashes, python_bad = _leaf_hashes(instance, checkpoint_size, check_leaves=bad is None)
    bad = python_bad if bad is None else bad
    if bad:
        return f"{bad} entries do not match their stored leaf hash"
    if _merkle_root(hashes) != root:
        return f"the entries do not produce the root signed in checkpoint {checkpoint_size}"
    evidence["root"] = root.hex()
    return ""


def append_event(
    instance: Instance,
    event_type: str,
    *,
    actor: str,
    object_ids: dict[str, str],
    attributes: dict[str, Any],
) -> int | None:
    """Append one event; None when this installation has no ledger."""
    module = ledger_module()
    if module is None or not _has_ledger_tables(instance):
        return None
    try:
        event = module.Event(
            type=event_type, actor=actor, tenant=None, object_ids=object_ids,
            attributes={k: v for k, v in attributes.items() if v is not None},
        )
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise LedgerError(
            f"the ledger refused the {event_type} event: {exc}",
            hint="Nothing was recorded; check the actor and attributes.",
        ) from exc
    return int(module.AuditLog.shared(instance).append(event))
