"""A local OpenAI-compatible upstream for gateway tests: records every request it receives.

Run as ``python -m tests.gateway_upstream --port P --record FILE [--models a,b]``. Its behaviour
is switched at run time with ``POST /_control {"mode": "ok"|"fail"|"slow"|"break_stream"|"drip"|"reject"}``
(``drip``: a streamed chat answer's chunks 0.2 s apart; ``reject``: a 400 naming an email address).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

STATE: dict[str, Any] = {"mode": "ok", "record": None, "models": ["gpt-test"], "delay": 5.0}


def _record(path: str, request: Request, body: bytes) -> None:
    line = {"path": path, "authorization": request.headers.get("authorization"), "body": body.decode("utf-8", "replace")}
    with Path(STATE["record"]).open("a") as handle:
        handle.write(json.dumps(line) + "\n")


def _prompt(body: dict[str, Any]) -> str:
    if "messages" in body:
        parts = []
        for m in body["messages"]:
            content = m.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(p.get("text", "") for p in content if isinstance(p, dict))
        return " | ".join(parts)
    value = body.get("input")
    if isinstance(value, str):
        return value
    return json.dumps(value)


async def _gate(path: str, request: Request) -> tuple[dict[str, Any] | None, Response | None]:
    raw = await request.body()
    _record(path, request, raw)
    mode = STATE["mode"]
    if mode == "fail":
        return None, JSONResponse({"error": {"message": "primary down", "type": "server_error"}}, status_code=500)
    if mode == "reject":  # a client error whose message carries personal data of the provider's
        error = {"message": "refused; write to help@provider.example", "type": "invalid_request_error"}
        return None, JSONResponse({"error": error}, status_code=400)
    if mode == "slow":
        await asyncio.sleep(STATE["delay"])
    return json.loads(raw), None


def _usage(text: str) -> dict[str, int]:
    n = max(1, len(text.split()))
    return {"prompt_tokens": n, "completion_tokens": n, "total_tokens": 2 * n}


async def chat(request: Request) -> Response:
    body, refusal = await _gate("chat/completions", request)
    if refusal is not None:
        return refusal
    assert body is not None
    answer = "echo: " + _prompt(body)
    if body.get("stream"):
        return StreamingResponse(_chat_stream(body, answer), media_type="text/event-stream")
    return JSONResponse({
        "id": "chatcmpl-rec", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
        "usage": _usage(answer),
    })


async def _chat_stream(body: dict[str, Any], answer: str):  # type: ignore[no-untyped-def]
    base = {"id": "chatcmpl-rec", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}
    pieces = [answer[i : i + 7] for i in range(0, len(answer), 7)]
    for n, piece in enumerate(pieces):
        if STATE["mode"] == "break_stream" and n == 2:
            raise RuntimeError("stream broken on purpose")
        if STATE["mode"] == "drip" and n > 0:
            await asyncio.sleep(0.2)
        chunk = {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
        yield f"data: {json.dumps(chunk)}\n\n"
    last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    yield f"data: {json.dumps(last)}\n\n"
    if (body.get("stream_options") or {}).get("include_usage"):  # as OpenAI: only when asked, choices empty
        yield f"data: {json.dumps({**base, 'choices': [], 'usage': _usage(answer)})}\n\n"
    yield "data: [DONE]\n\n"


async def responses(request: Request) -> Response:
    body, refusal = await _gate("responses", request)
    if refusal is not None:
        return refusal
    assert body is not None
    answer = "echo: " + (body.get("instructions") or "") + " " + _prompt(body)
    full = {
        "id": "resp_rec", "object": "response", "created_at": 0, "status": "completed", "model": body["model"],
        "output": [{"type": "message", "id": "msg_rec", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": answer, "annotations": []}]}],
        "usage": {"input_tokens": 3, "output_tokens": 3, "total_tokens": 6},
    }
    if body.get("stream"):
        return StreamingResponse(_responses_stream(full, answer), media_type="text/event-stream")
    return JSONResponse(full)


async def _responses_stream(full: dict[str, Any], answer: str):  # type: ignore[no-untyped-def]
    def event(payload: dict[str, Any]) -> str:
        return f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n"

    yield event({"type": "response.created", "sequence_number": 0, "response": {**full, "status": "in_progress", "output": []}})
    seq = 1
    for i in range(0, len(answer), 5):
        yield event({"type": "response.output_text.delta", "sequence_number": seq, "item_id": "msg_rec",
                     "output_index": 0, "content_index": 0, "delta": answer[i : i + 5], "logprobs": []})
        seq += 1
    yield event({"type": "response.output_text.done", "sequence_number": seq, "item_id": "msg_rec",
                 "output_index": 0, "content_index": 0, "text": answer, "logprobs": []})
    yield event({"type": "response.completed", "sequence_number": seq + 1, "response": full})


async def embeddings(request: Request) -> Response:
    body, refusal = await _gate("embeddings", request)
    if refusal is not None:
        return refusal
    assert body is not None
    items = body["input"] if isinstance(body["input"], list) else [body["input"]]
    data = [{"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]} for i, _ in enumerate(items)]
    return JSONResponse({"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 2, "total_tokens": 2}})


async def models(request: Request) -> Response:
    return JSONResponse({"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "rec"} for m in STATE["models"]]})


async def control(request: Request) -> Response:
    STATE.update(await request.json())
    return JSONResponse({"mode": STATE["mode"]})


app = Starlette(routes=[
    Route("/v1/chat/completions", chat, methods=["POST"]),
    Route("/v1/responses", responses, methods=["POST"]),
    Route("/v1/embeddings", embeddings, methods=["POST"]),
    Route("/v1/models", models, methods=["GET"]),
    Route("/_control", control, methods=["POST"]),
])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--models", default="gpt-test")
    parser.add_argument("--mode", default="ok")
    args = parser.parse_args()
    STATE.update(record=args.record, models=args.models.split(","), mode=args.mode)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
