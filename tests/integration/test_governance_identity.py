"""Approvals and rejections are made by a registered person proven with a one-time code."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.governance_helpers import ledger_events, register_person, spec, totp_code
from tests.helpers import CliResult, run_cli

from assay.api.app import create_app
from assay.api.auth import Principal
from assay.config import Settings
from assay.governance import get_change, propose_change, register_model
from assay.instance import Instance
from assay.ledger import AuditLog


def _cli(settings: Settings, *args: str, input: str | None = None,
         env: dict[str, str] | None = None) -> CliResult:
    full = {"ASSAY_DATABASE_URL": settings.sqlalchemy_url, **(env or {})}
    return run_cli(*args, "--data-dir", str(settings.data_dir), env=full, input=input)


@pytest.fixture
def change_id(instance: Instance) -> Iterator[str]:
    with AuditLog.open(instance) as log:
        model = register_model(instance, log, spec("chat-1"), actor="cli:alice")
        change = propose_change(instance, log, alias="support", model_version_id=model.id,
                                reason="launch", actor="cli:alice")
    yield change.id


def _refusals(instance: Instance) -> list[dict[str, object]]:
    return [e["attributes"] for e in ledger_events(instance)
            if e["type"] == "governance.identity_refused"]


@pytest.mark.parametrize(
    ("case", "exit_code", "message", "reason"),
    [
        ("no user", 2, "you must prove who you are", None),
        ("unknown user", 1, "no registered person matches", "unknown user"),
        ("wrong code", 1, "wrong or already used", "code refused"),
        ("replayed code", 1, "wrong or already used", "code refused"),
        ("letters", 1, "wrong or already used", "code refused"),
        ("viewer", 1, "the viewer role may not reject a change", "role not allowed"),
        ("not enrolled", 1, "no authenticator enrolled", "no authenticator enrolled"),
    ],
)
def test_rejection_refused_without_a_proven_person(
    instance: Instance, settings: Settings, change_id: str, case: str, exit_code: int,
    message: str, reason: str | None,
) -> None:
    _bob, secret = register_person(instance, "bob@example.com", "compliance")
    _viewer, viewer_secret = register_person(instance, "val@example.com", "viewer")
    args = ["changes", "reject", change_id, "--reason", "too risky"]
    user, code = "bob@example.com", totp_code(secret)
    if case == "replayed code":
        _cli(settings, "changes", "withdraw", "nope", "--user", user, "--totp", code)  # spends it
    if case == "not enrolled":
        from tests.web_support import accounts_for

        accounts_for(instance).create("nina@example.com", "admin")
        user = "nina@example.com"
    user, code = {
        "unknown user": ("eve@example.com", code), "wrong code": (user, "000000"),
        "letters": (user, "abcdef"), "viewer": ("val@example.com", totp_code(viewer_secret)),
    }.get(case, (user, code))
    extra = [] if case == "no user" else ["--user", user, "--totp", code]
    refused = _cli(settings, *args, *extra)
    assert refused.exit_code == exit_code, refused.stdout + refused.stderr
    assert message in refused.stderr
    assert get_change(instance, change_id).state == "proposed"
    if reason is not None:
        assert _refusals(instance)[-1] == {"purpose": "reject a change", "reason": reason}
    assert "change.rejected" not in [e["type"] for e in ledger_events(instance)]


def test_reject_and_withdraw_through_the_cli(
    instance: Instance, settings: Settings, change_id: str
) -> None:
    bob, secret = register_person(instance, "bob@example.com", "admin")
    env = {"ASSAY_USER": "bob@example.com"}
    rejected = _cli(settings, "changes", "reject", change_id, "--reason", "too risky", env=env,
                    input=totp_code(secret) + "\n")
    assert rejected.exit_code == 0, rejected.stderr
    assert ": rejected" in rejected.stdout
    event = ledger_events(instance)[-1]
    assert (event["type"], event["actor"]) == ("change.rejected", f"user:{bob}")
    assert event["attributes"]["actor_verified_by"] == "totp"
    again = _cli(settings, "changes", "withdraw", change_id, "--actor", "alice")
    assert again.exit_code == 1 and "rejected" in again.stderr

    with AuditLog.open(instance) as log:
        second = propose_change(instance, log, alias="support",
                                model_version_id=get_change(instance, change_id).model_version_id,
                                reason="retry", actor="cli:alice")
    not_mine = _cli(settings, "changes", "withdraw", second.id, "--actor", "carol")
    assert not_mine.exit_code == 1 and "only the requester" in not_mine.stderr
    done = _cli(settings, "changes", "withdraw", second.id, "--actor", "alice", "--reason", "later")
    assert done.exit_code == 0 and ": withdrawn" in done.stdout
    listed = json.loads(_cli(settings, "changes", "list", "--state", "withdrawn", "--json").stdout)
    assert [c["id"] for c in listed] == [second.id]


KEYS = {"admin-key": Principal("apikey:adm1", frozenset({"admin"}), platform=True),
        "auditor-key": Principal("apikey:aud1", frozenset({"auditor"}), platform=True)}


def test_reject_and_withdraw_through_the_api(instance: Instance, change_id: str) -> None:
    bob, secret = register_person(instance, "bob@example.com", "admin")
    app = create_app(instance)
    log = AuditLog.open(instance)
    app.state.audit_log = log
    app.state.key_resolver = KEYS.get
    base = f"/api/v1/governance/changes/{change_id}"
    try:
        with TestClient(app) as client:
            admin = {"authorization": "Bearer admin-key"}
            body = {"reason": "no", "user": "bob@example.com", "totp": totp_code(secret)}
            auditor = client.post(base + "/reject", json=body,
                                  headers={"authorization": "Bearer auditor-key"})
            assert auditor.status_code == 403
            wrong = client.post(base + "/reject", json={**body, "totp": "123456"}, headers=admin)
            assert wrong.status_code == 401, wrong.text
            assert wrong.headers["content-type"].startswith("application/problem+json")
            by_key = client.post(base + "/withdraw", json={}, headers=admin)
            assert by_key.status_code in (400, 409), by_key.text
            assert "only the requester" in by_key.json()["detail"]
            ok = client.post(base + "/reject", json=body, headers=admin)
            assert ok.status_code == 200, ok.text
            assert ok.json()["state"] == "rejected"
            replay = client.post(base + "/reject", json=body, headers=admin)
            assert replay.status_code == 401
    finally:
        log.close()
    event = next(e for e in ledger_events(instance) if e["type"] == "change.rejected")
    assert event["actor"] == f"user:{bob}"
