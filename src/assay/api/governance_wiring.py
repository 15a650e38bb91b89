"""Governance in the running server: registry routes, output checks, decision records.

``install_governance`` runs after the gateway is installed. On the first start
it registers the configured (or ``--upstream`` quick-start) models as routes
awaiting sign-off; from then on the registry alone decides what is served.
It also validates structured answers, adds versions to each request's ledger
event, writes a decision record per request and runs scheduled re-evaluations.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from fastapi import FastAPI

from assay.api.governance_eval import GatewayTarget, RouteFactory, route_factory, thread_runner
from assay.clock import Clock
from assay.errors import AssayError, GatewayError
from assay.gateway.routing import ModelNotFoundError, ResolvedRoute, RouteResolver
from assay.gateway.service import Gateway, RequestContext
from assay.governance import (
    DecisionRecord,
    DecisionRecorder,
    EvaluationScheduler,
    OutputVerdict,
    RegistryResolver,
    decision_row,
    list_routes,
    register_upstream_models,
    validate_output,
)
from assay.governance._common import canonical_sha256
from assay.governance.validation import violation_action
from assay.instance import Instance
from assay.ledger import LEDGER_INDEX
from assay.logs import get_logger

__all__ = ["GatewayGovernance", "OutputRejectedError", "install_governance"]

_log = get_logger("assay.governance")
_MAX_DOCUMENT_IDS = 256


class OutputRejectedError(GatewayError):
    """The upstream's answer violated the route's output schema and the route blocks that."""

    status = 502
    title = "Answer withheld"
    default_hint = "The model's answer did not match the route's output schema; retry or report."


def retrieved_document_ids(payload: Mapping[str, Any]) -> list[str]:
    """Ids the client passed in ``metadata.retrieved_document_ids`` (comma list or JSON list)."""
    metadata = payload.get("metadata")
    raw = metadata.get("retrieved_document_ids") if isinstance(metadata, dict) else None
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw) if raw.lstrip().startswith("[") else raw.split(",")
        except ValueError:
            parsed = raw.split(",")
    else:
        parsed = raw if isinstance(raw, list) else []
    ids = [str(i).strip() for i in parsed if isinstance(i, str | int) and str(i).strip()]
    return [i for i in ids if len(i) <= 256][:_MAX_DOCUMENT_IDS]


def _answer_texts(document: Mapping[str, Any]) -> list[tuple[int, str]]:
    """``(index, text)`` of every choice's message; one empty answer when there is none.

    Every choice is checked: with ``n`` > 1 the client sees all of them, so checking only
    the first would let the others through unchecked.
    """
    choices = document.get("choices")
    if not isinstance(choices, list) or not choices:
        return [(0, "")]
    texts = []
    for position, choice in enumerate(choices):
        message = choice.get("message") if isinstance(choice, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        index = choice.get("index", position) if isinstance(choice, dict) else position
        texts.append((index if isinstance(index, int) else position, content if isinstance(content, str) else ""))
    return texts


def _verdict_of_all(route: ResolvedRoute, texts: list[tuple[int, str]]) -> OutputVerdict:
    """One verdict for the answer: valid only if every choice is, naming the failing choices."""
    verdicts = [(index, validate_output(route, text)) for index, text in texts]
    failed = [(index, verdict) for index, verdict in verdicts if not verdict.valid]
    if not failed:
        return verdicts[0][1]
    if len(verdicts) == 1:
        return failed[0][1]
    errors = tuple(f"choices/{index}: {error}" for index, verdict in failed for error in verdict.errors)
    return replace(failed[0][1], errors=errors)


class GatewayGovernance:
    """The gateway's governance hooks (see ``assay.gateway.service.GovernanceHooks``)."""

    def __init__(self, recorder: DecisionRecorder, clock: Clock) -> None:
        self._recorder = recorder
        self._clock = clock
        self._verdicts: dict[str, OutputVerdict] = {}
        self._params: dict[str, str] = {}

    def flush(self) -> None:
        """Wait until every decision record submitted so far is stored."""
        self._recorder.flush()

    def check_output(self, ctx: RequestContext, document: dict[str, Any]) -> AssayError | None:
        if not ctx.route.output_schema or ctx.status != 200 or ctx.endpoint != "chat.completions":
            return None
        verdict = _verdict_of_all(ctx.route, _answer_texts(document))
        self._verdicts[ctx.request_id] = verdict
        if not verdict.blocked:
            return None
        ctx.status = OutputRejectedError.status
        return OutputRejectedError(
            f"the answer of `{ctx.route.alias}` violated its output schema and was withheld")

    def holds_stream(self, ctx: RequestContext) -> bool:
        """Streams of a route whose schema blocks violations are checked before they are sent."""
        schema = ctx.route.output_schema
        return bool(schema) and ctx.endpoint == "chat.completions" and \
            violation_action(schema) == "block"  # type: ignore[arg-type]

    def _params_sha256(self, route: ResolvedRoute) -> str:
        key = route.model_version_id or f"{route.upstream}/{route.provider_model}"
        if key not in self._params:
            self._params[key] = canonical_sha256(dict(route.params))
        return self._params[key]

    def before_record(self, ctx: RequestContext) -> None:
        extra = ctx.extra_attributes
        extra["params_sha256"] = self._params_sha256(ctx.route)
        documents = retrieved_document_ids(ctx.payload)
        if documents:
            extra["retrieved_documents"] = len(documents)
            extra["retrieved_documents_sha256"] = canonical_sha256({"ids": documents})
        verdict = self._verdicts.get(ctx.request_id)
        if verdict is not None:
            extra["output_valid"] = verdict.valid
            extra["output_action"] = verdict.action

    def companions(self, ctx: RequestContext) -> list[tuple[Any, dict[str, Any]]]:
        """The request's decision record, stored in the transaction of its ledger event: it is
        durable when the answer is acknowledged, and its ledger index is the event's."""
        try:
            return [decision_row(self._decision(ctx, self._verdicts.get(ctx.request_id), LEDGER_INDEX),
                                 self._clock.now())]
        except AssayError as exc:  # the record is detail: the request and its event go on
            _log.error("decision record refused", request_id=ctx.request_id, error=exc.message)
            return []

    def after_record(self, ctx: RequestContext, index: int | None) -> None:
        """Without a ledger event (its bypass was allowed) the record is written on its own."""
        verdict = self._verdicts.pop(ctx.request_id, None)
        if index is not None:
            return  # stored with the event (see :meth:`companions`)
        try:
            self._recorder.submit(self._decision(ctx, verdict, None))
        except AssayError as exc:
            _log.error("decision record refused", request_id=ctx.request_id, error=exc.message)

    def _decision(self, ctx: RequestContext, verdict: OutputVerdict | None, index: Any) -> DecisionRecord:
        decisions = [{"rule": "on_failure", "action": ctx.policy.policy.on_failure}]
        decisions += [{"rule": "fail_open", "action": component} for component in ctx.fail_open]
        return DecisionRecord(
            request_id=ctx.request_id, alias=ctx.route.alias, tenant=ctx.key.tenant,
            model_version_id=ctx.route.model_version_id, route_version=ctx.route.route_version,
            prompt_template_version=ctx.route.prompt_template_version,
            params_sha256=self._params_sha256(ctx.route),
            policy_version=str(ctx.policy.version), policy_decisions=decisions,
            redaction_counts=dict(ctx.redactor.counts) if ctx.redactor else {},
            retrieved_document_ids=retrieved_document_ids(ctx.payload), output=verdict,
            ledger_index=index,
        )


def _seed(instance: Instance, gateway: Gateway, static: RouteResolver) -> None:
    """First start: the configured models become routes awaiting a person's sign-off."""
    if list_routes(instance):
        return
    by_upstream: dict[str, dict[str, str]] = {}
    for alias in static.aliases():
        route = static.resolve(alias)
        by_upstream.setdefault(route.upstream, {})[alias] = route.provider_model
    audit = gateway.audit().log  # type: ignore[attr-defined]
    for upstream, models in by_upstream.items():
        register_upstream_models(instance, audit, upstream, models)


def _not_found(alias: str) -> Exception:
    return ModelNotFoundError(
        f"The model `{alias}` is not a registered, activated route.",
        hint="An administrator registers it with `assay models register` and activates it "
        "through `assay changes`.",
    )


class GovernedResolver:
    """The registry's routes, seeded from configuration on the first start.

    Seeding needs the ledger. While it cannot be recorded (the ledger is down at
    start), the configured routes are served as they are and seeding is retried;
    a fail-closed tenant is refused by the gateway's own ledger check anyway.
    """

    RETRY_S = 5.0

    def __init__(self, instance: Instance, gateway: Gateway, static: RouteResolver) -> None:
        self._instance, self._gateway, self._static = instance, gateway, static
        self._registry = RegistryResolver(
            instance, make_route=route_factory(static), not_found=_not_found)
        self._ready = False
        self._failed_at = float("-inf")

    def _current(self) -> RouteResolver:
        if self._ready:
            return self._registry
        now = self._instance.clock.monotonic()
        if now - self._failed_at < self.RETRY_S:
            return self._static
        try:
            _seed(self._instance, self._gateway, self._static)
        except AssayError as exc:
            self._failed_at = now
            _log.error("routes not yet governed: the quick-start registration could not be "
                       "recorded", error=exc.message)
            return self._static
        self._ready = True
        return self._registry

    @property
    def static(self) -> RouteResolver:
        """The configured routes (their fallbacks apply to governed routes on the same primary)."""
        return self._static

    def resolve(self, alias: str) -> ResolvedRoute:
        route: ResolvedRoute = self._current().resolve(alias)
        return route

    def aliases(self) -> list[str]:
        return self._current().aliases()


#: The tenant whose policy a scheduled re-evaluation runs under when its schedule names none
#: (schedules made before schedules remembered their tenant).
SCHEDULED_EVAL_TENANT = "default"


def _scheduler(instance: Instance, gateway: Gateway, loop: asyncio.AbstractEventLoop,
               make_route: RouteFactory) -> EvaluationScheduler:
    """Re-evaluations go through the server's own gateway, on its event loop."""
    timeout = instance.settings.upstream_timeout_s * 4
    target = GatewayTarget(gateway, tenant=SCHEDULED_EVAL_TENANT,
                           runner=thread_runner(loop, timeout), make_route=make_route)
    return EvaluationScheduler(instance, _LazyAudit(gateway), target)


class _LazyAudit:
    """The gateway's ledger, opened when the scheduler first records something."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    def append(self, event: Any) -> int:
        index: int = self._gateway.audit().log.append(event)  # type: ignore[attr-defined]
        return index


def install_governance(app: FastAPI, instance: Instance) -> None:
    """Serve only governed routes; hooks, decision records and re-evaluation."""
    gateway: Gateway | None = getattr(app.state, "gateway", None)
    if gateway is None:
        return
    resolver = GovernedResolver(instance, gateway, app.state.route_resolver)
    resolver.aliases()  # seed now when the ledger is up
    app.state.route_resolver = resolver
    recorder = DecisionRecorder(instance)
    gateway.governance = GatewayGovernance(recorder, instance.clock)
    make_route = route_factory(resolver.static)
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        scheduler = _scheduler(instance, gateway, asyncio.get_running_loop(), make_route)
        application.state.eval_scheduler = scheduler
        scheduler.start()
        try:
            async with previous(application):
                yield
        finally:
            scheduler.stop()
            recorder.close()

    app.router.lifespan_context = lifespan
