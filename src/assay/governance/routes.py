"""Routes as the gateway sees them, and the quick start that seeds them.

:class:`RegistryResolver` serves only registered, activated routes. It caches
the whole route table and re-reads it when the one-row generation counter moves
(checked at most every ``max_staleness_s``; activations made in this process are
seen at once), so a request costs no query in the common case.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assay.errors import NotFoundError
from assay.governance._audit import AuditSink, emit
from assay.governance._common import local_epoch, new_id, notify_local_change
from assay.governance.changes import bump_generation
from assay.governance.models import (
    ChangeRequestRow,
    ChangeStepRow,
    ModelVersionRow,
    PromptTemplateRow,
    RouteRow,
    RouteStateRow,
    RouteVersionRow,
)
from assay.governance.registry import quickstart_specs, register_model
from assay.instance import Instance

__all__ = [
    "GovernedRoute",
    "RegistryResolver",
    "RouteInfo",
    "get_route",
    "list_routes",
    "register_upstream_models",
    "route_version_at",
]

@dataclass(frozen=True)
class GovernedRoute:
    """The route the gateway resolves an alias to (same fields as its ``ResolvedRoute``)."""

    alias: str
    upstream: str
    provider_model: str
    model_version_id: str | None = None
    prompt_template_version: str | None = None
    system_prompt: str | None = None
    params: Mapping[str, object] = field(default_factory=dict)
    output_schema: Mapping[str, object] | None = None
    route_version: int | None = None
    params_sha256: str | None = None


@dataclass(frozen=True)
class RouteInfo:
    alias: str
    model_version_id: str
    route_version: int
    min_pass_rate_bp: int
    max_regression_bp: int
    output_schema: Mapping[str, Any] | None
    change_id: str
    updated_at: datetime
    history: tuple[RouteVersionRow, ...] = ()


def _generation(session: Session) -> int:
    state = session.get(RouteStateRow, 1)
    return state.generation if state else 0


def _load_routes(session: Session) -> dict[str, GovernedRoute]:
    rows = session.execute(
        select(RouteRow, ModelVersionRow, PromptTemplateRow)
        .join(ModelVersionRow, RouteRow.model_version_id == ModelVersionRow.id)
        .outerjoin(PromptTemplateRow, ModelVersionRow.prompt_template_id == PromptTemplateRow.id)
    ).all()
    return {
        route.alias: GovernedRoute(
            alias=route.alias, upstream=model.upstream, provider_model=model.provider_model,
            model_version_id=model.id, prompt_template_version=model.prompt_template_id,
            system_prompt=prompt.text if prompt else None, params=dict(model.params),
            output_schema=route.output_schema, route_version=route.route_version,
            params_sha256=model.params_sha256,
        )
        for route, model, prompt in rows
    }


RouteFactory = Callable[..., Any]


def _not_found(alias: str) -> Exception:
    return NotFoundError(
        f"model {alias!r} is not a registered, activated route",
        hint="Use a model listed by GET /v1/models; an administrator adds routes with "
        "`assay changes propose`.",
    )


class RegistryResolver:
    """The gateway's route resolver backed by the governed registry.

    ``make_route`` builds the route object handed to the gateway (its
    ``ResolvedRoute``; :class:`GovernedRoute` by default) from the fields of a
    :class:`GovernedRoute` except ``params_sha256``; ``not_found`` builds the
    error for an alias that is not a live route.
    """

    def __init__(
        self,
        instance: Instance,
        *,
        max_staleness_s: float = 1.0,
        make_route: RouteFactory | None = None,
        not_found: Callable[[str], Exception] = _not_found,
    ) -> None:
        self._instance = instance
        self._max_staleness_s = max_staleness_s
        self._make_route = make_route
        self._not_found = not_found
        self._lock = threading.Lock()
        self._routes: dict[str, Any] = {}
        self._generation = -1
        self._epoch = -1
        self._checked_at = float("-inf")

    def _build(self, routes: dict[str, GovernedRoute]) -> dict[str, Any]:
        if self._make_route is None:
            return dict(routes)
        factory = self._make_route
        return {
            alias: factory(**{k: v for k, v in r.__dict__.items() if k != "params_sha256"})
            for alias, r in routes.items()
        }

    def _refresh(self) -> dict[str, Any]:
        now = self._instance.clock.monotonic()
        epoch = local_epoch()
        if epoch == self._epoch and now - self._checked_at < self._max_staleness_s:
            return self._routes
        with self._lock:
            with self._instance.db.session() as session:
                generation = _generation(session)
                if generation != self._generation:
                    self._routes = self._build(_load_routes(session))
                    self._generation = generation
            self._epoch, self._checked_at = epoch, now
            return self._routes

    def resolve(self, alias: str) -> Any:
        route = self._refresh().get(alias)
        if route is None:
            raise self._not_found(alias)
        return route

    def aliases(self) -> list[str]:
        return sorted(self._refresh())


def _info(row: RouteRow, history: Iterable[RouteVersionRow] = ()) -> RouteInfo:
    return RouteInfo(
        alias=row.alias, model_version_id=row.model_version_id, route_version=row.route_version,
        min_pass_rate_bp=row.min_pass_rate_bp, max_regression_bp=row.max_regression_bp,
        output_schema=row.output_schema, change_id=row.change_id, updated_at=row.updated_at,
        history=tuple(history),
    )


def list_routes(instance: Instance) -> list[RouteInfo]:
    with instance.db.session() as session:
        return [_info(r) for r in session.scalars(select(RouteRow).order_by(RouteRow.alias))]


def get_route(instance: Instance, alias: str) -> RouteInfo:
    with instance.db.session() as session:
        row = session.get(RouteRow, alias)
        if row is None:
            raise NotFoundError(f"route {alias} does not exist",
                                hint="List routes with `assay routes list`.")
        history = session.scalars(
            select(RouteVersionRow).where(RouteVersionRow.alias == alias)
            .order_by(RouteVersionRow.route_version)
        ).all()
        return _info(row, history)


def route_version_at(session: Session, alias: str, route_version: int) -> RouteVersionRow | None:
    return session.get(RouteVersionRow, (alias, route_version))


@dataclass(frozen=True)
class BootstrapResult:
    alias: str
    model_version_id: str
    created: bool
    change_id: str | None


def register_upstream_models(
    instance: Instance,
    audit: AuditSink,
    upstream_name: str,
    models: Mapping[str, str] | Iterable[str],
    *,
    actor: str = "system",
) -> list[BootstrapResult]:
    """Register the quick start's models and make them routes, once.

    Each new route is recorded as a bootstrap change left awaiting post-approval,
    so a person still signs off on what the quick start put live.
    """
    results = []
    for alias, spec in quickstart_specs(upstream_name, models).items():
        model = register_model(instance, audit, spec, actor=actor, source="quickstart")
        with instance.db.session() as session:
            exists = session.get(RouteRow, alias) is not None
        if exists:
            results.append(BootstrapResult(alias, model.id, False, None))
            continue
        change_id = _bootstrap_route(instance, audit, alias, model.id, actor)
        results.append(BootstrapResult(alias, model.id, True, change_id))
    if any(r.created for r in results):
        notify_local_change()
    return results


def _bootstrap_route(
    instance: Instance, audit: AuditSink, alias: str, model_version_id: str, actor: str
) -> str:
    from assay.governance.changes import Thresholds

    change_id = new_id("chg")
    index = emit(
        audit, "route.bootstrapped", actor=actor,
        object_ids={"change": change_id, "route": alias, "model_version": model_version_id},
        attributes={"route_version": 1, "post_approval_pending": True, "source": "quickstart"},
    )
    now = instance.clock.now()
    defaults = Thresholds()
    with instance.db.session() as session:
        session.add(ChangeRequestRow(
            id=change_id, alias=alias, model_version_id=model_version_id, min_pass_rate_bp=None,
            max_regression_bp=None, output_schema=None, clear_output_schema=False,
            reason="registered by the single-upstream quick start", requester=actor,
            emergency=False, kind="bootstrap", state="activated", post_approval_pending=True,
            activated_by=actor, activated_at=now, activated_route_version=1,
            previous_route_version=None, created_at=now, updated_at=now,
        ))
        session.flush()
        session.add(RouteRow(
            alias=alias, model_version_id=model_version_id, route_version=1,
            min_pass_rate_bp=defaults.min_pass_rate_bp,
            max_regression_bp=defaults.max_regression_bp, output_schema=None,
            change_id=change_id, updated_at=now,
        ))
        session.add(RouteVersionRow(
            alias=alias, route_version=1, model_version_id=model_version_id,
            min_pass_rate_bp=defaults.min_pass_rate_bp,
            max_regression_bp=defaults.max_regression_bp, output_schema=None,
            change_id=change_id, kind="bootstrap", activated_at=now, activated_by=actor,
            ledger_index=index,
        ))
        session.add(ChangeStepRow(change_id=change_id, step="bootstrapped", actor=actor, at=now,
                                  note="awaiting post-approval", ledger_index=index))
        bump_generation(session)
    return change_id
