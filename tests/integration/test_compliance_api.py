"""Compliance API: roles, library, check results, assessment and samples over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from assay.api.app import create_app
from assay.api.auth import Principal
from assay.instance import Instance

KEYS = {
    "auditor-key": Principal("apikey:a1", frozenset({"auditor"}), platform=True),
    "admin-key": Principal("apikey:a2", frozenset({"admin"}), platform=True),
    "app-key": Principal("apikey:a3", frozenset({"app"}), platform=True),
}


@pytest.fixture
def client(instance: Instance) -> Iterator[TestClient]:
    app = create_app(instance)
    app.state.key_resolver = KEYS.get
    with TestClient(app) as test_client:
        yield test_client


def _get(client: TestClient, path: str, key: str | None = "auditor-key") -> object:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.get(f"/api/v1/compliance/{path}", headers=headers)


@pytest.mark.parametrize(("key", "status"), [(None, 401), ("nope", 401), ("app-key", 403), ("auditor-key", 200)])
def test_roles(client: TestClient, key: str | None, status: int) -> None:
    assert _get(client, "criteria", key).status_code == status  # type: ignore[attr-defined]


def test_library_and_assessment(client: TestClient) -> None:
    criteria = _get(client, "criteria").json()  # type: ignore[attr-defined]
    assert len(criteria) == 61
    controls = _get(client, "controls?criterion=CC6.1").json()  # type: ignore[attr-defined]
    assert controls and all("CC6.1" in c["criteria"] for c in controls)
    one = _get(client, "controls/as-cnf-02").json()  # type: ignore[attr-defined]
    assert one["id"] == "AS-CNF-02" and "transcripts.encrypted" in one["checks"]
    missing = _get(client, "controls/AS-NOPE-01")
    assert missing.status_code == 422  # type: ignore[attr-defined]
    assert missing.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    refused = client.post("/api/v1/compliance/checks/run", headers={"Authorization": "Bearer auditor-key"})
    assert refused.status_code == 403
    ran = client.post("/api/v1/compliance/checks/run", headers={"Authorization": "Bearer admin-key"})
    assert ran.status_code == 200 and ran.json()
    latest = _get(client, "checks").json()  # type: ignore[attr-defined]
    assert all(c["latest"] is not None for c in latest)
    report = _get(client, "assessment").json()  # type: ignore[attr-defined]
    assert len(report["criteria"]) == 61 and report["summary"]["kind"] == "type1"
    type2 = _get(client, "assessment?period=2026-01-01..2026-12-31").json()  # type: ignore[attr-defined]
    assert type2["summary"]["kind"] == "type2"
    bad = _get(client, "assessment?period=yesterday")
    assert bad.status_code == 400  # type: ignore[attr-defined]
    sample = _get(client, "samples/AS-CNF-02?period=2026-01-01..2026-12-31").json()  # type: ignore[attr-defined]
    assert sample["population"]["source"] == "checks"
