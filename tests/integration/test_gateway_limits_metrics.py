"""Tenant and key limits end to end (requests and tokens, streamed usage included), the headers
of a refusal, and what /metrics counts, against a running `assay serve`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
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


@dataclass
class Served:
    data: DataDir
    base: str

    def chat(self, key: str, content: str = "hello there", *, stream: bool = False) -> httpx.Response:
        body = {"model": "gpt-test", "stream": stream, "messages": [{"role": "user", "content": content}]}
        return httpx.post(self.base + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}, timeout=30)

    def metric(self, name: str, **labels: str) -> float:
        wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in httpx.get(self.base + "/metrics", timeout=10).text.splitlines():
            match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
            if match and ",".join(sorted(match.group(1).split(","))) == wanted:
                return float(match.group(2))
        return 0.0


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    data = init_data_dir(tmp_path)
    with recording_upstream(tmp_path) as upstream, running_server(
        data.path, env=data.env, extra=("--upstream", upstream.url)
    ) as base:
        yield Served(data, base)


def _refused(response: httpx.Response, scope: str) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert scope in response.json()["error"]["message"]
    assert int(response.headers["retry-after"]) >= 1
    assert float(response.headers["x-assay-overhead-ms"]) >= 0 and response.headers["x-assay-request-id"]


def test_the_tenant_policy_limits_requests_across_its_keys(served: Served) -> None:
    served.data.cli("policy", "set", "--tenant", "acme", "--field", "rpm_limit=2")
    first, second = served.data.create_key("acme"), served.data.create_key("acme")
    other = served.data.create_key("beta")
    assert served.chat(first).status_code == 200
    assert served.chat(second).status_code == 200
    _refused(served.chat(first), "tenant:acme")
    assert served.chat(other).status_code == 200  # another tenant has its own budget
    events = requests_in(assert_ledger_intact(sqlite_url(served.data)))
    assert [e["tenant"] for e in events] == ["acme", "acme", "beta"]  # the refusal left no record
    assert served.metric("assay_gateway_requests_total", endpoint="chat.completions", status="429") == 1


@pytest.mark.parametrize("stream", [False, True])
def test_a_key_token_limit_counts_the_tokens_answers_used(served: Served, stream: bool) -> None:
    key = served.data.create_key("acme", "app", "--tpm", "5")
    first = served.chat(key, "one two three four five six", stream=stream)
    assert first.status_code == 200  # admitted: nothing used yet; its usage is then charged
    _refused(served.chat(key), "key:")


def test_metrics_count_requests_redactions_and_latency(served: Served) -> None:
    key = served.data.create_key("acme")
    assert served.chat(key, "mail jane.roe@example.com and 4111 1111 1111 1111 now").status_code == 200
    assert served.chat("sk-assay-0000000000000000-wrong").status_code == 401
    assert served.metric("assay_gateway_requests_total", endpoint="chat.completions", status="200") == 1
    assert served.metric("assay_gateway_requests_total", endpoint="chat.completions", status="401") == 1
    assert served.metric("assay_gateway_redactions_total", type="EMAIL_ADDRESS", direction="in") == 1
    assert served.metric("assay_gateway_redactions_total", type="CREDIT_CARD", direction="in") == 1
    assert served.metric("assay_gateway_overhead_ms_count", endpoint="chat.completions") == 1
    assert served.metric("assay_gateway_upstream_seconds_count", upstream="default") == 1
    assert served.metric("assay_gateway_breaker_state", upstream="default") == 0


EMAIL, CARD, PHONE = "jane.roe@example.com", "4111 1111 1111 1111", "+1 415 555 0134"


@pytest.mark.parametrize("stream", [False, True])
def test_every_input_path_of_the_responses_api_is_redacted(tmp_path: Path, stream: bool) -> None:
    import openai

    data = init_data_dir(tmp_path)
    key = data.create_key("acme")
    items: list[dict[str, object]] = [
        {"role": "user", "content": [{"type": "input_text", "text": f"mail {EMAIL} please"}]},
        {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": f'{{"email": "{EMAIL}"}}'},
        {"type": "function_call_output", "call_id": "c1", "output": f"card {CARD} on file"},
    ]
    with recording_upstream(tmp_path) as upstream, running_server(
        data.path, env=data.env, extra=("--upstream", upstream.url)
    ) as base, openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0) as client:
        instructions = f"call the user at {PHONE} if needed"
        if stream:
            events = client.responses.create(model="gpt-test", instructions=instructions, input=items, stream=True)  # type: ignore[arg-type]
            answer = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        else:
            answer = client.responses.create(model="gpt-test", instructions=instructions, input=items).output_text  # type: ignore[arg-type]
    sent = upstream.received_text()
    assert sent and not [n for n in (EMAIL, CARD, "4111111111111111", PHONE) if n in sent]
    assert EMAIL in answer  # pseudonymised on the way in, restored for the client
    assert not [n for n in (EMAIL, CARD, PHONE) if n in (data.path / "assay.db").read_bytes().decode("latin-1")]
    (event,) = requests_in(assert_ledger_intact(sqlite_url(data)))
    redactions = event["attributes"]["redactions"]  # type: ignore[index]
    assert {"in.EMAIL_ADDRESS", "in.CREDIT_CARD", "in.PHONE_NUMBER"} <= set(redactions)
