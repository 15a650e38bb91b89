"""Relay a streamed answer: redact each delta (streaming-safe), record, then end the stream.

The closing ``data: [DONE]`` (chat) or the final event (responses) is sent only
after the ledger record is durable; its index is sent first as an SSE comment
(``: x-assay-ledger-index N``), which clients ignore, followed by the whole stream's
overhead (``: x-assay-overhead-ms X``; the header of that name was sent with the first
byte and only covers the time until then). A stream that breaks
after it started is ended with an error event and never retried.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from assay.errors import AssayError
from assay.gateway._walk import as_document, walk_strings, without_logprobs
from assay.gateway.openai_errors import error_body
from assay.gateway.service import Gateway, RequestContext, total_tokens, usage_of
from assay.gateway.upstream import UpstreamStream
from assay.logs import get_logger

__all__ = ["relay_stream"]

_log = get_logger("assay.gateway.stream")

#: The status recorded for a stream whose client disconnected (nginx's "client closed request").
CLIENT_CLOSED = 499


class _Deltas:
    """One streaming redactor (and pseudonym restorer) per text channel.

    ``text`` keeps what is stored (redacted); what the client receives may have its own
    pseudonymised values restored, as the tenant policy says.
    """

    def __init__(self, gateway: Gateway, ctx: RequestContext) -> None:
        self._gateway = gateway
        self._ctx = ctx
        self._open: dict[str, tuple[Any, Any]] = {}
        self.text: dict[str, list[str]] = {}

    def _channel(self, channel: str) -> tuple[Any, Any]:
        pair = self._open.get(channel)
        if pair is None:
            redactor = self._ctx.redactor
            if redactor is None:
                pair = (None, None)
            else:
                pair = (
                    self._gateway.guarded(self._ctx, "redaction", redactor.stream, None),
                    redactor.stream_restorer(),
                )
            self._open[channel] = pair
        return pair

    def _emit(self, channel: str, redacted: str, restorer: Any, final: bool) -> str:
        self.text.setdefault(channel, []).append(redacted)
        if restorer is None:
            return redacted
        shown = restorer.feed(redacted)
        return str(shown + restorer.finish()) if final else str(shown)

    def feed(self, channel: str, delta: str) -> str:
        stream, restorer = self._channel(channel)
        if stream is None:
            redacted = delta
        else:
            redacted = str(self._gateway.guarded(self._ctx, "redaction", lambda: stream.feed(delta), delta))
        return self._emit(channel, redacted, restorer, final=False)

    def finish(self, channel: str) -> str:
        pair = self._open.pop(channel, None)
        if pair is None:
            return ""
        stream, restorer = pair
        tail = "" if stream is None else str(self._gateway.guarded(self._ctx, "redaction", stream.finish, ""))
        return self._emit(channel, tail, restorer, final=True)

    def channels(self) -> list[str]:
        return list(self._open)

    def transcript(self) -> dict[str, str]:
        return {k: "".join(v) for k, v in self.text.items()}


def _sse(payload: bytes, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + payload + b"\n\n"


async def relay_stream(
    gateway: Gateway, ctx: RequestContext, upstream: UpstreamStream, sent: dict[str, Any]
) -> AsyncIterator[bytes]:
    deltas = _Deltas(gateway, ctx)
    is_chat = ctx.endpoint == "chat.completions"
    failure: str | None = None
    try:
        async for out in _relay(gateway, ctx, upstream, deltas, is_chat):
            yield out
    except AssayError as exc:
        failure = exc.message
    except Exception as exc:  # noqa: BLE001 - the stream broke after it started: report, never retry
        failure = f"the upstream stream ended abnormally ({type(exc).__name__})"
    except BaseException:  # cancelled or closed: the client went away mid-stream
        gateway.spawn(_record_abandoned(gateway, ctx, upstream, deltas, sent))
        raise
    await upstream.aclose()
    for channel in deltas.channels():  # an upstream that never closed a channel
        tail = deltas.finish(channel)
        if tail and is_chat and failure is None:
            yield _sse(orjson.dumps(_chat_tail(channel, tail)))
    answer = deltas.transcript()
    if failure is not None:
        ctx.status = 502
    else:
        gateway.check_streamed(ctx, answer)
    try:
        index = await gateway.record(ctx, {"request": sent, "response": answer, "error": failure})
    except AssayError as exc:
        ctx.status = exc.status
        gateway.finish_metrics(ctx)
        yield _sse(error_body(exc.status, f"{exc.message} ({exc.hint})", code="service_unavailable"), "error")
        return
    ctx.ledger_index = index
    await gateway.limiter.charge(ctx.limits(), total_tokens(ctx.usage))
    gateway.finish_metrics(ctx)
    for out in _ending(ctx, index, failure, is_chat):
        yield out


async def _record_abandoned(
    gateway: Gateway, ctx: RequestContext, upstream: UpstreamStream, deltas: _Deltas, sent: dict[str, Any]
) -> None:
    """Record a stream whose client left: the prompt reached the upstream, so it is audited too.

    Runs as its own task: the request's task is being cancelled and could not await the ledger.
    """
    try:
        await upstream.aclose()
    finally:
        for channel in deltas.channels():
            deltas.finish(channel)  # held-back text is redacted into the transcript, never sent
        ctx.status = CLIENT_CLOSED
        try:
            await gateway.record(
                ctx, {"request": sent, "response": deltas.transcript(), "error": "the client closed the connection"}
            )
        except AssayError as exc:
            _log.error("abandoned_stream_not_recorded", request_id=ctx.request_id, error=exc.message)
        await gateway.limiter.charge(ctx.limits(), total_tokens(ctx.usage))
        gateway.finish_metrics(ctx)


def _ending(ctx: RequestContext, index: int | None, failure: str | None, is_chat: bool) -> list[bytes]:
    """The ledger index and whole-stream overhead comments, then an error event or ``[DONE]``.

    The x-assay-overhead-ms header went out with the first byte; the comment is the whole stream's.
    """
    out = [f": x-assay-ledger-index {index}\n\n".encode()] if index is not None else []
    out.append(f": x-assay-overhead-ms {ctx.overhead_ms():.3f}\n\n".encode())
    if failure is not None:
        out.append(_sse(error_body(502, failure, code="upstream_error"), "error"))
    elif ctx.withheld is not None:
        withheld = ctx.withheld
        out.append(_sse(error_body(withheld.status, f"{withheld.message} ({withheld.hint})", code="output_rejected"), "error"))
    elif is_chat:
        out.append(b"data: [DONE]\n\n")
    return out


async def _relay(
    gateway: Gateway, ctx: RequestContext, upstream: UpstreamStream, deltas: _Deltas, is_chat: bool
) -> AsyncIterator[bytes]:
    chunks = upstream.chunks.__aiter__()
    while True:
        t0 = time.perf_counter()
        try:
            data = await chunks.__anext__()
        except StopAsyncIteration:
            return
        finally:
            ctx.upstream_s += time.perf_counter() - t0
        if data == b"[DONE]":
            return
        event = orjson.loads(data)
        if not isinstance(event, dict):
            continue
        handler = _chat_event if is_chat else _responses_event
        for out in handler(gateway, ctx, deltas, event):
            yield out


#: Streamed text fields of a chat delta: channel suffix -> (path in the delta). Each gets its own
#: streaming redactor, since a value can be split across chunks.
_DELTA_TEXT: dict[str, tuple[str, ...]] = {
    "": ("content",),
    ":refusal": ("refusal",),
    ":function_call": ("function_call", "arguments"),
    ":audio": ("audio", "transcript"),
}


def _nest(path: tuple[str, ...], text: str) -> dict[str, Any]:
    """``{"a": {"b": text}}`` for the path ``("a", "b")``."""
    out: dict[str, Any] = {path[-1]: text}
    for name in reversed(path[:-1]):
        out = {name: out}
    return out


def _tail_delta(channel: str, tail: str) -> tuple[int, dict[str, Any]]:
    """(choice index, delta) carrying text a streaming redactor held back on ``channel``."""
    parts = channel.split(":")  # choice:<i>[:refusal|:function_call|:audio|:tool:<j>]
    index = int(parts[1])
    if len(parts) == 4:
        return index, {"tool_calls": [{"index": int(parts[3]), "function": {"arguments": tail}}]}
    suffix = ":" + parts[2] if len(parts) == 3 else ""
    return index, _nest(_DELTA_TEXT[suffix], tail)


def _chat_tail(channel: str, tail: str, base: dict[str, Any] | None = None) -> dict[str, Any]:
    index, delta = _tail_delta(channel, tail)
    head = {k: v for k, v in (base or {}).items() if k not in ("choices", "usage")}
    return {**head, "object": "chat.completion.chunk", "choices": [{"index": index, "delta": delta, "finish_reason": None}]}


def _delta_texts(delta: dict[str, Any], channel: str) -> list[tuple[str, dict[str, Any], str]]:
    """(channel, the dict holding the text, its key) for every streamed text of a delta."""
    found = []
    for suffix, path in _DELTA_TEXT.items():
        holder: Any = delta
        for name in path[:-1]:
            holder = holder.get(name) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and isinstance(holder.get(path[-1]), str):
            found.append((channel + suffix, holder, path[-1]))
    for call in delta.get("tool_calls") or []:
        fn = call.get("function") if isinstance(call, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
            found.append((f"{channel}:tool:{call.get('index', 0)}", fn, "arguments"))
    return found


def _chat_event(gateway: Gateway, ctx: RequestContext, deltas: _Deltas, chunk: dict[str, Any]) -> list[bytes]:
    out: list[bytes] = []
    if "model" in chunk:
        chunk["model"] = ctx.route.alias
    withhold = ctx.redactor is not None and ctx.redactor.redacts_outbound
    streamed: set[int] = set()
    for choice in chunk.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        channel = f"choice:{choice.get('index', 0)}"
        delta = choice.get("delta")
        for name, holder, key in _delta_texts(delta if isinstance(delta, dict) else {}, channel):
            holder[key] = deltas.feed(name, holder[key])
            streamed.add(id(holder[key]))
        if withhold and choice.get("logprobs"):
            choice["logprobs"] = None  # see without_logprobs
        if choice.get("finish_reason") is not None:
            for name in [c for c in deltas.channels() if c == channel or c.startswith(channel + ":")]:
                tail = deltas.finish(name)
                if tail:
                    out.append(_sse(orjson.dumps(_chat_tail(name, tail, chunk))))
    chunk = _redact_rest(gateway, ctx, chunk, streamed)
    if isinstance(chunk.get("usage"), dict):
        ctx.usage = usage_of(chunk)
    if ctx.usage_asked_by_gateway:  # the client did not ask for usage: do not show it
        chunk.pop("usage", None)
        if not chunk.get("choices"):
            return out
    out.append(_sse(orjson.dumps(chunk)))
    return out


def _redact_rest(gateway: Gateway, ctx: RequestContext, chunk: dict[str, Any], streamed: set[int]) -> dict[str, Any]:
    """Redact every string of ``chunk`` the channels did not (a field unknown today), each on its own."""
    redactor = ctx.redactor
    if redactor is None:
        return chunk

    def text(value: str) -> str:
        return value if id(value) in streamed else redactor.restored(redactor.outbound(value))

    return as_document(gateway.guarded(ctx, "redaction", lambda: walk_strings(chunk, text, top_level_skip=frozenset()), chunk))


def _responses_event(gateway: Gateway, ctx: RequestContext, deltas: _Deltas, event: dict[str, Any]) -> list[bytes]:
    kind = str(event.get("type", ""))
    channel = f"{kind.rsplit('.', 1)[0]}:{event.get('item_id')}:{event.get('content_index', 0)}"
    out: list[bytes] = []
    if kind.endswith(".delta") and isinstance(event.get("delta"), str):
        event["delta"] = deltas.feed(channel, event["delta"])
        if event.get("logprobs") and ctx.redactor is not None and ctx.redactor.redacts_outbound:
            event["logprobs"] = []  # see without_logprobs
        return [_sse(orjson.dumps(event), kind)]
    if kind.endswith(".done") and channel in deltas.channels():
        tail = deltas.finish(channel)
        if tail:
            extra = {**event, "type": kind[: -len(".done")] + ".delta", "delta": tail}
            for drop in ("text", "arguments"):
                extra.pop(drop, None)
            if "logprobs" in extra:
                extra["logprobs"] = []  # the summary's tokens are not this tail's
            out.append(_sse(orjson.dumps(extra), extra["type"]))
    response = event.get("response")
    if isinstance(response, dict):
        ctx.usage = usage_of(response) or ctx.usage
        if "model" in response:
            response["model"] = ctx.route.alias
    redactor = ctx.redactor
    if redactor is not None:
        if redactor.redacts_outbound:
            event = as_document(without_logprobs(event))
        event = gateway.guarded(
            ctx, "redaction",
            lambda: walk_strings(
                event,
                lambda text: redactor.restored(redactor.outbound_repeat(text)),
                top_level_skip=frozenset({"type", "response_id"}),
            ),
            event,
        )
    out.append(_sse(orjson.dumps(event), kind))
    return out
