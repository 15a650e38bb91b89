"""The trust gateway: an OpenAI-compatible proxy that enforces the controls on every request."""

from __future__ import annotations

from assay.gateway.routing import (
    DEMO_MODEL,
    ModelNotFoundError,
    ResolvedRoute,
    RouteResolver,
    StaticRouteResolver,
    Target,
)

__all__ = [
    "DEMO_MODEL",
    "ModelNotFoundError",
    "ResolvedRoute",
    "RouteResolver",
    "StaticRouteResolver",
    "Target",
]
