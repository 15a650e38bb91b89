"""Auth, roles and tenant isolation (table-driven), and failing closed or open."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from tests.gateway_helpers import (
    DataDir,
    assert_ledger_intact,
    init_data_dir,
    recording_upstream,
    requests_in,
    sqlite_url,
)
from tests.helpers import running_server

pytest.importorskip("assay.pii")
pytest.importorskip("assay.crypto")

MODEL = "assay-demo"
ENDPOINTS: dict[str, tuple[str, str, dict[str, object] | None]] = {
    "models": ("GET", "/v1/models", None),
    "chat": ("POST", "/v1/chat/completions", {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}),
    "chat-stream": ("POST", "/v1/chat/completions", {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]}),
    "responses": ("POST", "/v1/responses", {"model": MODEL, "input": "hi"}),
    "embeddings": ("POST", "/v1/embeddings", {"model": MODEL, "input": "hi"}),
}
# principal -> expected status for (models, model calls)
PRINCIPALS: dict[str, tuple[int, int]] = {
    "none": (401, 401),
    "malformed": (401, 401),
    "unknown": (401, 401),
    "revoked": (401, 401),
    "expired": (401, 401),
    "auditor": (403, 403),
    "admin": (200, 200),
    "app": (200, 200),
    "app-other-model": (200, 404),
    "tenant-b-app": (200, 404),  # tenant b's policy allows no models
}


@dataclass
class Env:
    data: DataDir
    base: str
    keys: dict[str, str]


def _sql(data: DataDir, statement: str, **params: object) -> None:
    engine = create_engine(sqlite_url(data))
    try:
        with engine.begin() as conn:
            conn.execute(text(statement), params)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("access")
    data = init_data_dir(tmp)
    keys = {
        "app": data.create_key("tenant-a"),
        "admin": data.create_key("tenant-a", "admin"),
        "auditor": data.create_key("tenant-a", "auditor"),
        "revoked": data.create_key("tenant-a"),
        "expired": data.create_key("tenant-a", "app", "--expires", "2999-01-01"),
        "app-other-model": data.create_key("tenant-a", "app", "--models", "other-model"),
        "tenant-b-app": data.create_key("tenant-b"),
        "limited": data.create_key("tenant-c", "app", "--rpm", "2"),
        "malformed": "not-a-key",
        "unknown": "sk-assay-0123456789abcdef-" + "A" * 43,
    }
    data.cli("keys", "revoke", keys["revoked"].split("-")[2])
    _sql(data, "UPDATE api_keys SET expires_at = '2000-01-01 00:00:00.000000' WHERE id = :id", id=keys["expired"].split("-")[2])
    data.cli("policy", "set", "--tenant", "tenant-b", "--field", "allowed_models=[]")
    with running_server(data.path, env=data.env) as base:
        yield Env(data, base, keys)


def _call(env: Env, endpoint: str, principal: str) -> httpx.Response:
    method, path, body = ENDPOINTS[endpoint]
    headers = {} if principal == "none" else {"authorization": f"Bearer {env.keys[principal]}"}
    return httpx.request(method, env.base + path, json=body, headers=headers, timeout=30)


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("principal", list(PRINCIPALS))
def test_endpoint_role_tenant_table(env: Env, endpoint: str, principal: str) -> None:
    expected = PRINCIPALS[principal][0 if endpoint == "models" else 1]
    before = len(requests_in(assert_ledger_intact(sqlite_url(env.data))))
    response = _call(env, endpoint, principal)
    assert response.status_code == expected, response.text
    after = requests_in(assert_ledger_intact(sqlite_url(env.data)))
    if expected != 200:
        assert set(response.json()["error"]) >= {"message", "type", "code"}
        assert len(after) == before  # refused requests leave no half-record
    elif endpoint != "models":
        assert len(after) == before + 1
        tenant = "tenant-b" if principal.startswith("tenant-b") else "tenant-a"
        assert after[-1]["tenant"] == tenant
        assert after[-1]["actor"] == f"apikey:{env.keys[principal].split('-')[2]}"
    if endpoint == "models" and expected == 200:
        listed = [m["id"] for m in response.json()["data"]]
        assert listed == ([] if principal in ("app-other-model", "tenant-b-app") else [MODEL])


def test_transcripts_belong_to_the_key_tenant(env: Env) -> None:
    _call(env, "chat", "app")
    engine = create_engine(sqlite_url(env.data))
    try:
        with engine.connect() as conn:
            tenants = {r[0] for r in conn.execute(text("SELECT DISTINCT tenant FROM crypto_transcripts"))}
    finally:
        engine.dispose()
    assert tenants == {"tenant-a"}


@pytest.mark.parametrize(
    ("broken", "policy", "status", "bypass"),
    [
        ("ledger.key", "closed", 503, None),
        ("master.key", "closed", 503, None),
        ("ledger.key", "open", 200, "ledger"),
        ("master.key", "open", 200, "vault"),
    ],
)
def test_fail_closed_or_open(tmp_path: Path, broken: str, policy: str, status: int, bypass: str | None) -> None:
    data = init_data_dir(tmp_path)
    key = data.create_key("acme")
    if policy == "open":
        data.cli("policy", "set", "--tenant", "acme", "--field", "on_failure=open", "--loosen")
    os.chmod(data.path / broken, 0o644)  # a secret with loose permissions is refused, never used
    with recording_upstream(tmp_path) as upstream, running_server(data.path, env=data.env, extra=("--upstream", upstream.url)) as base:
        response = httpx.post(
            base + "/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
            json={"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}, timeout=30,
        )
        assert response.status_code == status, response.text
        metrics = httpx.get(base + "/metrics", timeout=10).text
    if status == 503:
        assert upstream.received() == []
        assert response.json()["error"]["code"] == "service_unavailable"
        assert broken in response.json()["error"]["message"] or "unavailable" in response.json()["error"]["message"]
    else:
        assert bypass in response.headers["x-assay-fail-open"].split(",")
        assert f'assay_gateway_fail_open_total{{component="{bypass}"}} 1.0' in metrics
        # The decision record is stored with the ledger event, or alone when the ledger was bypassed.
        index, decisions = _decision_record(data, response.headers["x-assay-request-id"])
        assert index == (None if bypass == "ledger" else int(response.headers["x-assay-ledger-index"]))
        assert {"rule": "fail_open", "action": bypass} in decisions


def _decision_record(data: DataDir, request_id: str) -> tuple[int | None, list[dict[str, str]]]:
    engine = create_engine(sqlite_url(data))
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT ledger_index, policy_decisions FROM gov_decision_records WHERE request_id = :rid"),
                {"rid": request_id},
            ).one()
    finally:
        engine.dispose()
    return row[0], json.loads(row[1])


@pytest.mark.parametrize(
    ("principal", "roles"),
    [("app", {"app"}), ("admin", {"admin"}), ("auditor", {"auditor"}), ("revoked", None), ("unknown", None), ("malformed", None)],
)
def test_key_resolver_for_the_admin_api(env: Env, principal: str, roles: set[str] | None) -> None:
    """The API's require_role dependency resolves keys through the gateway's key store."""
    from assay.config import load_settings
    from assay.gateway.wiring import KeyResolver
    from assay.instance import open_instance

    instance = open_instance(load_settings(data_dir=env.data.path))
    try:
        from assay.api.app import create_app

        resolver = create_app(instance).state.key_resolver
        assert isinstance(resolver, KeyResolver)
        found = resolver(env.keys[principal])
    finally:
        instance.close()
    if roles is None:
        assert found is None
    else:
        assert found is not None and set(found.roles) == roles and found.tenant == "tenant-a"


def test_rate_limit_is_a_429_with_retry_after(env: Env) -> None:
    codes = [_call(env, "chat", "limited") for _ in range(3)]
    limited = [r for r in codes if r.status_code == 429]
    if not limited:  # the minute turned between the calls and the budget restarted
        assert all(r.status_code == 200 for r in codes)
        return
    assert [r.status_code for r in codes] == [200, 200, 429]
    assert 1 <= int(limited[0].headers["retry-after"]) <= 60
    error = limited[0].json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")


def test_key_store_unavailable_fails_closed(tmp_path: Path) -> None:
    data = init_data_dir(tmp_path)
    key = data.create_key("acme")
    with recording_upstream(tmp_path) as upstream, running_server(data.path, env=data.env, extra=("--upstream", upstream.url)) as base:
        _sql(data, "ALTER TABLE api_keys RENAME TO api_keys_unavailable")  # the store breaks under a running server
        response = httpx.post(
            base + "/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
            json={"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}, timeout=30,
        )
    assert response.status_code == 503
    assert "key store is unavailable" in response.json()["error"]["message"]
    assert upstream.received() == []
