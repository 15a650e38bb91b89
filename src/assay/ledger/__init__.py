"""Tamper-evident audit ledger: an RFC 6962 Merkle log with C2SP signed checkpoints.

The pure modules (``merkle``, ``note``, ``tiles``, ``verify``) need only the
standard library and ``cryptography``; this package imports the storage-backed
parts lazily so ``python -m assay.ledger.verify`` stays that small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assay.ledger.events import Event
    from assay.ledger.log import LEDGER_INDEX, AuditLog, SignedCheckpoint
    from assay.ledger.models import LedgerCheckpoint, LedgerEntry, LedgerTile

__all__ = ["LEDGER_INDEX", "AuditLog", "Event", "LedgerCheckpoint", "LedgerEntry", "LedgerTile", "SignedCheckpoint"]

_LAZY = {
    "AuditLog": "assay.ledger.log",
    "LEDGER_INDEX": "assay.ledger.log",
    "SignedCheckpoint": "assay.ledger.log",
    "Event": "assay.ledger.events",
    "LedgerEntry": "assay.ledger.models",
    "LedgerTile": "assay.ledger.models",
    "LedgerCheckpoint": "assay.ledger.models",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'assay.ledger' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
