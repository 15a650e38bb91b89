"""The hot modules setup.py compiles (built by ``make dev``) run compiled and stay current.

The PII scanner's modules (ADR 0038) and the ledger's hashing loops (ADR 0015), compiled with
mypyc, and the ledger verifier's row reader, written in C (ADR 0015, addendum 3).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

import pytest

COMPILED = [
    "assay.pii._patterns",
    "assay.pii._classify",
    "assay.pii._validate",
    "assay.pii.detector",
    "assay.pii._starts",
    "assay.ledger._rows",
    "assay.ledger._entry_reader",
]
#: Extensions built from C rather than from a Python module of the same name.
C_SOURCES = {"assay.ledger._entry_reader": "_entry_reader.c"}
# Read at import: the tests' isolated environment removes every ASSAY_* variable.
IN_CI = os.environ.get("CI") == "true"
PURE_PYTHON_BUILD = os.environ.get("ASSAY_PURE_PYTHON") == "1"


def _is_compiled(module: str) -> bool:
    spec = importlib.util.find_spec(module)
    return spec is not None and spec.origin is not None and not spec.origin.endswith(".py")


@pytest.mark.parametrize("module", COMPILED)
def test_ci_runs_the_compiled_modules(module: str) -> None:
    if not IN_CI or PURE_PYTHON_BUILD:
        pytest.skip("only CI requires the compiled build (ASSAY_PURE_PYTHON=1 opts out)")
    assert _is_compiled(module), (
        f"{module} is not compiled: run `make dev` (needs gcc, the Python headers, libsqlite3-dev and libssl-dev)"
    )


@pytest.mark.parametrize("module", COMPILED)
def test_compiled_modules_are_not_older_than_their_source(module: str) -> None:
    """An extension shadows its module: one built before the last edit would run old code."""
    package, name = module.rsplit(".", 1)
    package_dir = Path(importlib.import_module(package).__path__[0])
    source = package_dir / C_SOURCES.get(module, f"{name}.py")
    assert source.is_file(), f"{source} is missing: the source must stay next to its extension"
    for built in package_dir.glob(f"{name}.*.so"):
        assert built.stat().st_mtime >= source.stat().st_mtime, f"{built.name} is older than {source.name}: run `make dev`"
