"""`assay ledger ...` end to end, and the offline verifier as an auditor runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers import run_cli

from assay.config import Settings
from assay.instance import Instance
from assay.ledger.merkle import leaf_hash
from assay.ledger.note import Verifier
from assay.ledger.proof import verify_tlog_proof


def _env(settings: Settings) -> dict[str, str]:
    env = {"ASSAY_DATA_DIR": str(settings.data_dir)}
    if settings.database_url:
        env["ASSAY_DATABASE_URL"] = settings.database_url
    return env


LINES = "\n".join(
    json.dumps({"type": "external.github.deploy", "actor": "system", "object_ids": {"sha": f"c0ffee{n}"}})
    for n in range(5)
)


def test_append_prove_checkpoint_export_and_offline_verify(
    instance: Instance, settings: Settings, tmp_path: Path
) -> None:
    env = _env(settings)
    appended = run_cli("ledger", "append", input=LINES + "\n\n", env=env)
    assert appended.exit_code == 0, appended.stderr
    assert appended.stdout.split() == ["0", "1", "2", "3", "4"]
    vkey = run_cli("ledger", "public-key", env=env).stdout.strip()
    checkpoint = run_cli("ledger", "checkpoint", env=env).stdout
    assert checkpoint.split("\n")[1] == "6"  # the five events and the checkpoint's record
    assert run_cli("ledger", "checkpoint", "--new", env=env).stdout == checkpoint
    proof = run_cli("ledger", "prove", "3", env=env).stdout
    assert proof.startswith("c2sp.org/tlog-proof@v1\nindex 3\n")
    from assay.ledger import AuditLog

    log = AuditLog.open(instance)
    try:
        verify_tlog_proof(proof, leaf_hash(log.entry(3).leaf), Verifier.from_vkey(vkey))
    finally:
        log.close()
    consistency = json.loads(run_cli("ledger", "consistency", "2", "6", "--json", env=env).stdout)
    assert consistency["new_size"] == 6 and consistency["proof"]
    verified = run_cli("ledger", "verify", "--json", env=env)
    assert verified.exit_code == 0 and json.loads(verified.stdout)["entries"] == 6
    out = tmp_path / "export"
    exported = run_cli("ledger", "export", str(out), "--proofs", env=env)
    assert exported.exit_code == 0, exported.stderr
    auditor = subprocess.run(
        [sys.executable, "-m", "assay.ledger.verify", str(out), "--vkey", vkey],
        capture_output=True, text=True, check=False,
    )
    assert auditor.returncode == 0, auditor.stderr
    assert auditor.stdout.startswith("OK 6 entries")
    (out / "tile" / "entries" / "000.p" / "6").write_bytes(b"\x00")
    tampered = subprocess.run(
        [sys.executable, "-m", "assay.ledger.verify", str(out), "--vkey", vkey],
        capture_output=True, text=True, check=False,
    )
    assert tampered.returncode == 1 and "tile/entries/000.p/6" in tampered.stderr
    again = run_cli("ledger", "export", str(out), env=env)
    assert again.exit_code == 2 and "not an empty directory" in again.stderr


def test_bad_lines_are_named_and_nothing_is_written(instance: Instance, settings: Settings) -> None:
    env = _env(settings)
    bad = '{"type": "a.b", "actor": "system"}\n{"type": "a.b", "attributes": {"phone": "1"}}\n[1]\n'
    result = run_cli("ledger", "append", input=bad, env=env)
    assert result.exit_code == 2
    assert "line 2" in result.stderr and "'phone'" in result.stderr and "line 3" in result.stderr
    assert "line 1" not in result.stderr
    assert run_cli("ledger", "verify", "--json", env=env).stdout.count('"entries": 0') == 1


def test_verify_names_a_tampered_entry(instance: Instance, settings: Settings) -> None:
    env = _env(settings)
    assert run_cli("ledger", "append", input=LINES, env=env).exit_code == 0
    with instance.db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE ledger_entries SET actor = 'user:mallory' WHERE idx = 2")
    result = run_cli("ledger", "verify", env=env)
    assert result.exit_code == 1
    assert "entry 2" in result.stderr and "actor" in result.stderr


@pytest.mark.parametrize("deleted", [0, 1, 2])
def test_verify_names_a_deleted_checkpoint(instance: Instance, settings: Settings, deleted: int) -> None:
    env = _env(settings)
    for _ in range(3):
        assert run_cli("ledger", "append", input=LINES, env=env).exit_code == 0
        assert run_cli("ledger", "checkpoint", "--new", env=env).exit_code == 0
    sizes = [6, 12, 18]  # five events and one checkpoint record each time
    assert json.loads(run_cli("ledger", "verify", "--json", env=env).stdout)["checkpoints"] == 3
    with instance.db.engine.begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM ledger_checkpoints WHERE size = {sizes[deleted]}")
    result = run_cli("ledger", "verify", env=env)
    assert result.exit_code == 1
    assert f"checkpoint {sizes[deleted]}: is missing" in result.stderr


def test_offline_verifier_names_a_checkpoint_missing_from_a_full_export(
    instance: Instance, settings: Settings, tmp_path: Path
) -> None:
    env = _env(settings)
    for _ in range(3):
        run_cli("ledger", "append", input=LINES, env=env)
        run_cli("ledger", "checkpoint", "--new", env=env)
    vkey = run_cli("ledger", "public-key", env=env).stdout.strip()
    out = tmp_path / "full"
    assert run_cli("ledger", "export", str(out), env=env).exit_code == 0
    command = [sys.executable, "-m", "assay.ledger.verify", str(out), "--vkey", vkey, "--all-checkpoints"]
    assert subprocess.run(command, capture_output=True, text=True, check=False).returncode == 0
    for size in (6, 12):  # the older checkpoints of 18 entries (5 events and 1 record each time)
        (out / f"checkpoint.{size}").rename(tmp_path / f"checkpoint.{size}")
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        assert result.returncode == 1
        assert f"FAIL checkpoint.{size}: missing (entry {size - 1} records that it was signed)" in result.stderr
        (tmp_path / f"checkpoint.{size}").rename(out / f"checkpoint.{size}")


@pytest.mark.parametrize("args", [("prove", "99"), ("consistency", "0", "1"), ("consistency", "3", "99")])
def test_proof_errors_explain_themselves(instance: Instance, settings: Settings, args: tuple[str, ...]) -> None:
    env = _env(settings)
    run_cli("ledger", "append", input=LINES, env=env)
    result = run_cli("ledger", *args, env=env)
    assert result.exit_code in (1, 2) and "error:" in result.stderr and "hint:" in result.stderr


def test_offline_verifier_needs_only_stdlib_and_cryptography(tmp_path: Path) -> None:
    probe = (
        "import sys, runpy; sys.argv=['v','--help']\n"
        "try:\n    runpy.run_module('assay.ledger.verify', run_name='__main__')\n"
        "except SystemExit: pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'sqlalchemy','pydantic','fastapi','typer','rich','rfc8785','alembic','orjson','structlog'})\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_latest_only_export_verifies(instance: Instance, settings: Settings, tmp_path: Path) -> None:
    env = _env(settings)
    for _ in range(3):
        run_cli("ledger", "append", input=LINES, env=env)
        run_cli("ledger", "checkpoint", "--new", env=env)
    vkey = run_cli("ledger", "public-key", env=env).stdout.strip()
    assert run_cli("ledger", "export", str(tmp_path / "x"), "--latest-only", env=env).exit_code == 0
    from assay.ledger.verify import verify_directory

    report = verify_directory(tmp_path / "x", vkey)
    assert (report.entries, report.checkpoints) == (18, 1)  # 15 events, 3 checkpoint records
