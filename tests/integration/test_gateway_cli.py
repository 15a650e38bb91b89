"""`assay keys create|revoke|api-list` and `assay policy show|set`: every change is a ledger event."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.gateway_helpers import assert_ledger_intact, init_data_dir, sqlite_url
from tests.helpers import run_cli

pytest.importorskip("assay.crypto")


def test_key_and_policy_changes_are_ledger_events(tmp_path: Path) -> None:
    data = init_data_dir(tmp_path)
    secret = data.create_key("acme", "app", "--name", "ci", "--expires", "2999-12-31", "--rpm", "5")
    key_id = secret.split("-")[2]
    listed = json.loads(data.cli("keys", "api-list", "--json"))
    assert [k["id"] for k in listed] == [key_id]
    assert listed[0]["rpm_limit"] == 5 and listed[0]["expires_at"].startswith("2999-12-31")
    assert secret not in (data.path / "assay.db").read_bytes().decode("latin-1")  # hash only

    said = data.cli("policy", "set", "--tenant", "acme", "--field", "on_failure=open", "--field", "retention_days=7", "--loosen")
    assert "It loosens the previous version: on_failure" in said
    shown = json.loads(data.cli("policy", "show", "--tenant", "acme", "--json"))
    assert shown["on_failure"] == "open" and shown["retention_days"] == 7
    data.cli("keys", "revoke", key_id)

    events = assert_ledger_intact(sqlite_url(data))
    mine = [e for e in events if e["type"] in ("apikey.created", "policy.changed", "apikey.revoked")]
    assert [e["type"] for e in mine] == ["apikey.created", "policy.changed", "apikey.revoked"]
    assert all(str(e["actor"]).startswith("cli:") for e in mine)
    change = mine[1]["attributes"]
    assert isinstance(change, dict)
    assert change["version"] == 1 and change["loosened"] == ["on_failure"]
    assert change["changed"] == ["on_failure", "retention_days"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("keys", "create", "--tenant", "acme", "--role", "root"), "unknown role"),
        (("keys", "create", "--tenant", "bad tenant!", "--role", "app"), "not valid"),
        (("keys", "create", "--tenant", "acme", "--expires", "2001-01-01"), "in the past"),
        (("keys", "create", "--tenant", "acme", "--expires", "soon"), "not a date"),
        (("keys", "revoke", "0123456789abcdef"), "no API key"),
        (("policy", "set", "--tenant", "acme", "--field", "on_failure=maybe"), "on_failure"),
        (("policy", "set", "--tenant", "acme"), "nothing to change"),
        (("policy", "set", "--tenant", "acme", "--field", "on_failure=open"), "loosens the policy of tenant acme: on_failure"),
    ],
)
def test_bad_cli_input_is_refused_with_nothing_written(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    data = init_data_dir(tmp_path)
    before = len(assert_ledger_intact(sqlite_url(data)))
    result = run_cli(*args, "--data-dir", str(data.path), env=data.env)
    assert result.exit_code != 0
    assert message in result.stderr
    assert len(assert_ledger_intact(sqlite_url(data))) == before
    assert json.loads(data.cli("keys", "api-list", "--json")) == []
