"""Streamed answers are checked against the route's output schema (official openai client)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from fastapi.testclient import TestClient
from tests.governance_helpers import app_stack, ledger_events, spec

from assay.governance import activate_change, explain_request, propose_change, register_model
from assay.instance import Instance
from assay.ledger import AuditLog

VALID, INVALID = '{"answer": 1}', "plain words, not JSON"


def _answer(model: str, _messages: list[dict[str, str]]) -> str | list[str]:
    if model == "second-invalid":  # n=2: the first choice passes, the second does not
        return [VALID, INVALID]
    return VALID if model == "valid" else INVALID


class Stack:
    def __init__(self, instance: Instance, client: TestClient, key: str, audit: AuditLog) -> None:
        self.instance, self.client, self.audit = instance, client, audit
        self.openai = openai.OpenAI(base_url="http://testserver/v1", api_key=key, max_retries=0,
                                    http_client=client)

    def route(self, provider_model: str, action: str) -> None:
        model = register_model(self.instance, self.audit, spec(provider_model, prompt=None),
                               actor="cli:alice")
        schema = {"type": "object", "required": ["answer"], "x-assay-on-violation": action}
        change = propose_change(self.instance, self.audit, alias="support",
                                model_version_id=model.id, reason="structured", actor="cli:alice",
                                emergency=True, output_schema=schema)
        activate_change(self.instance, self.audit, change.id, actor="cli:alice")

    def stream(self) -> str:
        chunks = self.openai.chat.completions.create(
            model="support", messages=[{"role": "user", "content": "json please"}], stream=True)
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


@pytest.fixture
def stack(tmp_path: Path, database_url: str) -> Iterator[Stack]:
    with app_stack(tmp_path / "data", database_url, _answer, "valid") as built:
        yield Stack(built.instance, built.client, built.key, built.audit)


def _last_request(instance: Instance) -> dict[str, Any]:
    return [e for e in ledger_events(instance) if e["type"] == "gateway.request"][-1]


@pytest.mark.parametrize(
    ("action", "model", "delivered", "valid"),
    [
        ("block", "valid", VALID, True),
        ("block", "invalid", None, False),
        ("flag", "valid", VALID, True),
        ("flag", "invalid", INVALID, False),
    ],
)
def test_streamed_answers_meet_the_schema(
    stack: Stack, action: str, model: str, delivered: str | None, valid: bool
) -> None:
    stack.route(model, action)
    if delivered is None:
        with pytest.raises(openai.APIStatusError) as refused:
            stack.stream()
        assert refused.value.status_code == 502
        assert "violated its output schema" in refused.value.message
        assert "plain words" not in refused.value.response.text
        request_id = refused.value.response.headers["x-assay-request-id"]
    else:
        assert stack.stream() == delivered
        request_id = None
    event = _last_request(stack.instance)
    attributes = event["attributes"]
    assert attributes["stream"] is True
    assert (attributes["output_valid"], attributes["output_action"]) == (
        valid, "allow" if valid else action)
    assert attributes["status"] == (502 if delivered is None else 200)
    stack.client.app.state.gateway.governance.flush()  # type: ignore[attr-defined]
    explained = explain_request(stack.instance, stack.audit,
                                request_id or event["object_ids"]["request"], actor="cli:carol")
    assert explained.output_valid is valid
    if not valid:
        assert explained.output_errors == ("(root): not JSON",)


@pytest.mark.parametrize("stream", [False, True])
def test_every_choice_is_checked_not_only_the_first(stack: Stack, stream: bool) -> None:
    stack.route("second-invalid", "block")
    with pytest.raises(openai.APIStatusError) as refused:
        if stream:
            stack.stream()
        else:
            stack.openai.chat.completions.create(
                model="support", messages=[{"role": "user", "content": "json please"}], n=2)
    assert refused.value.status_code == 502
    assert "plain words" not in refused.value.response.text
    attributes = _last_request(stack.instance)["attributes"]
    assert (attributes["output_valid"], attributes["output_action"]) == (False, "block")
    stack.client.app.state.gateway.governance.flush()  # type: ignore[attr-defined]
    explained = explain_request(stack.instance, stack.audit,
                                refused.value.response.headers["x-assay-request-id"], actor="cli:carol")
    assert explained.output_errors == ("choices/1: (root): not JSON",)


def test_a_held_stream_carries_its_ledger_index_as_a_header(stack: Stack) -> None:
    stack.route("valid", "block")
    raw = stack.openai.chat.completions.with_raw_response.create(
        model="support", messages=[{"role": "user", "content": "json please"}], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices) == VALID
    index = int(raw.headers["x-assay-ledger-index"])  # held until recorded, so it is known
    assert stack.audit.entry(index).event_type == "gateway.request"
