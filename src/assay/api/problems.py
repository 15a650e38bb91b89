"""RFC 9457 problem details: the one place an AssayError becomes an HTTP response."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assay.errors import AssayError
from assay.logs import get_logger

__all__ = ["RequestIdMiddleware", "install_problem_handlers", "problem_response", "request_id_of"]

PROBLEM_TYPE_BASE = "https://assay.dev/problems/"
_log = get_logger("assay.api")


def request_id_of(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    return rid if isinstance(rid, str) else uuid.uuid4().hex


def problem_response(
    status: int, title: str, detail: str, request: Request, *, type_slug: str, **extra: Any
) -> Response:
    body = {
        "type": PROBLEM_TYPE_BASE + type_slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": request_id_of(request),
        **extra,
    }
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/problem+json",
        headers={"x-assay-request-id": body["request_id"]},
    )


async def _assay_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AssayError)
    if exc.status >= 500:
        _log.warning("request_failed", error=type(exc).__name__, detail=exc.message)
    return problem_response(
        exc.status, exc.title, exc.message, request, type_slug=exc.type_slug, hint=exc.hint
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return problem_response(
        exc.status_code, "HTTP error", str(exc.detail), request, type_slug=f"http-{exc.status_code}"
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", ""))}
        for err in exc.errors()
    ]
    return problem_response(
        422,
        "Invalid request",
        "the request did not match the schema",
        request,
        type_slug="validation",
        errors=errors,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AssayError, _assay_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)


class RequestIdMiddleware:
    """Gives every request an id (``request.state.request_id``) and echoes it in a header.

    Pure ASGI rather than ``BaseHTTPMiddleware``: it adds no task per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-assay-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name == header[0] for name, _ in headers):
                    headers.append(header)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)
