"""The governance API: roles, read views and the recorded viewing of decision records."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.governance_helpers import ledger_events, spec

from assay.api.app import create_app
from assay.api.auth import Principal
from assay.governance import (
    DecisionRecord,
    activate_change,
    propose_change,
    record_decision,
    register_model,
)
from assay.instance import Instance
from assay.ledger import AuditLog

KEYS = {
    "auditor-key": Principal("apikey:aud1", frozenset({"auditor"}), platform=True),
    "app-key": Principal("apikey:app1", frozenset({"app"}), platform=True),
}


@pytest.fixture
def client(instance: Instance) -> Iterator[TestClient]:
    app = create_app(instance)
    log = AuditLog.open(instance)
    app.state.audit_log = log
    app.state.key_resolver = KEYS.get
    model = register_model(instance, log, spec("chat-1"), actor="cli:alice")
    change = propose_change(instance, log, alias="support", model_version_id=model.id,
                            reason="outage", actor="cli:alice", emergency=True)
    activate_change(instance, log, change.id, actor="cli:alice")
    record_decision(instance, DecisionRecord(request_id="req-1", alias="support", tenant="acme",
                                             model_version_id=model.id, route_version=1,
                                             redaction_counts={"EMAIL": 1}))
    try:
        with TestClient(app) as test_client:
            yield test_client
    finally:
        log.close()


def _get(client: TestClient, path: str, key: str | None = "auditor-key") -> object:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.get(f"/api/v1/governance/{path}", headers=headers)


@pytest.mark.parametrize(("key", "status"), [(None, 401), ("app-key", 403), ("auditor-key", 200)])
def test_roles(client: TestClient, key: str | None, status: int) -> None:
    assert _get(client, "models", key).status_code == status  # type: ignore[attr-defined]


def test_views_and_recorded_explanation(client: TestClient, instance: Instance) -> None:
    models = _get(client, "models").json()  # type: ignore[attr-defined]
    ours = [m for m in models if m["id"] == "testco/chat-1@2026-01-01"]
    assert len(ours) == 1 and "system_prompt" not in ours[0]
    routes = {r["alias"]: r for r in _get(client, "routes").json()}  # type: ignore[attr-defined]
    assert routes["support"]["route_version"] == 1
    pending = _get(client, "changes?route=support").json()  # type: ignore[attr-defined]
    change = _get(client, f"changes/{pending[0]['id']}").json()  # type: ignore[attr-defined]
    assert [s["step"] for s in change["steps"]] == ["proposed", "activated"]
    explained = _get(client, "requests/req-1/explain").json()  # type: ignore[attr-defined]
    assert explained["model_version_id"] == "testco/chat-1@2026-01-01"
    assert explained["redaction_counts"] == {"EMAIL": 1}
    assert explained["created_at"].endswith("Z")
    viewed = ledger_events(instance)[-1]
    assert (viewed["type"], viewed["actor"]) == ("decision.viewed", "apikey:aud1")
    missing = _get(client, "requests/req-404/explain")
    assert missing.status_code == 404  # type: ignore[attr-defined]
    assert missing.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
