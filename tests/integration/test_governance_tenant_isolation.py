"""Tenant isolation of the read APIs: a key reads only its own tenant's decision records; the
whole ledger, the compliance results and model governance are the platform operator's.

Another tenant's record is answered exactly as a missing one (existence is not revealed), and
the refused read leaves no ``decision.viewed`` event claiming the record was shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.governance_helpers import AppStack, app_stack, ledger_events
from tests.helpers import run_cli

from assay.instance import Instance

pytest.importorskip("assay.gateway")


@dataclass
class Tenants:
    stack: AppStack
    request_id: str  # answered for tenant acme's app key: acme's decision record

    @property
    def client(self) -> TestClient:
        client: TestClient = self.stack.client
        return client

    @property
    def instance(self) -> Instance:
        return self.stack.instance

    def create_key(self, tenant: str, role: str) -> str:
        settings = self.instance.settings
        created = run_cli("keys", "create", "--tenant", tenant, "--role", role,
                          "--data-dir", str(settings.data_dir),
                          env={"ASSAY_DATABASE_URL": settings.sqlalchemy_url})
        assert created.exit_code == 0, created.stderr
        key: str = created.stdout.strip().splitlines()[-1]
        return key

    def explain(self, request_id: str, key: str) -> Any:
        return self.client.get(f"/api/v1/governance/requests/{request_id}/explain",
                               headers={"Authorization": f"Bearer {key}"})


def _answer(model: str, messages: list[dict[str, str]]) -> str:
    return f"answer from {model}"


@pytest.fixture
def tenants(tmp_path: Path, database_url: str) -> Iterator[Tenants]:
    with app_stack(tmp_path / "data", database_url, _answer, "chat-1") as stack:
        answered = stack.client.post(
            "/v1/chat/completions", headers={"Authorization": f"Bearer {stack.key}"},
            json={"model": "support", "messages": [{"role": "user", "content": "hello"}]},
        )
        assert answered.status_code == 200, answered.text
        stack.client.app.state.gateway.governance.flush()
        yield Tenants(stack, answered.headers["x-assay-request-id"])


def _actor(key: str) -> str:
    """``sk-assay-<id>-<secret>`` acts in the ledger as ``apikey:<id>``."""
    return "apikey:" + key.removeprefix("sk-assay-").split("-", 1)[0]


def _viewings(instance: Instance) -> list[dict[str, Any]]:
    return [e for e in ledger_events(instance) if e["type"] == "decision.viewed"]


@pytest.mark.parametrize(
    ("tenant", "role", "status"),
    [
        pytest.param("acme", "auditor", 200, id="same-tenant-auditor"),
        pytest.param("acme", "admin", 200, id="same-tenant-admin"),
        pytest.param("platform", "auditor", 200, id="platform-auditor"),
        pytest.param("other", "auditor", 404, id="other-tenant-auditor"),
        pytest.param("other", "admin", 404, id="other-tenant-admin"),
    ],
)
def test_a_key_explains_only_its_own_tenants_requests(
    tenants: Tenants, tenant: str, role: str, status: int
) -> None:
    key = tenants.create_key(tenant, role)
    before = _viewings(tenants.instance)

    response = tenants.explain(tenants.request_id, key)

    assert response.status_code == status, response.text
    viewed = _viewings(tenants.instance)[len(before):]
    if status == 200:
        explained = response.json()
        assert (explained["request_id"], explained["tenant"]) == (tenants.request_id, "acme")
        assert [(e["actor"], e["tenant"], e["object_ids"]) for e in viewed] == [
            (_actor(key), "acme", {"request": tenants.request_id})]
        return
    # Refused exactly as a request id that has no record: same status, shape and wording.
    missing = tenants.explain("req-that-never-was", key)
    assert missing.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body, unknown = response.json(), missing.json()
    assert {k: body[k] for k in ("type", "title", "status", "hint")} == {
        k: unknown[k] for k in ("type", "title", "status", "hint")}
    assert body["detail"] == unknown["detail"].replace("req-that-never-was", tenants.request_id)
    assert body["instance"] == f"/api/v1/governance/requests/{tenants.request_id}/explain"
    assert "acme" not in response.text and "support" not in response.text
    # The refused read claims no viewing: the ledger holds none since, of this or any record.
    assert viewed == []


@pytest.mark.parametrize(
    "path",
    ["/api/v1/ledger/checkpoint", "/api/v1/ledger/proof/0", "/api/v1/compliance/assessment",
     "/api/v1/governance/routes"],
)
@pytest.mark.parametrize(("tenant", "status"), [("acme", 403), ("platform", 200)])
def test_every_tenants_data_is_for_the_platforms_keys_only(
    tenants: Tenants, path: str, tenant: str, status: int
) -> None:
    key = tenants.create_key(tenant, "auditor")
    response = tenants.client.get(path, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == status, response.text
    if status == 403:
        assert "tenant acme may not call it" in response.json()["detail"]
        assert "--tenant platform --role auditor" in response.json()["hint"]


def _refusals(client: TestClient) -> dict[str, float]:
    """``assay_api_access_refused_total`` by reason, as /metrics shows it."""
    counts: dict[str, float] = {}
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("assay_api_access_refused_total{"):
            labels, value = line.rsplit(" ", 1)
            counts[labels.split('reason="', 1)[1].split('"', 1)[0]] = float(value)
    return counts


@pytest.mark.parametrize(
    ("tenant", "role", "path", "reason"),
    [
        ("other", "auditor", "explain", "other_tenant"),
        ("acme", "auditor", "/api/v1/ledger/checkpoint", "platform"),
        ("platform", "app", "/api/v1/ledger/checkpoint", "role"),
    ],
)
def test_refused_calls_are_counted(
    tenants: Tenants, tenant: str, role: str, path: str, reason: str
) -> None:
    key = tenants.create_key(tenant, role)
    before = _refusals(tenants.client)
    if path == "explain":
        response = tenants.explain(tenants.request_id, key)
        assert response.status_code == 404  # still indistinguishable from a missing record
    else:
        response = tenants.client.get(path, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 403
    after = _refusals(tenants.client)
    assert after.get(reason, 0) == before.get(reason, 0) + 1
    assert {k: v for k, v in after.items() if k != reason} == {k: v for k, v in before.items() if k != reason}


def test_a_missing_record_is_not_counted_as_refused(tenants: Tenants) -> None:
    key = tenants.create_key("other", "auditor")
    before = _refusals(tenants.client)
    assert tenants.explain("req-that-never-was", key).status_code == 404
    assert _refusals(tenants.client) == before


def test_a_principal_of_no_tenant_is_not_the_platform(tenants: Tenants) -> None:
    """A custom key resolver that names no tenant grants nothing across tenants (fail closed)."""
    state = tenants.client.app.state
    built_in = state.key_resolver
    try:
        _check_no_tenant(tenants, state)
    finally:
        state.key_resolver = built_in


def _check_no_tenant(tenants: Tenants, state: Any) -> None:
    from assay.api.auth import Principal

    state.key_resolver = lambda token: Principal("apikey:custom", frozenset({"auditor"}))
    headers = {"Authorization": "Bearer anything"}
    before = _refusals(tenants.client)

    ledger = tenants.client.get("/api/v1/ledger/checkpoint", headers=headers)
    assert ledger.status_code == 403
    assert "a key of no tenant may not call it" in ledger.json()["detail"]
    explained = tenants.client.get(f"/api/v1/governance/requests/{tenants.request_id}/explain", headers=headers)
    assert explained.status_code == 403
    assert "belongs to no tenant" in explained.json()["detail"]
    assert _viewings(tenants.instance) == []

    after = _refusals(tenants.client)
    assert after.get("platform", 0) == before.get("platform", 0) + 1
    assert after.get("no_tenant", 0) == before.get("no_tenant", 0) + 1

    state.key_resolver = lambda token: Principal("apikey:custom", frozenset({"auditor"}), platform=True)
    assert tenants.client.get("/api/v1/ledger/checkpoint", headers=headers).status_code == 200
    assert tenants.client.get(f"/api/v1/governance/requests/{tenants.request_id}/explain",
                              headers=headers).status_code == 200
