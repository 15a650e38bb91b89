"""The OpenAI-compatible endpoints: /v1/chat/completions, /v1/responses, /v1/embeddings, /v1/models."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from assay.errors import AssayError, UsageError
from assay.gateway import metrics
from assay.gateway.openai_errors import openai_error
from assay.gateway.routing import DEMO_MODEL
from assay.gateway.service import Gateway, RequestContext, total_tokens, usage_of
from assay.gateway.streaming import relay_stream
from assay.gateway.upstream import UpstreamReply, UpstreamStream, UpstreamUnavailableError
from assay.logs import get_logger

__all__ = ["MODEL_ENDPOINTS", "handle_model_request", "router", "serve"]

router = APIRouter(tags=["gateway"])
_log = get_logger("assay.gateway")


class PayloadTooLargeError(UsageError):
    status = 413
    title = "Request too large"


_OBJECT = {"type": "object"}
_MESSAGES = {"type": "array", "minItems": 1, "items": {"type": "object"}}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "chat.completions": {
        "type": "object",
        "required": ["model", "messages"],
        "properties": {"model": {"type": "string"}, "messages": _MESSAGES, "stream": {"type": "boolean"}},
    },
    "responses": {
        "type": "object",
        "required": ["model", "input"],
        "properties": {
            "model": {"type": "string"},
            "input": {"oneOf": [{"type": "string"}, {"type": "array", "items": _OBJECT}]},
            "instructions": {"type": "string"},
            "stream": {"type": "boolean"},
        },
    },
    "embeddings": {
        "type": "object",
        "required": ["model", "input"],
        "properties": {
            "model": {"type": "string"},
            "input": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        },
    },
}
_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/json": {"schema": _OBJECT}}}
    for code, text in (
        (400, "Malformed request"), (401, "Missing or invalid key"), (403, "Role not allowed"),
        (404, "Unknown model"), (413, "Body too large"), (429, "Rate limited"),
        (502, "Upstream failed"), (503, "A control is unavailable (fail closed)"),
    )
}


_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The answer (a JSON document, or server-sent events when stream is true)",
        "content": {"application/json": {"schema": _OBJECT}, "text/event-stream": {"schema": {"type": "string"}}},
    },
    **_ERROR_RESPONSES,
}
_LISTING: dict[int | str, dict[str, Any]] = {
    200: {"description": "The models this key may use", "content": {"application/json": {"schema": _OBJECT}}},
    **{code: value for code, value in _ERROR_RESPONSES.items() if code in (401, 403, 503)},
}


def _openapi(endpoint: str) -> dict[str, Any]:
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": _SCHEMAS[endpoint]}}},
        "security": [{"bearer": []}],
    }


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    return rid if isinstance(rid, str) else Gateway.new_request_id()


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    """The body as a JSON object, refusing oversize, non-UTF-8 and malformed input."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"request body is larger than the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"request body is larger than the {limit}-byte limit")
        chunks.append(chunk)
    return parse_json(b"".join(chunks))


def parse_json(raw: bytes) -> dict[str, Any]:
    """A JSON object from ``raw``; orjson refuses invalid UTF-8 itself, so the separate UTF-8
    check only runs to explain a refusal."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise UsageError(f"request body is not valid UTF-8 (byte {bad.start})") from bad
        raise UsageError(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise UsageError("request body must be a JSON object")
    return body


def _validate(endpoint: str, body: dict[str, Any]) -> None:
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise UsageError("you must provide a model parameter")
    if endpoint == "chat.completions":
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise UsageError("'messages' must be a non-empty array of message objects")
    else:
        value = body.get("input")
        if not isinstance(value, str | list) or (isinstance(value, list) and not value):
            raise UsageError("'input' must be a string or a non-empty array")
    if "stream" in body and not isinstance(body["stream"], bool):
        raise UsageError("'stream' must be true or false")
    if endpoint == "embeddings" and body.get("stream"):
        raise UsageError("embeddings cannot be streamed")


def _headers(ctx: RequestContext, index: int | None) -> dict[str, str]:
    headers = {
        "x-assay-request-id": ctx.request_id,
        "x-assay-overhead-ms": f"{ctx.overhead_ms():.3f}",
    }
    if index is not None:
        headers["x-assay-ledger-index"] = str(index)
    if ctx.fail_open:
        headers["x-assay-fail-open"] = ",".join(ctx.fail_open)
    return headers


async def handle_model_request(request: Request, endpoint: str, path: str) -> Response:
    """One model request through the whole pipeline (also called by the ASGI fast path)."""
    started = time.perf_counter()
    gateway = gateway_of(request)
    rid = request_id(request)
    try:
        key = gateway.authenticate(request.headers.get("authorization"))
        body = await read_json(request, gateway.instance.settings.max_body_bytes)
        _validate(endpoint, body)
        ctx = await gateway.begin(endpoint, rid, started, key, body)
    except AssayError as exc:
        metrics.child(metrics.REQUESTS, endpoint, str(exc.status)).inc()
        return openai_error(exc, rid, (time.perf_counter() - started) * 1000)
    return await serve(gateway, ctx, path)


async def serve(gateway: Gateway, ctx: RequestContext, path: str) -> Response:
    """The pipeline after :meth:`Gateway.begin`: redaction, upstream, checks, record, answer.

    Also the entry point for in-process callers that send traffic the way live traffic goes
    (evaluations); every refusal becomes an OpenAI-shaped error response.
    """
    try:
        if ctx.payload.get("stream"):
            return await _stream(gateway, ctx, path)
        return await _plain(gateway, ctx, path)
    except AssayError as exc:
        ctx.status = exc.status
        gateway.finish_metrics(ctx)
        _log.warning("request_refused", request_id=ctx.request_id, error=type(exc).__name__, detail=exc.message)
        return openai_error(exc, ctx.request_id, ctx.overhead_ms())
    finally:
        gateway.record_queued(ctx)  # a refusal before its record: the ledger must not wait for it


async def _call(
    gateway: Gateway, ctx: RequestContext, path: str, payload: dict[str, Any], sent: dict[str, Any], *, stream: bool
) -> UpstreamReply | UpstreamStream:
    """The upstream's answer; when none answers, the attempt is recorded before the error goes out
    (the redacted prompt may have reached an upstream that then failed)."""
    t0 = time.perf_counter()
    try:
        try:
            if stream:
                return await gateway.pool.stream(ctx.route, path, payload)
            gateway.expect_record(ctx)
            return await gateway.pool.post(ctx.route, path, payload)
        finally:
            elapsed = time.perf_counter() - t0
            ctx.upstream_s += elapsed
            if not stream:
                gateway.upstream_answered(elapsed)
    except UpstreamUnavailableError as exc:
        ctx.status = exc.status
        await gateway.record(ctx, {"request": sent, "response": None, "error": exc.message})
        raise


def _document_of(ctx: RequestContext, body: bytes) -> dict[str, Any]:
    """The upstream's answer as a JSON object (a 502 error document if it is not JSON)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        ctx.status = 502
        return {"error": {"message": "the upstream answered with a body that is not JSON", "type": "server_error"}}
    return document if isinstance(document, dict) else {"data": document}


async def _redact_answer(
    gateway: Gateway, ctx: RequestContext, document: dict[str, Any], sent: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(stored, shown) of an answer; when its redaction fails closed, the attempt is recorded
    before the refusal goes out: the redacted prompt did reach the upstream (ADR 0079)."""
    try:
        return gateway.redact_out(ctx, document)
    except AssayError as exc:
        ctx.status = exc.status
        await gateway.record(ctx, {"request": sent, "response": None, "error": exc.message})
        raise


async def _plain(gateway: Gateway, ctx: RequestContext, path: str) -> Response:
    sent = gateway.redact_in(ctx, ctx.payload)
    reply = await _call(gateway, ctx, path, gateway.apply_route(ctx, sent), sent, stream=False)
    assert isinstance(reply, UpstreamReply)
    ctx.answered_by, ctx.provider_model, ctx.status = reply.target.upstream, reply.target.provider_model, reply.status
    document = _document_of(ctx, reply.body)
    stored, shown = await _redact_answer(gateway, ctx, document, sent)
    if "model" in shown and ctx.status == 200:
        shown["model"] = ctx.route.alias
    ctx.usage = usage_of(document)
    withheld = gateway.check_output(ctx, document)
    index = await gateway.record(ctx, {"request": sent, "response": stored})
    await gateway.limiter.charge(ctx.limits(), total_tokens(ctx.usage))
    gateway.finish_metrics(ctx)
    if withheld is not None:
        return openai_error(withheld, ctx.request_id, ctx.overhead_ms())
    return Response(orjson.dumps(shown), status_code=ctx.status, media_type="application/json", headers=_headers(ctx, index))


def _with_stream_usage(ctx: RequestContext, payload: dict[str, Any]) -> dict[str, Any]:
    """A streamed chat sends token usage only when asked; the record and token limits need it."""
    options = payload.get("stream_options")
    if ctx.endpoint != "chat.completions" or (isinstance(options, dict) and options.get("include_usage")):
        return payload
    ctx.usage_asked_by_gateway = True
    return {**payload, "stream_options": {**(options if isinstance(options, dict) else {}), "include_usage": True}}


async def _stream(gateway: Gateway, ctx: RequestContext, path: str) -> Response:
    sent = gateway.redact_in(ctx, ctx.payload)
    opened = await _call(gateway, ctx, path, _with_stream_usage(ctx, gateway.apply_route(ctx, sent)), sent, stream=True)
    ctx.answered_by, ctx.provider_model = opened.target.upstream, opened.target.provider_model
    if isinstance(opened, UpstreamReply):  # refused before a stream began: an error document
        ctx.status = opened.status
        stored, shown = await _redact_answer(gateway, ctx, _document_of(ctx, opened.body), sent)
        index = await gateway.record(ctx, {"request": sent, "response": stored})
        gateway.finish_metrics(ctx)
        return Response(orjson.dumps(shown), status_code=ctx.status, media_type="application/json", headers=_headers(ctx, index))
    if gateway.holds_stream(ctx):
        return await _held_stream(gateway, ctx, opened, sent)
    body: AsyncIterator[bytes] = relay_stream(gateway, ctx, opened, sent)
    return StreamingResponse(body, media_type="text/event-stream", headers={**_headers(ctx, None), "cache-control": "no-cache"})


async def _held_stream(gateway: Gateway, ctx: RequestContext, opened: UpstreamStream, sent: dict[str, Any]) -> Response:
    """A stream whose answer must pass a blocking output check: nothing is sent until the whole
    answer is in and checked; a violation becomes an OpenAI-shaped error instead of the stream."""
    events = [chunk async for chunk in relay_stream(gateway, ctx, opened, sent)]
    if ctx.withheld is not None:
        return openai_error(ctx.withheld, ctx.request_id, ctx.overhead_ms())
    headers = _headers(ctx, ctx.ledger_index)  # held until recorded: the index can be a header too
    return Response(b"".join(events), media_type="text/event-stream", headers={**headers, "cache-control": "no-cache"})


#: URL path -> (endpoint name, upstream path) of the POST model endpoints.
MODEL_ENDPOINTS: dict[str, tuple[str, str]] = {
    "/v1/chat/completions": ("chat.completions", "chat/completions"),
    "/v1/responses": ("responses", "responses"),
    "/v1/embeddings": ("embeddings", "embeddings"),
}


@router.post("/v1/chat/completions", openapi_extra=_openapi("chat.completions"), responses=_ANSWER)
async def chat_completions(request: Request) -> Response:
    """Chat completions, plain or streamed as server-sent events."""
    return await handle_model_request(request, "chat.completions", "chat/completions")


@router.post("/v1/responses", openapi_extra=_openapi("responses"), responses=_ANSWER)
async def responses(request: Request) -> Response:
    """The Responses API, plain or streamed."""
    return await handle_model_request(request, "responses", "responses")


@router.post("/v1/embeddings", openapi_extra=_openapi("embeddings"), responses=_ANSWER)
async def embeddings(request: Request) -> Response:
    """Embeddings (the input is redacted like any prompt)."""
    return await handle_model_request(request, "embeddings", "embeddings")


@router.get("/v1/models", openapi_extra={"security": [{"bearer": []}]}, responses=_LISTING)
async def list_models(request: Request) -> Response:
    """The model aliases this key may use."""
    gateway = gateway_of(request)
    rid = request_id(request)
    try:
        key = gateway.authenticate(request.headers.get("authorization"))
        policy = gateway.policies.current(key.tenant).policy
    except AssayError as exc:
        return openai_error(exc, rid)
    aliases = [
        a for a in gateway.resolver_of().aliases()
        if key.may_use(a) and (policy.allowed_models is None or a in policy.allowed_models)
    ]
    data = [
        {"id": a, "object": "model", "created": 0, "owned_by": "assay (built-in demo model)" if a == DEMO_MODEL else "assay"}
        for a in aliases
    ]
    return Response(orjson.dumps({"object": "list", "data": data}), media_type="application/json", headers={"x-assay-request-id": rid})
