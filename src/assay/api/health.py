"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from assay.errors import AssayError, StoreError
from assay.store import current_heads, expected_heads

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process is serving")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database reachable and schema current")
def readyz(request: Request) -> JSONResponse:
    instance = request.app.state.instance
    checks: dict[str, Any] = {}
    ready = True
    try:
        instance.db.ping()
        checks["database"] = "ok"
        current, expected = current_heads(instance.db), expected_heads(instance.db)
        checks["migrations"] = "ok" if current == expected else "pending"
        ready = current == expected
    except StoreError as exc:
        checks["database"] = exc.message
        ready = False
    except AssayError as exc:  # pragma: no cover - any other component failure
        checks["error"] = exc.message
        ready = False
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)
