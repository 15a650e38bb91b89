"""The PII scanner's hot modules run compiled (mypyc, built by ``make dev``) and stay current."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

import assay.pii

COMPILED = ["assay.pii._patterns", "assay.pii._classify", "assay.pii._validate", "assay.pii.detector", "assay.pii._starts"]
PACKAGE_DIR = Path(assay.pii.__path__[0])
# Read at import: the tests' isolated environment removes every ASSAY_* variable.
IN_CI = os.environ.get("CI") == "true"
PURE_PYTHON_BUILD = os.environ.get("ASSAY_PURE_PYTHON") == "1"


def _is_compiled(module: str) -> bool:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    return not spec.origin.endswith(".py")


@pytest.mark.parametrize("module", COMPILED)
def test_ci_runs_the_compiled_modules(module: str) -> None:
    if not IN_CI or PURE_PYTHON_BUILD:
        pytest.skip("only CI requires the compiled build (ASSAY_PURE_PYTHON=1 opts out)")
    assert _is_compiled(module), f"{module} is not compiled: run `make dev` (needs gcc and the Python headers)"


@pytest.mark.parametrize("module", COMPILED)
def test_compiled_modules_are_not_older_than_their_source(module: str) -> None:
    """An extension shadows its module: one built before the last edit would run old code."""
    name = module.rsplit(".", 1)[1]
    source = PACKAGE_DIR / f"{name}.py"
    for built in PACKAGE_DIR.glob(f"{name}.*.so"):
        assert built.stat().st_mtime >= source.stat().st_mtime, f"{built.name} is older than {source.name}: run `make dev`"
