"""The official openai client, sync and async, streaming and not, through a real `assay serve`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from tests.gateway_helpers import (
    DataDir,
    RecordingUpstream,
    assert_ledger_intact,
    init_data_dir,
    plaintext_anywhere,
    recording_upstream,
    requests_in,
    sqlite_url,
)
from tests.helpers import running_server

pytest.importorskip("assay.pii")
pytest.importorskip("assay.crypto")

EMAIL = "jane.roe@example.com"
CARD = "4111 1111 1111 1111"
SSN = "536-22-1234"
SECRET = "sk-proj-Xq3vT9bL2mN8pR5sW1yZ4cF7hJ0kD6gA"
PROMPT = f"Mail {EMAIL}, card {CARD}, SSN {SSN}, key {SECRET}. Please confirm."
NEVER_UPSTREAM = [EMAIL, CARD, SSN, SECRET]


class Stack:
    def __init__(self, data: DataDir, upstream: RecordingUpstream, base: str, key: str) -> None:
        self.data, self.upstream, self.base, self.key = data, upstream, base, key
        self.clients: list[openai.OpenAI] = []

    def sync(self, key: str | None = None) -> openai.OpenAI:
        """A client closed with the stack: its kept-alive sockets must not outlive the server."""
        client = openai.OpenAI(base_url=self.base + "/v1", api_key=key or self.key, max_retries=0)
        self.clients.append(client)
        return client

    def close_clients(self) -> None:
        for client in self.clients:
            client.close()

    def aio(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.base + "/v1", api_key=self.key, max_retries=0)


@pytest.fixture
def stack(tmp_path: Path, database_url: str) -> Iterator[Stack]:
    data = init_data_dir(tmp_path, database_url)
    key = data.create_key("acme")
    with recording_upstream(tmp_path) as upstream, running_server(
        data.path, env=data.env, extra=("--upstream", upstream.url)
    ) as base:
        built = Stack(data, upstream, base, key)
        yield built
        built.close_clients()


@pytest.fixture(scope="module")
def shared_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One SQLite stack for the error-path tables (each case must leave no trace)."""
    tmp_path = tmp_path_factory.mktemp("shared")
    data = init_data_dir(tmp_path)
    key = data.create_key("acme")
    with recording_upstream(tmp_path) as upstream, running_server(
        data.path, env=data.env, extra=("--upstream", upstream.url)
    ) as base:
        built = Stack(data, upstream, base, key)
        yield built
        built.close_clients()


def _check_answer(text: str) -> None:
    assert text.startswith("echo: ")
    assert EMAIL in text  # pseudonymised on the way in, restored for the client
    for value in (CARD, SSN, SECRET):
        assert value not in text  # masked


def test_sync_and_async_clients_streaming_and_not(stack: Stack) -> None:
    client = stack.sync()
    listed = [m.id for m in client.models.list()]
    assert listed == ["gpt-test"]

    raw = client.chat.completions.with_raw_response.create(
        model="gpt-test", messages=[{"role": "user", "content": PROMPT}]
    )
    assert raw.headers["x-assay-ledger-index"].isdigit()
    assert float(raw.headers["x-assay-overhead-ms"]) >= 0
    assert raw.headers["x-assay-request-id"]
    completion = raw.parse()
    _check_answer(completion.choices[0].message.content or "")
    assert completion.model == "gpt-test"

    chunks = client.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": PROMPT}], stream=True
    )
    _check_answer("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))

    response = client.responses.create(model="gpt-test", input=PROMPT)
    _check_answer(response.output_text)
    events = list(client.responses.create(model="gpt-test", input=PROMPT, stream=True))
    _check_answer("".join(e.delta for e in events if e.type == "response.output_text.delta"))

    embedding = client.embeddings.create(model="gpt-test", input=[PROMPT, "second"])
    assert len(embedding.data) == 2

    async def run_async() -> tuple[str, str]:
        aclient = stack.aio()
        plain = await aclient.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": PROMPT}]
        )
        stream = await aclient.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": PROMPT}], stream=True
        )
        streamed = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        await aclient.close()
        return plain.choices[0].message.content or "", streamed

    for text in asyncio.run(run_async()):
        _check_answer(text)

    received = stack.upstream.received_text()
    assert len(stack.upstream.received()) == 7
    for value in NEVER_UPSTREAM:
        assert value not in received, f"{value} reached the upstream"
    assert plaintext_anywhere(stack.data, NEVER_UPSTREAM) == []

    events_ = assert_ledger_intact(sqlite_url(stack.data))
    served = requests_in(events_)
    assert len(served) == 7
    for event in served:
        attrs = event["attributes"]
        assert isinstance(attrs, dict)
        assert attrs["upstream"] == "default" and attrs["provider_model"] == "gpt-test"
        assert attrs["policy_version"] == 0
        assert "transcript_sha256" in attrs
        assert event["tenant"] == "acme"
    first = served[0]["attributes"]
    assert isinstance(first, dict)
    assert first["redactions"]["in.EMAIL_ADDRESS"] == 1  # type: ignore[index]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        ("unknown_model", openai.NotFoundError),
        ("bad_key", openai.AuthenticationError),
    ],
)
def test_client_errors_raise_the_right_exception(shared_stack: Stack, call: str, error: type[Exception]) -> None:
    client = shared_stack.sync()
    if call == "bad_key":
        client = shared_stack.sync(key="sk-assay-nope")
    with pytest.raises(error):
        client.chat.completions.create(model="nope" if call == "unknown_model" else "gpt-test", messages=[{"role": "user", "content": "x"}])
    assert shared_stack.upstream.received() == []


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"{not json", {}, 400),
        (b'{"model": "gpt-test", "messages": [{"role": "user", "content": "\xff"}]}', {}, 400),
        (b"[1, 2]", {}, 400),
        (b'{"model": "gpt-test"}', {}, 400),
        (b'{"model": "gpt-test", "messages": []}', {}, 400),
        (b'{"model": "gpt-test", "messages": [{"role": "user", "content": "' + b"a" * 5_000_000 + b'"}]}', {}, 413),
    ],
)
def test_bad_requests_are_clear_4xx_and_nothing_is_recorded(shared_stack: Stack, body: bytes, headers: dict[str, str], status: int) -> None:
    before = len(requests_in(assert_ledger_intact(sqlite_url(shared_stack.data))))
    response = httpx.post(
        shared_stack.base + "/v1/chat/completions", content=body,
        headers={"authorization": f"Bearer {shared_stack.key}", "content-type": "application/json", **headers}, timeout=30,
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["message"] and error["type"] == "invalid_request_error"
    assert shared_stack.upstream.received() == []
    assert len(requests_in(assert_ledger_intact(sqlite_url(shared_stack.data)))) == before
