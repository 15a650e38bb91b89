"""The gateway serves only governed routes, picks up activations at once, and explains answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.governance_helpers import app_stack, ledger_events, spec

from assay.governance import (
    activate_change,
    approve_change,
    explain_request,
    list_changes,
    propose_change,
    register_model,
)
from assay.instance import Instance
from assay.ledger import AuditLog

pytest.importorskip("assay.gateway")


@dataclass
class Stack:
    instance: Instance
    client: TestClient
    key: str
    audit: AuditLog
    sent: list[dict[str, object]]

    def chat(self, model: str, content: str = "hello", **extra: object) -> object:
        return self.client.post(
            "/v1/chat/completions", headers={"Authorization": f"Bearer {self.key}"},
            json={"model": model, "messages": [{"role": "user", "content": content}], **extra},
        )


def _answer(model: str, messages: list[dict[str, str]]) -> str:
    if "json" in messages[-1]["content"]:
        return '{"answer": 1}' if model == "chat-2" else "plain words"
    return f"answer from {model}"


@pytest.fixture
def stack(tmp_path: Path, database_url: str) -> Iterator[Stack]:
    with app_stack(tmp_path / "data", database_url, _answer, "chat-1") as built:
        yield Stack(built.instance, built.client, built.key, built.audit, built.upstream.requests)


def _requests(instance: Instance) -> list[dict[str, object]]:
    return [e for e in ledger_events(instance) if e["type"] == "gateway.request"]


def test_first_start_registers_the_configured_model_awaiting_sign_off(stack: Stack) -> None:
    types = [e["type"] for e in ledger_events(stack.instance)]
    assert "model.registered" in types and "route.bootstrapped" in types
    pending = list_changes(stack.instance, state="awaiting-post-approval")
    assert [(c.alias, c.model_version_id, c.kind) for c in pending] == [
        ("support", "test/chat-1", "bootstrap")]
    response = stack.chat("support")
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    event = _requests(stack.instance)[-1]
    assert event["object_ids"]["model_version"] == "test/chat-1"  # type: ignore[index]
    assert event["attributes"]["route_version"] == 1  # type: ignore[index]


def test_unregistered_model_refused_and_activation_served_at_once(stack: Stack) -> None:
    instance, audit = stack.instance, stack.audit
    refused = stack.chat("chat-2")
    assert refused.status_code == 404  # type: ignore[attr-defined]
    error = refused.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == "model_not_found"
    assert "not a registered, activated route" in error["message"]
    assert stack.sent == []

    before = stack.chat("support", metadata={"retrieved_document_ids": "kb-1,kb-7"})
    before_id = before.headers["x-assay-request-id"]  # type: ignore[attr-defined]
    v2 = register_model(instance, audit, spec("chat-2", prompt="Answer in JSON."),
                        actor="cli:alice")
    change = propose_change(instance, audit, alias="support", model_version_id=v2.id,
                            reason="upgrade", actor="cli:alice", emergency=True,
                            output_schema={"type": "object", "required": ["answer"]})
    activate_change(instance, audit, change.id, actor="cli:alice")
    approve_change(instance, audit, change.id, actor="cli:bob")

    after = stack.chat("support", "json please")
    assert after.status_code == 200, after.text  # type: ignore[attr-defined]
    assert json.loads(after.json()["choices"][0]["message"]["content"]) == {"answer": 1}  # type: ignore[attr-defined]
    sent = stack.sent[-1]
    assert sent["model"] == "chat-2" and sent["temperature"] == 0.2
    assert sent["messages"][0] == {"role": "system", "content": "Answer in JSON."}  # type: ignore[index]
    event = _requests(instance)[-1]
    assert event["object_ids"]["model_version"] == v2.id  # type: ignore[index]
    assert event["attributes"]["route_version"] == 2  # type: ignore[index]
    assert event["attributes"]["prompt_template_version"] == "support@v1"  # type: ignore[index]
    assert event["attributes"]["params_sha256"] == v2.params_sha256  # type: ignore[index]
    assert event["attributes"]["output_valid"] is True  # type: ignore[index]

    after_id = after.headers["x-assay-request-id"]  # type: ignore[attr-defined]
    stack.client.app.state.gateway.governance.flush()  # type: ignore[attr-defined]
    old = explain_request(instance, audit, before_id, actor="cli:carol")
    new = explain_request(instance, audit, after_id, actor="cli:carol")
    assert (old.model_version_id, old.route_version, old.provider_model) == ("test/chat-1", 1, "chat-1")
    assert old.retrieved_document_ids == ("kb-1", "kb-7")
    assert old.change_approver is None  # the quick-start route still awaits sign-off
    assert (new.model_version_id, new.route_version, new.change_approver) == (v2.id, 2, "cli:bob")
    assert new.output_valid is True and new.policy_version is not None


def test_schema_violations_are_withheld_and_counted(stack: Stack) -> None:
    instance, audit = stack.instance, stack.audit
    v1 = register_model(instance, audit, spec("chat-1", prompt=None), actor="cli:alice")
    change = propose_change(instance, audit, alias="support", model_version_id=v1.id,
                            reason="structured output", actor="cli:alice", emergency=True,
                            output_schema={"type": "object"})
    activate_change(instance, audit, change.id, actor="cli:alice")
    withheld = stack.chat("support", "json please")
    assert withheld.status_code == 502  # type: ignore[attr-defined]
    assert "violated its output schema" in withheld.json()["error"]["message"]  # type: ignore[attr-defined]
    assert "plain words" not in withheld.text  # type: ignore[attr-defined]
    event = _requests(instance)[-1]
    assert event["attributes"]["status"] == 502  # type: ignore[index]
    assert event["attributes"]["output_action"] == "block"  # type: ignore[index]
    stack.client.app.state.gateway.governance.flush()  # type: ignore[attr-defined]
    explained = explain_request(instance, audit,
                                withheld.headers["x-assay-request-id"],  # type: ignore[attr-defined]
                                actor="cli:carol")
    assert explained.output_action == "block" and explained.output_errors == ("(root): not JSON",)


def test_the_decision_record_is_durable_with_its_ledger_event(stack: Stack) -> None:
    answered = stack.chat("support")
    assert answered.status_code == 200, answered.text  # type: ignore[attr-defined]
    # No flush: the record was committed in the transaction of the request's ledger event.
    explained = explain_request(stack.instance, stack.audit,
                                answered.headers["x-assay-request-id"],  # type: ignore[attr-defined]
                                actor="cli:carol")
    assert explained.ledger_index == int(answered.headers["x-assay-ledger-index"])  # type: ignore[attr-defined]
    assert explained.policy_decisions == ({"rule": "on_failure", "action": "closed"},)
