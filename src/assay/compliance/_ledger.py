"""The compliance engine's one link to the audit ledger.

The ledger package is imported lazily so the library, checks and assessment
work (reporting the ledger as absent) in an installation without it.
"""

from __future__ import annotations

import getpass
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
    """Check the stored log: no gaps, checkpoint signed over the recomputed root."""
    with instance.db.engine.connect() as conn:
        count, top = conn.execute(text("SELECT COUNT(*), MAX(idx) FROM ledger_entries")).one()
        latest = conn.execute(
            text("SELECT size, created_at FROM ledger_checkpoints ORDER BY size DESC LIMIT 1")
        ).first()
    size = int(count or 0)
    evidence: dict[str, Any] = {"entries": size}
    if size and int(top) + 1 != size:
        return LedgerReport(False, size, 0, None, f"entries have gaps (max index {top})", evidence)
    if latest is None:
        return LedgerReport(True, size, size, None, evidence=evidence)
    checkpoint_size, created = int(latest[0]), aware(latest[1])
    evidence["checkpoint_size"] = checkpoint_size
    if checkpoint_size > size:
        return LedgerReport(
            False, size, 0, created, "the checkpoint covers entries that are missing", evidence
        )
    problem = _cryptographic_problem(instance, checkpoint_size, evidence)
    return LedgerReport(
        problem == "", size, size - checkpoint_size, created, problem, evidence
    )


def _cryptographic_problem(instance: Instance, checkpoint_size: int, evidence: dict[str, Any]) -> str:
    """Replay every entry into the tree and check each signed checkpoint's root."""
    if ledger_module() is None:
        evidence["signature_verified"] = False
        return ""
    from assay.ledger.check import verify_database
    from assay.ledger.log import ledger_origin
    from assay.ledger.note import Signer
    from assay.secrets import LEDGER_KEY, read_secret

    origin = ledger_origin(instance.instance_id)
    vkey = Signer(origin, read_secret(instance.data_dir, LEDGER_KEY)).vkey
    try:
        report = verify_database(instance.db, vkey, origin)
    except LedgerError as exc:
        return exc.message
    evidence["signature_verified"] = True
    evidence["root"] = report.root.hex()
    evidence["verified_checkpoints"] = report.checkpoints
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
    log = module.AuditLog.open(instance)
    try:
        return int(log.append(event))
    finally:
        closer = getattr(log, "close", None)
        if closer is not None:
            closer()
