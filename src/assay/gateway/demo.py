"""The built-in demo model ``assay-demo``: answers in-process so the whole flow runs offline.

It echoes what it received (after inbound redaction), which makes the
redaction visible to a newcomer trying the gateway with no provider.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson

from assay.gateway.routing import DEMO_MODEL, DEMO_UPSTREAM, Target

if TYPE_CHECKING:
    from assay.gateway.upstream import UpstreamStream

__all__ = ["DemoTransport"]

_PREFIX = "assay-demo (built-in demo model, no provider called) received: "


def _last_user_text(body: dict[str, Any]) -> str:
    if "messages" in body:
        for message in reversed(body["messages"]):
            if isinstance(message, dict) and message.get("role") == "user":
                return _text_of(message.get("content"))
        return ""
    return _text_of(body.get("input"))


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [_text_of(p.get("text") or p.get("content")) if isinstance(p, dict) else _text_of(p) for p in content]
        return " ".join(p for p in parts if p)
    return ""


def _usage(prompt: str, answer: str) -> dict[str, int]:
    p, c = max(1, len(prompt.split())), max(1, len(answer.split()))
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def _chat(body: dict[str, Any]) -> dict[str, Any]:
    prompt = _last_user_text(body)
    answer = _PREFIX + prompt
    return {
        "id": "chatcmpl-demo" + hashlib.sha256(prompt.encode()).hexdigest()[:12],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": DEMO_MODEL,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
        ],
        "usage": _usage(prompt, answer),
    }


def _response(body: dict[str, Any]) -> dict[str, Any]:
    prompt = _last_user_text(body)
    answer = _PREFIX + prompt
    usage = _usage(prompt, answer)
    return {
        "id": "resp_demo" + hashlib.sha256(prompt.encode()).hexdigest()[:12],
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "model": DEMO_MODEL,
        "output": [
            {
                "type": "message",
                "id": "msg_demo",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": answer, "annotations": []}],
            }
        ],
        "usage": {
            "input_tokens": usage["prompt_tokens"],
            "output_tokens": usage["completion_tokens"],
            "total_tokens": usage["total_tokens"],
        },
    }


def _embeddings(body: dict[str, Any]) -> dict[str, Any]:
    raw = body.get("input")
    items = raw if isinstance(raw, list) else [raw]
    data = []
    for i, item in enumerate(items):
        digest = hashlib.sha256(str(item).encode()).digest()
        data.append({"object": "embedding", "index": i, "embedding": [b / 255 for b in digest[:8]]})
    tokens = sum(max(1, len(str(x).split())) for x in items)
    return {
        "object": "list",
        "data": data,
        "model": DEMO_MODEL,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


class DemoTransport:
    name = DEMO_UPSTREAM
    breaker_threshold = 5
    breaker_cooldown_s = 30.0

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        payload = orjson.loads(body)
        handler = {"chat/completions": _chat, "responses": _response, "embeddings": _embeddings}
        fn = handler.get(path.strip("/"))
        if fn is None:
            return 404, orjson.dumps({"error": {"message": "unknown path", "type": "invalid_request_error"}})
        return 200, orjson.dumps(fn(payload))

    async def stream(self, path: str, body: bytes) -> tuple[int, bytes, UpstreamStream | None]:
        from assay.gateway.upstream import UpstreamStream

        payload = orjson.loads(body)
        chunks = _chat_chunks(payload) if path.strip("/") == "chat/completions" else _response_events(payload)
        return 200, b"", UpstreamStream(target=Target(DEMO_UPSTREAM, DEMO_MODEL), chunks=chunks)

    async def aclose(self) -> None:
        return None


def _words(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


async def _chat_chunks(body: dict[str, Any]) -> AsyncIterator[bytes]:
    full = _chat(body)
    answer = full["choices"][0]["message"]["content"]
    base = {"id": full["id"], "object": "chat.completion.chunk", "created": full["created"], "model": DEMO_MODEL}
    yield orjson.dumps({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
    for word in _words(answer):
        yield orjson.dumps({**base, "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]})
    last: dict[str, Any] = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    if (body.get("stream_options") or {}).get("include_usage"):
        last["usage"] = full["usage"]
    yield orjson.dumps(last)
    yield b"[DONE]"


async def _response_events(body: dict[str, Any]) -> AsyncIterator[bytes]:
    full = _response(body)
    answer = full["output"][0]["content"][0]["text"]
    created = {**full, "status": "in_progress", "output": []}
    seq = 0
    yield orjson.dumps({"type": "response.created", "sequence_number": seq, "response": created})
    for word in _words(answer):
        seq += 1
        yield orjson.dumps(
            {
                "type": "response.output_text.delta",
                "sequence_number": seq,
                "item_id": "msg_demo",
                "output_index": 0,
                "content_index": 0,
                "delta": word,
                "logprobs": [],
            }
        )
    seq += 1
    yield orjson.dumps(
        {"type": "response.output_text.done", "sequence_number": seq, "item_id": "msg_demo",
         "output_index": 0, "content_index": 0, "text": answer, "logprobs": []}
    )
    yield orjson.dumps({"type": "response.completed", "sequence_number": seq + 1, "response": full})
