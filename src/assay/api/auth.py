"""Bearer-key authentication and role checks for API routers.

Routers declare what they need with ``Depends(require_role("auditor", "admin"))``.
Keys are resolved by a pluggable *key resolver* stored on
``app.state.key_resolver``: a callable (sync or async) that takes the presented
bearer token and returns a :class:`Principal`, or None for an unknown, revoked or
expired key. The resolver owns key storage and must compare secrets in constant
time. Without a resolver every request is refused with 401: authentication fails
closed, never open.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import Request

from assay.errors import AuthError
from assay.gateway import metrics
from assay.logs import get_logger

__all__ = ["ForbiddenError", "KeyResolver", "Principal", "authenticate", "refuse_access", "require_role"]

_log = get_logger("assay.api.auth")


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``subject`` is the ledger actor form (``apikey:<id>``, ``user:<id>``).

    ``tenant`` is the tenant the caller is confined to. ``platform`` marks the platform
    operator (a key of ``ASSAY_PLATFORM_TENANT``), who reads every tenant's data. It must be
    set explicitly: a resolver that names no tenant grants nothing across tenants.
    """

    subject: str
    roles: frozenset[str] = field(default_factory=frozenset)
    tenant: str | None = None
    platform: bool = False

    @property
    def confined_to(self) -> str | None:
        """The tenant whose records this caller may read; None: every tenant's (the platform).

        Raises :class:`ForbiddenError` for a caller of no tenant that is not the platform's.
        """
        if self.platform:
            return None
        if self.tenant is None:
            raise ForbiddenError(
                "this key belongs to no tenant, so it may read no tenant's records",
                hint="Use a key created with `assay keys create --tenant <tenant>`.",
            )
        return self.tenant


KeyResolver = Callable[[str], "Principal | Awaitable[Principal | None] | None"]


class ForbiddenError(AuthError):
    """Authenticated, but the key's roles do not allow this."""

    status = 403
    title = "Forbidden"
    default_hint = "Use a key with one of the roles this endpoint names."


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("missing or malformed Authorization header")
    return token.strip()


async def authenticate(request: Request) -> Principal:
    """The principal behind the request's bearer key; raises :class:`AuthError` otherwise."""
    resolver: KeyResolver | None = getattr(request.app.state, "key_resolver", None)
    if resolver is None:
        raise AuthError(
            "API key authentication is not configured on this server",
            hint="Start Assay with the gateway's key store enabled, then create a key.",
        )
    result = resolver(_bearer_token(request))
    principal = await result if inspect.isawaitable(result) else result
    if not isinstance(principal, Principal):
        raise AuthError("the API key is unknown, revoked or expired")
    request.state.principal = principal
    return principal


def refuse_access(request: Request, principal: Principal, reason: str) -> None:
    """Count and log a key's refused call, for security monitoring (`/metrics`, the logs).

    The caller still answers as it would have: another tenant's record stays a plain 404.
    """
    metrics.ACCESS_REFUSED.labels(reason=reason).inc()
    _log.warning("access_refused", reason=reason, actor=principal.subject, tenant=principal.tenant,
                 method=request.method, path=request.url.path)


def require_role(*roles: str, platform: bool = False) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency admitting principals holding any of ``roles``.

    ``platform``: the endpoint serves data of every tenant (the whole ledger, the platform's
    compliance, model governance), so only the platform operator's keys may call it.
    """
    if not roles:
        raise ValueError("require_role needs at least one role")
    allowed = frozenset(roles)

    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        if not principal.roles & allowed:
            refuse_access(request, principal, "role")
            raise ForbiddenError(f"this endpoint needs one of the roles: {', '.join(sorted(allowed))}")
        if platform and not principal.platform:
            refuse_access(request, principal, "platform")
            who = f"a key of tenant {principal.tenant}" if principal.tenant else "a key of no tenant"
            raise ForbiddenError(
                f"this endpoint serves every tenant's data; {who} may not call it",
                hint="Use a key of the platform tenant (ASSAY_PLATFORM_TENANT, `platform` by default): "
                "`assay keys create --tenant platform --role auditor`.",
            )
        return principal

    return dependency
