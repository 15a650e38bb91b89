"""Errors in OpenAI's JSON shape, so the official clients raise the right exception class."""

from __future__ import annotations

import orjson
from starlette.responses import Response

from assay.errors import AssayError

__all__ = ["error_body", "openai_error"]

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def error_body(status: int, message: str, *, code: str | None = None, param: str | None = None) -> bytes:
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return orjson.dumps({"error": {"message": message, "type": kind, "param": param, "code": code}})


def _code(exc: AssayError) -> str | None:
    explicit = getattr(exc, "code", None)
    if isinstance(explicit, str):
        return explicit
    return {
        401: "invalid_api_key",
        403: "insufficient_permissions",
        404: "model_not_found",  # the only thing a model endpoint can fail to find
        413: "request_too_large",
        429: "rate_limit_exceeded",
        502: "upstream_error",
        503: "service_unavailable",
    }.get(exc.status, exc.type_slug)


def openai_error(exc: AssayError, request_id: str, overhead_ms: float | None = None) -> Response:
    """The OpenAI-shaped response for ``exc`` (with the hint appended to the message)."""
    message = exc.message if not exc.hint else f"{exc.message} ({exc.hint})"
    headers = {"x-assay-request-id": request_id}
    if overhead_ms is not None:
        headers["x-assay-overhead-ms"] = f"{overhead_ms:.3f}"
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int):
        headers["retry-after"] = str(retry_after)
    param = "model" if _code(exc) == "model_not_found" else None
    return Response(
        error_body(exc.status, message, code=_code(exc), param=param),
        status_code=exc.status,
        media_type="application/json",
        headers=headers,
    )
