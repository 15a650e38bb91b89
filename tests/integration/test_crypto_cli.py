"""The confidentiality commands end to end (in-process CLI) on both engines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.helpers import run_cli


@pytest.fixture
def cli(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "data"
    env = {"ASSAY_DATABASE_URL": database_url}

    def call(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return run_cli(*args, "--data-dir", str(data_dir), env=env, input=input)

    assert call("init").exit_code == 0
    call.data_dir = data_dir  # type: ignore[attr-defined]
    call.env = env  # type: ignore[attr-defined]
    return call


def _store(
    data_dir: Path, env: dict[str, str], tenant: str, text: bytes, subject: str | None = None
) -> str:
    from assay.config import Settings
    from assay.crypto import Keyring, TranscriptVault
    from assay.instance import open_instance
    from assay.ledger import AuditLog

    instance = open_instance(Settings(data_dir=data_dir, database_url=env["ASSAY_DATABASE_URL"]))
    try:
        vault = TranscriptVault(instance, Keyring.shared(instance), AuditLog.shared(instance))
        return vault.store(tenant, "conv-1", text, subject=subject).id
    finally:
        instance.close()


def test_tenant_lifecycle(cli) -> None:  # type: ignore[no-untyped-def]
    created = cli("tenants", "create", "acme", "--retention-days", "7")
    assert created.exit_code == 0, created.stderr
    assert "acme created" in created.stdout
    again = cli("tenants", "create", "acme")
    assert again.exit_code == 2 and "already exists" in again.stderr
    listed = json.loads(cli("tenants", "list", "--json").stdout)
    assert [(t["name"], t["retention_days"], t["erased_at"]) for t in listed] == [("acme", 7, None)]
    refused = cli("tenants", "erase", "acme", input="n\n")
    assert refused.exit_code == 1
    assert json.loads(cli("tenants", "list", "--json").stdout)[0]["erased_at"] is None
    erased = cli("tenants", "erase", "acme", "--yes")
    assert erased.exit_code == 0, erased.stderr
    assert "erased" in erased.stdout
    assert json.loads(cli("tenants", "list", "--json").stdout)[0]["erased_at"]
    verified = cli("ledger", "verify")
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    missing = cli("tenants", "erase", "nobody", "--yes")
    assert missing.exit_code == 1 and "does not exist" in missing.stderr
    rotate = cli("keys", "rotate", "--tenant", "acme")
    assert rotate.exit_code == 1 and "erased on" in rotate.stderr


def test_keys_rotate_rewrap_list(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("tenants", "create", "acme").exit_code == 0
    rotated = cli("keys", "rotate", "--tenant", "acme")
    assert rotated.exit_code == 0 and "version 2 is now primary" in rotated.stdout
    rewrap = cli("keys", "rewrap")
    assert rewrap.exit_code == 0, rewrap.stderr
    keys = json.loads(cli("keys", "list", "--tenant", "acme", "--json").stdout)
    assert [(k["version"], k["state"]) for k in keys] == [(1, "retired"), (2, "primary")]
    table = cli("keys", "list")
    assert table.exit_code == 0 and "primary" in table.stdout


def test_transcripts_show_list_and_subject_erase(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("tenants", "create", "acme").exit_code == 0
    record = _store(cli.data_dir, cli.env, "acme", b"hello from the vault", subject="jane")
    listed = json.loads(cli("transcripts", "list", "--tenant", "acme", "--json").stdout)
    assert [t["id"] for t in listed] == [record]
    no_reason = cli("transcripts", "show", record)
    assert no_reason.exit_code == 2
    shown = cli("transcripts", "show", record, "--reason", "ticket 9")
    assert shown.exit_code == 0 and shown.stdout == "hello from the vault\n"
    erased = cli("subjects", "erase", "--tenant", "acme", "jane")
    assert erased.exit_code == 0, erased.stderr
    after = cli("transcripts", "show", record, "--reason", "ticket 9")
    assert after.exit_code == 1 and "erased on" in after.stderr
    verified = cli("ledger", "verify")
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    retention = json.loads(cli("retention", "run", "--json").stdout)
    assert retention == {"deleted": 0, "events": 0}
