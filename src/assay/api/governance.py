"""Governance API for administrators and auditors: registry, routes, changes, explanations.

Read-only except for the ledger event that viewing a decision record writes and
the two steps that close a change without making it live: reject (by a verified
person other than the requester) and withdraw (by the requester). The other
steps go through the CLI workflow (``assay changes``); both use the same
functions, which enforce the separation of duties.

The registry, routes, changes and evaluations are the platform's: they are kept per model
alias, so only the platform operator's keys (tenant ``ASSAY_PLATFORM_TENANT``) use them.
Decision records are per tenant (:func:`explain`): any tenant's auditor or admin key reads
its own.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from assay.api.auth import ForbiddenError, Principal, refuse_access, require_role
from assay.api.governance_identity import verify_person
from assay.api.ledger import audit_log_of
from assay.clock import format_rfc3339
from assay.governance import (
    ForeignRecordError,
    change_steps,
    explain_request,
    get_change,
    get_evaluation,
    list_changes,
    list_models,
    list_routes,
    reject_change,
    withdraw_change,
)
from assay.web.roles import ROLES

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/governance", tags=["governance"])
Reader = Annotated[Principal, Depends(require_role("auditor", "admin", platform=True))]
Admin = Annotated[Principal, Depends(require_role("admin", platform=True))]
TenantReader = Annotated[Principal, Depends(require_role("auditor", "admin"))]  # confined to its tenant


class RejectBody(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="Why it is turned down.")
    user: str = Field(min_length=1, max_length=320, description="The reviewer's e-mail (a registered person).")
    totp: str = Field(min_length=6, max_length=10, description="A current authenticator code.")


class WithdrawBody(BaseModel):
    reason: str = Field(default="", max_length=2000)
    user: str | None = Field(default=None, max_length=320,
                             description="The requester's e-mail when the change was proposed as a person.")
    totp: str | None = Field(default=None, max_length=10)


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
def explain(request: Request, request_id: str, principal: TenantReader) -> dict[str, Any]:
    """Viewing is recorded in the ledger with the caller as actor before anything is shown.

    Decision records belong to a tenant: a key reads only its own tenant's (whatever its
    role); another tenant's record is a 404 like a missing one, and no viewing is recorded.
    Only the platform operator's keys read across tenants; a key of no tenant reads nothing.
    """
    try:
        tenant = principal.confined_to
    except ForbiddenError:
        refuse_access(request, principal, "no_tenant")
        raise
    try:
        found = explain_request(request.app.state.instance, audit_log_of(request), request_id,
                                actor=principal.subject, tenant=tenant)
    except ForeignRecordError:
        refuse_access(request, principal, "other_tenant")
        raise
    return dict(_plain(found))


@router.post("/changes/{change_id}/reject", summary="Reject a change that has not gone live")
def reject(request: Request, change_id: str, body: RejectBody, _: Admin) -> dict[str, Any]:
    """The reviewer proves who they are with an authenticator code; never the requester."""
    instance, audit = request.app.state.instance, audit_log_of(request)
    person = verify_person(instance, audit, user=body.user, code=body.totp,
                           purpose="reject a change")
    found = reject_change(instance, audit, change_id, actor=person.actor, reason=body.reason,
                          verified_by=person.verified_by)
    return dict(_plain(found))


@router.post("/changes/{change_id}/withdraw", summary="Withdraw your own change")
def withdraw(request: Request, change_id: str, body: WithdrawBody,
             principal: Admin) -> dict[str, Any]:
    """By the requester: the calling key, or the person named by ``user`` with a code."""
    instance, audit = request.app.state.instance, audit_log_of(request)
    actor, verified_by = principal.subject, "api_key"
    if body.user:
        person = verify_person(instance, audit, user=body.user, code=body.totp or "",
                               purpose="withdraw a change", roles=frozenset(ROLES))
        actor, verified_by = person.actor, person.verified_by
    found = withdraw_change(instance, audit, change_id, actor=actor, reason=body.reason,
                            verified_by=verified_by)
    return dict(_plain(found))
