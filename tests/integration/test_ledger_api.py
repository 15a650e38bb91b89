"""The auditor API: fails closed without a resolver, checks roles, serves verifiable data."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from assay.api.app import create_app
from assay.api.auth import Principal
from assay.instance import Instance
from assay.ledger import AuditLog, Event
from assay.ledger.merkle import leaf_hash, verify_consistency
from assay.ledger.note import Verifier, open_checkpoint
from assay.ledger.proof import verify_tlog_proof
from assay.ledger.tiles import parse_bundle

KEYS = {
    "auditor-key": Principal("apikey:a1", frozenset({"auditor"}), platform=True),
    "admin-key": Principal("apikey:a2", frozenset({"admin"}), platform=True),
    "viewer-key": Principal("apikey:a3", frozenset({"viewer"}), platform=True),
}


def _resolve(token: str) -> Principal | None:
    return KEYS.get(token)


async def _resolve_async(token: str) -> Principal | None:
    return KEYS.get(token)


@pytest.fixture
def client(instance: Instance) -> Iterator[tuple[TestClient, AuditLog]]:
    # No model to register at start-up: the log holds exactly the 300 entries below and the
    # checkpoint's record (entry 300).
    instance.settings.demo_model = False
    app = create_app(instance)
    log = AuditLog.open(instance)
    app.state.audit_log = log
    log.append_batch([Event(type="gateway.request", actor="system", attributes={"n": n}) for n in range(300)])
    log.checkpoint(new=True)
    try:
        with TestClient(app) as test_client:
            yield test_client, log
    finally:
        log.close()


def _get(client: TestClient, path: str, key: str | None = "auditor-key") -> object:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.get(f"/api/v1/ledger/{path}", headers=headers)


def test_without_a_resolver_every_request_is_refused(client: tuple[TestClient, AuditLog]) -> None:
    test_client, _ = client
    test_client.app.state.key_resolver = None  # type: ignore[attr-defined]  # create_app installs the gateway's
    response = _get(test_client, "checkpoint")
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert "not configured" in response.json()["detail"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("key", "status"),
    [(None, 401), ("wrong", 401), ("viewer-key", 403), ("auditor-key", 200), ("admin-key", 200)],
)
@pytest.mark.parametrize("resolver", [_resolve, _resolve_async])
def test_roles(client: tuple[TestClient, AuditLog], key: str | None, status: int, resolver: object) -> None:
    test_client, _ = client
    test_client.app.state.key_resolver = resolver  # type: ignore[attr-defined]
    assert _get(test_client, "checkpoint", key).status_code == status  # type: ignore[attr-defined]


def test_served_data_verifies(client: tuple[TestClient, AuditLog]) -> None:
    test_client, log = client
    test_client.app.state.key_resolver = _resolve  # type: ignore[attr-defined]
    vkey = _get(test_client, "vkey").text.strip()  # type: ignore[attr-defined]
    assert vkey == log.vkey
    checkpoint = open_checkpoint(_get(test_client, "checkpoint").text, Verifier.from_vkey(vkey))  # type: ignore[attr-defined]
    assert checkpoint.size == 301
    proof_text = _get(test_client, "proof/257").text  # type: ignore[attr-defined]
    verify_tlog_proof(proof_text, leaf_hash(log.entry(257).leaf), Verifier.from_vkey(vkey))
    assert _get(test_client, "tile/0/000").content == log.tile(0, 0)  # type: ignore[attr-defined]
    assert _get(test_client, "tile/0/001.p/45").content == log.tile(0, 1, 45)  # type: ignore[attr-defined]
    bundle = parse_bundle(_get(test_client, "tile/entries/001.p/45").content)  # type: ignore[attr-defined]
    assert bundle[0] == log.entry(256).leaf
    body = _get(test_client, "consistency?old=100&new=301").json()  # type: ignore[attr-defined]
    proof = [base64.b64decode(h) for h in body["proof"]]
    verify_consistency(100, 301, log.root(100), checkpoint.root, proof)


@pytest.mark.parametrize("path", ["tile/0/001.p/46", "tile/0/007", "tile/0/01", "proof/301", "tile/entries/002"])
def test_missing_things_are_404(client: tuple[TestClient, AuditLog], path: str) -> None:
    test_client, _ = client
    test_client.app.state.key_resolver = _resolve  # type: ignore[attr-defined]
    response = _get(test_client, path)
    assert response.status_code == 404  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
