"""Every text a streamed answer carries is redacted, even split across chunks; log-probabilities,
which repeat the text token by token, are withheld; links are scanned, inline data is not."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any, cast

import orjson
import pytest

from assay.gateway._controls import Redaction
from assay.gateway._walk import walk_strings, without_logprobs
from assay.gateway.policy import default_policy
from assay.gateway.service import Gateway, RequestContext
from assay.gateway.streaming import _chat_event, _Deltas, _responses_event

pytest.importorskip("assay.pii")

EMAIL = "jane.roe@example.com"


class _Guard:
    """The one thing the relay asks of the gateway: run a control (failures are not tested here)."""

    @staticmethod
    def guarded(ctx: object, component: str, fn: Any, fallback: object) -> object:
        return fn()


def _relay(outbound: dict[str, str] | None = None) -> tuple[Gateway, RequestContext, _Deltas]:
    policy = default_policy() if outbound is None else default_policy().model_copy(update={"outbound": outbound})
    redactor = Redaction(keyring_factory=lambda: None).for_request("acme", 1, policy)
    ctx = SimpleNamespace(
        redactor=redactor, route=SimpleNamespace(alias="support"), usage={}, usage_asked_by_gateway=False
    )
    gateway = cast(Gateway, _Guard())
    context = cast(RequestContext, ctx)
    return gateway, context, _Deltas(gateway, context)


def _split(delta_of: Any, text: str, logprobs: object = None) -> list[dict[str, Any]]:
    """``text`` in three chunks, cut inside the email, then a finishing chunk."""
    cuts = [0, text.index("@") - 2, text.index("@") + 4, len(text)]
    chunks = [
        {"choices": [{"index": 0, "delta": delta_of(text[a:b]), "logprobs": logprobs, "finish_reason": None}]}
        for a, b in itertools.pairwise(cuts)
    ]
    return [*chunks, {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]


def _sent(gateway: Gateway, ctx: RequestContext, deltas: _Deltas, chunks: list[dict[str, Any]]) -> str:
    out = b"".join(b for chunk in chunks for b in _chat_event(gateway, ctx, deltas, chunk))
    return out.decode()


@pytest.mark.parametrize(
    "delta_of",
    [
        pytest.param(lambda t: {"content": t}, id="content"),
        pytest.param(lambda t: {"refusal": t}, id="refusal"),
        pytest.param(lambda t: {"function_call": {"arguments": t}}, id="function_call"),
        pytest.param(lambda t: {"tool_calls": [{"index": 1, "function": {"arguments": t}}]}, id="tool_calls"),
        pytest.param(lambda t: {"audio": {"transcript": t}}, id="audio transcript"),
    ],
)
def test_every_streamed_text_field_is_redacted_across_chunks(delta_of: Any) -> None:
    gateway, ctx, deltas = _relay()
    sent = _sent(gateway, ctx, deltas, _split(delta_of, f"Mail {EMAIL} today."))
    assert EMAIL not in sent.replace('"', "")
    assert "roe@exa" not in sent and "[EMAIL_ADDRESS]" in sent
    assert deltas.transcript() and all(EMAIL not in text for text in deltas.transcript().values())


def test_a_text_field_unknown_today_is_redacted_in_each_chunk() -> None:
    gateway, ctx, deltas = _relay()
    chunk = {"choices": [{"index": 0, "delta": {"content": "Hi", "reasoning_content": f"user is {EMAIL}"}}]}
    sent = _sent(gateway, ctx, deltas, [chunk])
    assert EMAIL not in sent and '"reasoning_content":"user is [EMAIL_ADDRESS]"' in sent
    assert ctx.redactor is not None and ctx.redactor.counts == {"out.EMAIL_ADDRESS": 1}


def test_streamed_log_probabilities_are_withheld_while_the_answer_is_redacted() -> None:
    logprobs = {"content": [{"token": "jane", "logprob": -0.1, "bytes": [106, 97, 110, 101]}]}
    gateway, ctx, deltas = _relay()
    sent = _sent(gateway, ctx, deltas, _split(lambda t: {"content": t}, f"Mail {EMAIL} now", logprobs))
    assert '"logprobs":null' in sent and "jane" not in sent
    gateway, ctx, deltas = _relay(outbound={})  # nothing redacted on the way out: kept
    sent = _sent(gateway, ctx, deltas, _split(lambda t: {"content": t}, f"Mail {EMAIL} now", logprobs))
    assert '"token":"jane"' in sent


def test_responses_stream_events_withhold_log_probabilities() -> None:
    gateway, ctx, deltas = _relay()
    delta = {"type": "response.output_text.delta", "item_id": "m1", "content_index": 0, "delta": "Mail ",
             "logprobs": [{"token": "Mail", "logprob": -0.2}]}
    done = {"type": "response.output_text.done", "item_id": "m1", "content_index": 0, "text": f"Mail {EMAIL}",
            "logprobs": [{"token": "jane", "logprob": -0.1}]}
    sent = b"".join([*_responses_event(gateway, ctx, deltas, delta), *_responses_event(gateway, ctx, deltas, done)])
    assert b"jane" not in sent and b'"logprobs":[]' in sent


def test_an_unasked_usage_chunk_is_recorded_but_not_shown() -> None:
    gateway, ctx, deltas = _relay()
    ctx.usage_asked_by_gateway = True
    usage = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    assert _chat_event(gateway, ctx, deltas, {"choices": [], "usage": usage}) == []
    assert ctx.usage == usage
    shown = _chat_event(gateway, ctx, deltas, {"choices": [{"index": 0, "delta": {"content": "hi"}}], "usage": None})
    assert b"usage" not in b"".join(shown)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"logprobs": {"content": [{"token": "x"}]}, "a": 1}, {"logprobs": None, "a": 1}),
        ({"content": [{"text": "t", "logprobs": [{"token": "x"}]}]}, {"content": [{"text": "t", "logprobs": []}]}),
        ({"logprobs": None}, {"logprobs": None}),
        ({"logprobs": []}, {"logprobs": []}),
    ],
)
def test_without_logprobs(value: object, expected: object) -> None:
    assert without_logprobs(value) == expected


def test_links_are_scanned_and_inline_data_is_not() -> None:
    document = {"content": [
        {"type": "image_url", "image_url": {"url": f"https://example.com/a?to={EMAIL}"}},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{EMAIL}"}},
    ]}
    walked = orjson.dumps(walk_strings(document, lambda text: text.replace(EMAIL, "[EMAIL]"))).decode()
    assert walked.count("[EMAIL]") == 1 and f"base64,{EMAIL}" in walked
