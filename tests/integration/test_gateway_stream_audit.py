"""Every request whose prompt left for an upstream is recorded: streams a client abandons, streams
whose usage the client did not ask for, and answers no upstream gave."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import openai
import pytest
from tests.gateway_helpers import (
    assert_ledger_intact,
    init_data_dir,
    recording_upstream,
    requests_in,
    sqlite_url,
)
from tests.helpers import running_server

pytest.importorskip("assay.pii")
pytest.importorskip("assay.crypto")

PROMPT = "Write to jane.roe@example.com please"


def _recorded(database_url: str) -> list[dict[str, object]]:
    return [e["attributes"] for e in requests_in(assert_ledger_intact(database_url))]  # type: ignore[misc]


def test_a_stream_the_client_abandons_is_still_recorded(tmp_path: Path) -> None:
    data = init_data_dir(tmp_path)
    key = data.create_key("acme")
    with recording_upstream(tmp_path, mode="drip") as upstream, running_server(
        data.path, env=data.env, extra=("--upstream", upstream.url)
    ) as base:
        body = {"model": "gpt-test", "stream": True, "messages": [{"role": "user", "content": PROMPT}]}
        with httpx.stream(
            "POST", base + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}, timeout=30
        ) as response:
            assert response.status_code == 200
            first = next(response.iter_lines())
            assert first.startswith("data: ")
        # The connection is closed after the first chunk; the upstream keeps dripping for a while.
        assert len(upstream.received()) == 1
        deadline = time.monotonic() + 20
        while not _recorded(sqlite_url(data)) and time.monotonic() < deadline:
            time.sleep(0.05)
    (recorded,) = _recorded(sqlite_url(data))
    assert recorded["status"] == 499 and recorded["stream"] is True
    assert recorded["redactions"] == {"in.EMAIL_ADDRESS": 1}
    assert isinstance(recorded["transcript_sha256"], str)


def test_a_streamed_chat_records_usage_the_client_did_not_ask_for(tmp_path: Path) -> None:
    data = init_data_dir(tmp_path)
    key = data.create_key("acme")
    with recording_upstream(tmp_path) as upstream, running_server(
        data.path, env=data.env, extra=("--upstream", upstream.url)
    ) as base, openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0) as client:
        messages = [{"role": "user", "content": "hello there"}]
        plain = list(client.chat.completions.create(model="gpt-test", messages=messages, stream=True))  # type: ignore[arg-type]
        asked = list(client.chat.completions.create(
            model="gpt-test", messages=messages, stream=True, stream_options={"include_usage": True},  # type: ignore[arg-type]
        ))
    assert all(chunk.usage is None and chunk.choices for chunk in plain)  # no usage chunk shown unasked
    assert asked[-1].usage is not None and asked[-1].choices == []
    sent = [r["body"] for r in upstream.received()]
    assert all('"include_usage": true' in b or '"include_usage":true' in b for b in sent)
    usages = [r["usage"] for r in _recorded(sqlite_url(data))]
    assert len(usages) == 2
    assert all(isinstance(u, dict) and u["total_tokens"] == asked[-1].usage.total_tokens for u in usages)


@pytest.mark.parametrize("stream", [False, True])
def test_an_answer_no_upstream_gave_is_recorded(tmp_path: Path, stream: bool) -> None:
    data = init_data_dir(tmp_path)
    key = data.create_key("acme")
    with recording_upstream(tmp_path) as upstream, running_server(
        data.path, env=data.env, extra=("--upstream", upstream.url)
    ) as base:
        upstream.set(mode="fail")
        body = {"model": "gpt-test", "stream": stream, "messages": [{"role": "user", "content": PROMPT}]}
        response = httpx.post(
            base + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}, timeout=30
        )
        assert response.status_code == 502, response.text
        assert response.json()["error"]["code"] == "upstream_error"
    assert upstream.received() and "jane.roe@example.com" not in upstream.received_text()
    (recorded,) = _recorded(sqlite_url(data))
    assert recorded["status"] == 502 and recorded["upstream"] is None
    assert recorded["redactions"] == {"in.EMAIL_ADDRESS": 1}


@pytest.mark.parametrize("stream", [False, True])
def test_an_upstream_refusal_is_redacted_and_recorded(tmp_path: Path, stream: bool) -> None:
    data = init_data_dir(tmp_path)
    key = data.create_key("acme")
    with recording_upstream(tmp_path, mode="reject") as upstream, running_server(
        data.path, env=data.env, extra=("--upstream", upstream.url)
    ) as base:
        body = {"model": "gpt-test", "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
        response = httpx.post(
            base + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}, timeout=30
        )
    assert response.status_code == 400
    assert "help@provider.example" not in response.text and "[EMAIL_ADDRESS]" in response.json()["error"]["message"]
    assert response.headers["x-assay-ledger-index"].isdigit()
    (recorded,) = _recorded(sqlite_url(data))
    assert recorded["status"] == 400 and recorded["redactions"] == {"out.EMAIL_ADDRESS": 1}
