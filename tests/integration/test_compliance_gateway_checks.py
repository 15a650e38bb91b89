"""Checks over the gateway's API keys and tenant policies: passing and failing fixtures."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from assay.clock import FixedClock
from assay.compliance import run_checks
from assay.instance import Instance

gateway_models = pytest.importorskip("assay.gateway.models")

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
Setup = Callable[[Instance], None]


def _key(instance: Instance, kid: str, *, role: str = "app", created_days: int = 10, used_days: int | None = 1,
         expires_days: int | None = 60, revoked: bool = False) -> None:
    with instance.db.session() as session:
        session.add(gateway_models.ApiKeyRow(
            id=kid, tenant="acme", role=role, name=None, key_hash=hashlib.sha256(kid.encode()).digest(),
            prefix=kid[:8], allowed_models=None, rpm_limit=None, tpm_limit=None,
            expires_at=NOW + timedelta(days=expires_days) if expires_days is not None else None,
            revoked_at=NOW - timedelta(days=1) if revoked else None,
            created_at=NOW - timedelta(days=created_days),
            last_used_at=NOW - timedelta(days=used_days) if used_days is not None else None,
        ))


def _policy(instance: Instance, tenant: str, version: int, body: dict[str, object], actor: str = "cli:alice") -> None:
    with instance.db.session() as session:
        session.add(gateway_models.TenantPolicyRow(tenant=tenant, version=version, body=json.dumps(body), actor=actor,
                                                   created_at=NOW - timedelta(days=10 - version)))


def keys_ok(i: Instance) -> None:
    _key(i, "k_app1")
    _key(i, "k_old_revoked", created_days=400, used_days=None, expires_days=None, revoked=True)


def key_without_expiry(i: Instance) -> None:
    keys_ok(i)
    _key(i, "k_forever", expires_days=None)


def key_unused(i: Instance) -> None:
    keys_ok(i)
    _key(i, "k_idle", created_days=200, used_days=120)


def admins_ok(i: Instance) -> None:
    _key(i, "k_admin1", role="admin", created_days=20)
    _key(i, "k_admin2", role="admin", created_days=30)


def admins_too_many(i: Instance) -> None:
    for n in range(4):
        _key(i, f"k_admin{n}", role="admin", created_days=5)


def admin_too_old(i: Instance) -> None:
    _key(i, "k_admin_old", role="admin", created_days=120)


def redaction_on(i: Instance) -> None:
    _policy(i, "acme", 1, {"inbound": {"email": "allow"}})
    _policy(i, "acme", 2, {"inbound": {"email": "mask", "phone": "pseudonymize"}})
    _policy(i, "public-docs", 1, {"handles_personal_data": False, "inbound": {}})


def redaction_off(i: Instance) -> None:
    redaction_on(i)
    _policy(i, "beta", 1, {"inbound": {"email": "allow", "phone": "allow", "secret": "mask"}})


def attributed(i: Instance) -> None:
    _policy(i, "acme", 1, {}, actor="cli:alice")
    _policy(i, "acme", 2, {}, actor="apikey:k_admin1")


def unattributed(i: Instance) -> None:
    attributed(i)
    _policy(i, "acme", 3, {}, actor="")


SCENARIOS: list[tuple[str, Setup, str]] = [
    ("apikeys.expiry_and_use", keys_ok, "pass"),
    ("apikeys.expiry_and_use", key_without_expiry, "fail"),
    ("apikeys.expiry_and_use", key_unused, "fail"),
    ("apikeys.admin", admins_ok, "pass"),
    ("apikeys.admin", admins_too_many, "fail"),
    ("apikeys.admin", admin_too_old, "fail"),
    ("redaction.personal_data", redaction_on, "pass"),
    ("redaction.personal_data", redaction_off, "fail"),
    ("policy.changes_attributed", attributed, "pass"),
    ("policy.changes_attributed", unattributed, "fail"),
]


@pytest.mark.parametrize(("check_id", "setup", "expected"), SCENARIOS, ids=[f"{c}-{s.__name__}" for c, s, _ in SCENARIOS])
def test_gateway_check_on_fixture(instance: Instance, check_id: str, setup: Setup, expected: str) -> None:
    instance.clock = FixedClock(NOW)
    setup(instance)
    [result] = run_checks(instance, [check_id])
    assert result.result.status == expected, result.result
    if expected == "fail":
        assert result.result.remediation


@pytest.mark.parametrize("check_id", ["apikeys.expiry_and_use", "redaction.personal_data", "policy.changes_attributed"])
def test_gateway_checks_without_data_are_not_applicable(instance: Instance, check_id: str) -> None:
    instance.clock = FixedClock(NOW)
    [result] = run_checks(instance, [check_id])
    assert result.result.status == "not_applicable"
