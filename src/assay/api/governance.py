"""Governance API for administrators and auditors: registry, routes, changes, explanations.

Read-only except for the ledger event that viewing a decision record writes.
Changes to routes go through the CLI workflow (``assay changes``), where the
separation of duties is enforced with the same functions.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from assay.api.auth import Principal, require_role
from assay.api.ledger import audit_log_of
from assay.clock import format_rfc3339
from assay.governance import (
    change_steps,
    explain_request,
    get_change,
    get_evaluation,
    list_changes,
    list_models,
    list_routes,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/governance", tags=["governance"])
Reader = Annotated[Principal, Depends(require_role("auditor", "admin"))]


def _plain(value: Any) -> Any:
    """Dataclass fields as JSON-ready values (times in RFC 3339 with Z)."""
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(v) for k, v in value.__dict__.items()}
    if hasattr(value, "isoformat") and hasattr(value, "tzinfo"):
        return format_rfc3339(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@router.get("/models", summary="Registered model versions with provider terms")
def models(request: Request, _: Reader) -> list[dict[str, Any]]:
    found = list_models(request.app.state.instance)
    return [{k: v for k, v in _plain(m).items() if k != "system_prompt"} for m in found]


@router.get("/routes", summary="Live routes")
def routes(request: Request, _: Reader) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in _plain(r).items() if k != "history"}
        for r in list_routes(request.app.state.instance)
    ]


@router.get("/changes", summary="Change requests")
def changes(request: Request, _: Reader, state: str | None = None,
            route: str | None = None) -> list[dict[str, Any]]:
    return [_plain(c) for c in list_changes(request.app.state.instance, state=state, alias=route)]


@router.get("/changes/{change_id}", summary="One change request with its steps")
def change(request: Request, change_id: str, _: Reader) -> dict[str, Any]:
    instance = request.app.state.instance
    return {**_plain(get_change(instance, change_id)),
            "steps": _plain(change_steps(instance, change_id))}


@router.get("/evaluations/{evaluation_id}", summary="Per-case results and aggregate")
def evaluation(request: Request, evaluation_id: str, _: Reader) -> dict[str, Any]:
    result: dict[str, Any] = _plain(get_evaluation(request.app.state.instance, evaluation_id))
    return result


@router.get("/requests/{request_id}/explain", summary="How a request was answered")
def explain(request: Request, request_id: str, principal: Reader) -> dict[str, Any]:
    """Viewing is recorded in the ledger with the caller as actor before anything is shown."""
    found = explain_request(request.app.state.instance, audit_log_of(request), request_id,
                            actor=principal.subject)
    return dict(_plain(found))
