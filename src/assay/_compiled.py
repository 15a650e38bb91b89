"""The modules the build compiles (``setup.py``) and whether this installation runs them compiled.

Each has a Python twin with the same results (the C row reader's twin is the Python reader in
``assay.ledger.check``), so a missing extension makes Assay slower, never different.
"""

from __future__ import annotations

import importlib.util
from typing import Final

__all__ = ["COMPILED_MODULES", "missing_compiled_modules"]

#: Module -> what runs slower without it (ADRs 0038, 0039; ADR 0015 addenda 2 and 3).
COMPILED_MODULES: Final = {
    "assay.pii._patterns": "PII detection",
    "assay.pii._classify": "PII detection",
    "assay.pii._validate": "PII detection",
    "assay.pii.detector": "PII detection",
    "assay.pii._starts": "PII detection",
    "assay.ledger._rows": "ledger verification and tile building",
    "assay.ledger._screen": "appending ledger events",
    "assay.ledger._entry_reader": "ledger verification on SQLite",
}


def is_compiled(module: str) -> bool:
    """True when ``module`` is loaded from a built extension rather than its Python source."""
    spec = importlib.util.find_spec(module)
    return spec is not None and spec.origin is not None and not spec.origin.endswith(".py")


def missing_compiled_modules() -> list[str]:
    """The compiled modules this installation lacks, in :data:`COMPILED_MODULES` order."""
    return [module for module in COMPILED_MODULES if not is_compiled(module)]
