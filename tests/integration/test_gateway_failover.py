"""Failover between upstreams, timeouts, the circuit breaker, and no retry of a started stream."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
from tests.gateway_helpers import (
    DataDir,
    RecordingUpstream,
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
class Pair:
    data: DataDir
    primary: RecordingUpstream
    fallback: RecordingUpstream
    base: str
    client: openai.OpenAI

    def ask(self) -> str:
        reply = self.client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hello"}])
        return reply.choices[0].message.content or ""

    def breaker(self, upstream: str) -> float:
        for line in httpx.get(self.base + "/metrics", timeout=10).text.splitlines():
            if line.startswith(f'assay_gateway_breaker_state{{upstream="{upstream}"}}'):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError("no breaker metric")


def _toml(primary: str, fallback: str) -> str:
    block = """
[[upstreams]]
name = "{name}"
base_url = "{url}/v1"
models = {{ "gpt-test" = "gpt-test" }}
timeout_s = 1.0
breaker_threshold = 2
breaker_cooldown_s = 1.0
"""
    return block.format(name="primary", url=primary) + block.format(name="fallback", url=fallback)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    with ExitStack() as stack:
        primary = stack.enter_context(recording_upstream(tmp_path))
        fallback = stack.enter_context(recording_upstream(tmp_path))
        config = tmp_path / "assay.toml"
        config.write_text(_toml(primary.url, fallback.url))
        data = init_data_dir(tmp_path, ASSAY_CONFIG=str(config))
        key = data.create_key("acme")
        base = stack.enter_context(running_server(data.path, env=data.env))
        # Entered last, so closed first: no kept-alive socket outlives the server.
        client = stack.enter_context(openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0))
        yield Pair(data, primary, fallback, base, client)


def test_fallback_answers_and_breaker_opens_then_closes(pair: Pair) -> None:
    assert pair.ask().startswith("echo: ")
    assert (len(pair.primary.received()), len(pair.fallback.received())) == (1, 0)

    pair.primary.set(mode="fail")
    for _ in range(2):
        assert pair.ask().startswith("echo: ")
    assert (len(pair.primary.received()), len(pair.fallback.received())) == (3, 2)
    assert pair.breaker("primary") == 2  # open after two failures in a row
    pair.ask()
    assert len(pair.primary.received()) == 3  # not even tried while open

    pair.primary.set(mode="ok")
    deadline = time.monotonic() + 30
    while len(pair.primary.received()) == 3 and time.monotonic() < deadline:
        time.sleep(0.3)  # the cooldown passes; the next request is the half-open probe
        pair.ask()
    assert len(pair.primary.received()) == 4
    assert pair.breaker("primary") == 0
    served = requests_in(assert_ledger_intact(sqlite_url(pair.data)))
    assert [e["attributes"]["upstream"] for e in served][:4] == ["primary", "fallback", "fallback", "fallback"]  # type: ignore[index]


def test_timeout_falls_back(pair: Pair) -> None:
    pair.primary.set(mode="slow", delay=5.0)
    assert pair.ask().startswith("echo: ")
    assert len(pair.fallback.received()) == 1


def test_started_stream_is_not_retried(pair: Pair) -> None:
    pair.primary.set(mode="break_stream")
    stream = pair.client.chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": "a long enough prompt to split"}], stream=True
    )
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass
    assert len(pair.primary.received()) == 1
    assert pair.fallback.received() == []
    served = requests_in(assert_ledger_intact(sqlite_url(pair.data)))
    assert served[-1]["attributes"]["status"] == 502  # type: ignore[index]


def test_all_upstreams_down_is_a_clear_502(pair: Pair) -> None:
    pair.primary.set(mode="fail")
    pair.fallback.set(mode="fail")
    with pytest.raises(openai.InternalServerError) as caught:
        pair.ask()
    assert caught.value.status_code == 502
    assert "no upstream answered" in str(caught.value)
