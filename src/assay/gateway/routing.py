"""Model routes: which upstream and provider model answer a model alias.

The gateway asks ``app.state.route_resolver`` (a :class:`RouteResolver`) for every
request. The default resolver is built from the configured upstreams; the
governance area installs a registry-backed one that serves only registered,
activated routes. Pure module: no database, web framework, clock or environment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from assay.errors import NotFoundError

__all__ = [
    "DEMO_MODEL",
    "DEMO_UPSTREAM",
    "ModelNotFoundError",
    "ResolvedRoute",
    "RouteResolver",
    "StaticRouteResolver",
    "Target",
]

DEMO_MODEL = "assay-demo"
DEMO_UPSTREAM = "assay-demo"

_EMPTY: Mapping[str, object] = MappingProxyType({})


class ModelNotFoundError(NotFoundError):
    """The model alias is unknown or not activated (OpenAI: 404 ``model_not_found``)."""

    title = "Model not found"
    default_hint = "List the models this key may use with GET /v1/models."


@dataclass(frozen=True)
class Target:
    """One upstream that can answer a route, and the model name it knows it by."""

    upstream: str
    provider_model: str


@dataclass(frozen=True)
class ResolvedRoute:
    """Everything the gateway needs to send one request for ``alias`` upstream.

    ``fallbacks`` are tried in order when the primary upstream fails before
    answering (never after a streamed response has started).
    """

    alias: str
    upstream: str
    provider_model: str
    model_version_id: str | None = None
    prompt_template_version: str | None = None
    system_prompt: str | None = None
    params: Mapping[str, object] = field(default_factory=lambda: _EMPTY)
    output_schema: Mapping[str, object] | None = None
    route_version: int | None = None
    fallbacks: tuple[Target, ...] = ()

    @property
    def targets(self) -> tuple[Target, ...]:
        """The primary upstream then the fallbacks."""
        return (Target(self.upstream, self.provider_model), *self.fallbacks)


@runtime_checkable
class RouteResolver(Protocol):
    def resolve(self, alias: str) -> ResolvedRoute:
        """The route for ``alias``; raises :class:`NotFoundError` when there is none."""
        ...

    def aliases(self) -> list[str]:
        """Every alias this resolver serves, sorted."""
        ...


class StaticRouteResolver:
    """Routes from configuration: each alias goes to the upstreams that list it, in order."""

    def __init__(self, routes: Mapping[str, Sequence[Target]]) -> None:
        self._routes = {alias: tuple(t) for alias, t in routes.items() if t}

    @classmethod
    def from_models(cls, models: Sequence[tuple[str, str, str]]) -> StaticRouteResolver:
        """Build from ``(upstream, alias, provider_model)`` rows; order sets the fallbacks."""
        routes: dict[str, list[Target]] = {}
        for upstream, alias, provider_model in models:
            routes.setdefault(alias, []).append(Target(upstream, provider_model))
        return cls(routes)

    def resolve(self, alias: str) -> ResolvedRoute:
        targets = self._routes.get(alias)
        if not targets:
            raise ModelNotFoundError(
                f"The model `{alias}` does not exist or you do not have access to it."
            )
        first, *rest = targets
        return ResolvedRoute(
            alias=alias,
            upstream=first.upstream,
            provider_model=first.provider_model,
            fallbacks=tuple(rest),
        )

    def aliases(self) -> list[str]:
        return sorted(self._routes)
