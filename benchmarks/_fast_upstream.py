"""The local upstream the gateway benchmark measures against: a bare ASGI app, fixed answers.

Run as ``python -m benchmarks._fast_upstream PORT``. It answers in well under a millisecond so
the figures show what sits in front of it.
"""

from __future__ import annotations

import sys
from typing import Any

import orjson

_MODELS = orjson.dumps({"object": "list", "data": [{"id": "bench-model", "object": "model", "created": 0, "owned_by": "bench"}]})
_CHAT = orjson.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "bench-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Sure. I will write to the address you gave and confirm the order."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 30, "completion_tokens": 14, "total_tokens": 44},
})
_HEADERS = [(b"content-type", b"application/json")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    body = _MODELS if scope["path"].endswith("/models") else _CHAT
    await send({"type": "http.response.start", "status": 200, "headers": [*_HEADERS, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False, http="httptools", loop="uvloop")
