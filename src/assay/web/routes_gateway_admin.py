"""API keys and tenant policies (the gateway's side of a tenant), managed by admins.

These go through the running gateway's own stores, so a key created or revoked here, or a
policy changed here, applies to the very next request and is recorded in the ledger first.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Form, Request
from starlette.responses import Response

from assay.errors import UsageError
from assay.gateway.keys import ROLES as KEY_ROLES
from assay.gateway.policy import parse_policy
from assay.web._core import action, page, render, who
from assay.web.roles import Capability as Cap

_Text = Annotated[str, Form()]


def _gateway(request: Request) -> Any:
    gateway = request.app.state.gateway
    gateway.audit()  # the stores record privileged changes through the gateway's ledger sink
    return gateway


def _page(request: Request, tenant: str, status: int = 200, **extra: object) -> Response:
    gateway = _gateway(request)
    keys = gateway.keys.list(tenant)
    stored = gateway.policies.current(tenant)
    policy_json = json.dumps(json.loads(stored.policy.canonical_json()), indent=2, sort_keys=True)
    return render(
        request,
        "tenant_access.html",
        status,
        tenant=tenant,
        keys=keys,
        policy=stored,
        policy_json=policy_json,
        key_roles=KEY_ROLES,
        **extra,
    )


@page("/tenants/{tenant_id}/access", Cap.VIEW_TENANTS)
def tenant_access(request: Request, tenant_id: str) -> Response:
    return _page(request, tenant_id)


@action("/tenants/{tenant_id}/keys", Cap.MANAGE_TENANTS)
async def key_create(
    request: Request, tenant_id: str, role: _Text, name: Annotated[str, Form()] = ""
) -> Response:
    actor = f"user:{who(request).user_id}"
    try:
        key, secret = await _gateway(request).keys.create(
            tenant_id, role, actor=actor, name=name.strip() or None
        )
    except UsageError as exc:
        return _page(request, tenant_id, 400, error=f"{exc.message}. {exc.hint}")
    return _page(request, tenant_id, 201, secret=secret, secret_for=key.prefix)


@action("/tenants/{tenant_id}/keys/{key_id}/revoke", Cap.MANAGE_TENANTS)
async def key_revoke(request: Request, tenant_id: str, key_id: str, confirm: _Text) -> Response:
    if confirm != "revoke":
        return _page(request, tenant_id, 400, error="Nothing revoked: tick the confirmation box.")
    gateway = _gateway(request)
    key = gateway.keys.get(key_id)
    if key.tenant != tenant_id:
        return _page(request, tenant_id, 404, error=f"Key {key_id} does not belong to {tenant_id}.")
    await gateway.keys.revoke(key_id, actor=f"user:{who(request).user_id}")
    return _page(request, tenant_id, done=f"Key {key.prefix} revoked; it is refused from now on.")


@action("/tenants/{tenant_id}/policy", Cap.MANAGE_TENANTS)
async def policy_set(
    request: Request, tenant_id: str, policy: _Text, loosen: Annotated[str, Form()] = ""
) -> Response:
    try:
        stored = await _gateway(request).policies.set(
            tenant_id, parse_policy(policy), actor=f"user:{who(request).user_id}",
            allow_loosening=loosen == "yes",
        )
    except UsageError as exc:
        return _page(request, tenant_id, 400, error=f"{exc.message}. {exc.hint}")
    done = f"Policy version {stored.version} applies from now on."
    if stored.loosened:
        done += f" It loosens the previous version: {', '.join(stored.loosened)}."
    return _page(request, tenant_id, done=done)
