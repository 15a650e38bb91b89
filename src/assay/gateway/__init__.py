"""The trust gateway: an OpenAI-compatible proxy that enforces the controls on every request.

Public API (the web framework side lives in :mod:`assay.gateway.wiring` and
:mod:`assay.gateway.api`, installed by ``assay.api.create_app``)::

    ResolvedRoute, RouteResolver, StaticRouteResolver     # which upstream answers an alias
    ApiKeyStore(db, clock, audit).create/revoke/verify    # keys: hash only, constant-time check
    PolicyStore(db, clock, audit).current/set             # versioned tenant policy
    PolicyLooseningError                                  # a loosening must be confirmed
    TenantPolicy, default_policy()                        # secure by default
    Breaker, InProcessLimiter, RedisLimiter, Limit        # availability and rate limits
"""

from __future__ import annotations

from assay.gateway.breaker import Breaker
from assay.gateway.keys import ROLES, ApiKey, ApiKeyStore, KeyRejectedError
from assay.gateway.limits import (
    InProcessLimiter,
    Limit,
    RateLimitedError,
    RedisLimiter,
    make_limiter,
)
from assay.gateway.policy import (
    PolicyLooseningError,
    PolicyStore,
    StoredPolicy,
    TenantPolicy,
    default_policy,
    parse_policy,
)
from assay.gateway.routing import (
    DEMO_MODEL,
    ModelNotFoundError,
    ResolvedRoute,
    RouteResolver,
    StaticRouteResolver,
    Target,
    targets_of,
)

__all__ = [
    "DEMO_MODEL",
    "ROLES",
    "ApiKey",
    "ApiKeyStore",
    "Breaker",
    "InProcessLimiter",
    "KeyRejectedError",
    "Limit",
    "ModelNotFoundError",
    "PolicyLooseningError",
    "PolicyStore",
    "RateLimitedError",
    "RedisLimiter",
    "ResolvedRoute",
    "RouteResolver",
    "StaticRouteResolver",
    "StoredPolicy",
    "Target",
    "TenantPolicy",
    "default_policy",
    "make_limiter",
    "parse_policy",
    "targets_of",
]
