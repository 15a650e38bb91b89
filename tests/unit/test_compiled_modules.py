"""The hot modules setup.py compiles (built by ``make dev``) run compiled and stay current.

The PII scanner's modules (ADR 0038) and the ledger's hashing loops (ADR 0015), compiled with
mypyc, and the ledger verifier's row reader, written in C (ADR 0015, addendum 3).
"""

from __future__ import annotations

import ast
import importlib
import os
from pathlib import Path

import pytest

from assay import doctor
from assay._compiled import COMPILED_MODULES, is_compiled
from assay.config import Settings

COMPILED = list(COMPILED_MODULES)
#: Extensions built from C rather than from a Python module of the same name.
C_SOURCES = {"assay.ledger._entry_reader": "_entry_reader.c"}
# Read at import: the tests' isolated environment removes every ASSAY_* variable.
IN_CI = os.environ.get("CI") == "true"
PURE_PYTHON_BUILD = os.environ.get("ASSAY_PURE_PYTHON") == "1"


@pytest.mark.parametrize("module", COMPILED)
def test_ci_runs_the_compiled_modules(module: str) -> None:
    if not IN_CI or PURE_PYTHON_BUILD:
        pytest.skip("only CI requires the compiled build (ASSAY_PURE_PYTHON=1 opts out)")
    assert is_compiled(module), (
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


def _modules_setup_py_builds() -> set[str]:
    """The modules ``setup.py`` compiles: its ``COMPILED`` groups and its C extension."""
    tree = ast.parse((Path(__file__).parents[2] / "setup.py").read_text())
    built: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "COMPILED":
            groups = ast.literal_eval(node.value)
            built |= {path.removeprefix("src/").removesuffix(".py").replace("/", ".") for paths in groups.values() for path in paths}
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Extension":
            built.add(ast.literal_eval(node.args[0]))
    return built


def test_the_registry_names_what_setup_py_builds() -> None:
    """``assay doctor`` and these tests read ``assay._compiled``; it must match the build."""
    assert set(COMPILED_MODULES) == _modules_setup_py_builds()


def test_doctor_names_the_modules_running_as_python(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(doctor, "missing_compiled_modules", lambda: ["assay.ledger._entry_reader"])
    (finding,) = doctor._compiled(Settings(data_dir=tmp_path))
    assert finding.status == "warn"
    assert "assay.ledger._entry_reader" in finding.detail
    assert "ledger verification on SQLite" in finding.detail
    assert "libsqlite3-dev" in finding.hint
    monkeypatch.setattr(doctor, "missing_compiled_modules", list)
    (finding,) = doctor._compiled(Settings(data_dir=tmp_path))
    assert (finding.status, finding.detail) == ("ok", f"all {len(COMPILED_MODULES)} built")
