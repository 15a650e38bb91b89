"""An exported ledger verifies with Go's transparency-log packages, not only with Assay's verifier.

``tests/interop/tlogcheck`` is a small Go program over ``golang.org/x/mod/sumdb/note`` and
``golang.org/x/mod/sumdb/tlog`` (Debian: ``golang-go``, ``golang-golang-x-mod-dev``): it
checks every checkpoint's signature, the tiles against the latest root, every entry's
inclusion, each checkpoint's consistency with the latest and every tlog-proof file. Any
single altered file must make it fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.servers import missing

from assay.instance import Instance
from assay.ledger import AuditLog, Event
from assay.ledger.export import export_log

SOURCE = Path(__file__).resolve().parents[1] / "interop" / "tlogcheck"
GO_PACKAGES = Path("/usr/share/gocode")  # where Debian's golang-*-dev packages put Go sources


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'assay.db'}"


@pytest.fixture(scope="module")
def tlogcheck(tmp_path_factory: pytest.TempPathFactory) -> str:
    go = shutil.which("go")
    if go is None or not (GO_PACKAGES / "src/golang.org/x/mod/sumdb/tlog").is_dir():
        missing("the Go toolchain with golang.org/x/mod (golang-go, golang-golang-x-mod-dev)")
    out = tmp_path_factory.mktemp("go")
    env = {**os.environ, "GOPATH": str(GO_PACKAGES), "GO111MODULE": "off", "GOFLAGS": "",
           "GOCACHE": str(out / "cache"), "CGO_ENABLED": "0"}
    binary = out / "tlogcheck"
    subprocess.run([str(go), "build", "-o", str(binary), "."], cwd=SOURCE, env=env, check=True,
                   capture_output=True, timeout=300)
    return str(binary)


@pytest.fixture
def exported(instance: Instance, tmp_path: Path) -> Iterator[Path]:
    """580 events over three checkpoints: full and partial tiles on two levels, and proofs."""
    log = AuditLog.open(instance)
    try:
        for start in (0, 250, 520):
            log.append_batch([
                Event(type="external.ci.deploy", actor="system", tenant="acme", attributes={"n": n})
                for n in range(start, start + (250 if start < 500 else 80))
            ])
            log.checkpoint(new=True)
        yield export_log(log, tmp_path / "export", proofs=True).directory
    finally:
        log.close()


def _check(binary: str, directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary, str(directory)], capture_output=True, text=True, timeout=120, check=False)


def test_the_export_verifies_with_go_x_mod_tlog(tlogcheck: str, exported: Path) -> None:
    result = _check(tlogcheck, exported)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: ")
    entries, checkpoints, proofs = (int(part.split()[0]) for part in result.stdout[4:].split(", "))
    assert entries == proofs == len(list((exported / "proofs").iterdir()))
    assert entries > 580  # 580 events and the log's own checkpoint records
    assert checkpoints == len(list(exported.glob("checkpoint.*"))) >= 3


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("target", "offset"),
    [
        ("tile/entries/000", 40),  # an entry's bytes
        ("tile/0/000", 100),  # a leaf hash in a full tile
        ("tile/1/000.p/2", 5),  # an interior hash (the latest level-1 partial tile)
        ("tile/1/000.p/1", 5),  # the level-1 partial tile kept for an earlier checkpoint
        ("tile/entries/000.p/", 3),  # the partial entry bundle kept for the first checkpoint
        ("checkpoint", -10),  # the signature of the latest checkpoint
        ("checkpoint.", 45),  # the root of an earlier checkpoint
        ("proofs/", 60),  # a hash in an inclusion proof
    ],
)
def test_any_altered_file_fails_the_go_check(tlogcheck: str, exported: Path, target: str, offset: int) -> None:
    candidates = sorted(p for p in exported.rglob("*") if p.is_file() and str(p.relative_to(exported)).startswith(target))
    victim = candidates[0]
    _flip(victim, offset)
    result = _check(tlogcheck, exported)
    assert result.returncode == 1, f"{victim.relative_to(exported)} altered but the Go check passed"
    assert result.stderr.startswith("tlogcheck: ")
