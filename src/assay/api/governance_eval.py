"""Evaluations through the gateway's own pipeline, as live traffic goes.

Each case becomes a chat request handed to :func:`assay.gateway.api.serve` after
:meth:`Gateway.begin`, exactly as the HTTP endpoint does once it has
authenticated a key: the tenant's stored policy, inbound redaction, the upstream
pool (safe retries, fallbacks, circuit breakers), outbound redaction, the
route's output-schema check, the encrypted transcript and a ``gateway.request``
ledger event. The only differences: the route is the candidate version (not the
live one), and the request is made with an in-process evaluation key whose id is
the evaluation id, announced by the ``eval.started`` event with the person who
ran it. The request's ledger event carries ``evaluation``, ``eval_case`` and
``eval_target`` attributes.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import orjson

from assay.errors import GatewayError, UsageError
from assay.gateway.api import serve
from assay.gateway.demo import DemoTransport
from assay.gateway.keys import ApiKey, validate_tenant
from assay.gateway.limits import make_limiter
from assay.gateway.routing import DEMO_UPSTREAM, ResolvedRoute, StaticRouteResolver, Target
from assay.gateway.service import Gateway
from assay.gateway.upstream import HttpTransport, Transport, UpstreamPool, build_upstreams
from assay.governance import CaseRequest, DecisionRecorder, ModelVersion, TargetReply
from assay.instance import Instance

__all__ = ["GatewayTarget", "RouteFactory", "evaluation_gateway", "route_factory", "thread_runner"]

T = TypeVar("T")
Runner = Callable[[Coroutine[Any, Any, Any]], Any]
RouteFactory = Callable[..., ResolvedRoute]


def route_factory(static: StaticRouteResolver | Any) -> RouteFactory:
    """Routes keep the configured fallbacks while they use the configured primary upstream."""
    fallbacks: dict[str, tuple[Target, tuple[Target, ...]]] = {}
    for alias in static.aliases():
        route = static.resolve(alias)
        fallbacks[alias] = (Target(route.upstream, route.provider_model), tuple(route.fallbacks))

    def make(**fields: Any) -> ResolvedRoute:
        primary, rest = fallbacks.get(fields["alias"], (None, ()))
        same = primary == Target(fields["upstream"], fields["provider_model"])
        return ResolvedRoute(**fields, fallbacks=rest if same else ())

    return make


class GatewayTarget:
    """An :class:`~assay.governance.EvalTarget` that sends cases through the gateway."""

    path = "gateway"

    def __init__(self, gateway: Gateway, *, tenant: str, runner: Runner,
                 make_route: RouteFactory) -> None:
        self.tenant = validate_tenant(tenant)
        self._gateway = gateway
        self._run = runner
        self._make_route = make_route
        self._tenant_ready = False

    def for_tenant(self, tenant: str) -> GatewayTarget:
        """The same gateway and runner, sending cases under ``tenant``'s policy."""
        return GatewayTarget(self._gateway, tenant=tenant, runner=self._run, make_route=self._make_route)

    def _ensure_tenant(self) -> None:
        """The tenant's transcript key exists before its first transcript (as key creation does)."""
        if not self._tenant_ready:
            if self._gateway.policies.current(self.tenant).policy.store_transcripts:
                self._gateway.vault.ensure_tenant(self.tenant, "system")
            self._tenant_ready = True

    def complete(self, model: ModelVersion, messages: Sequence[Mapping[str, str]],
                 case: CaseRequest | None = None) -> TargetReply:
        if case is None:
            raise UsageError("a gateway evaluation needs the case's evaluation context")
        self._ensure_tenant()
        reply: TargetReply = self._run(self._complete(model, messages, case))
        return reply

    def _route(self, model: ModelVersion, case: CaseRequest) -> ResolvedRoute:
        return self._make_route(
            alias=case.alias, upstream=model.upstream, provider_model=model.provider_model,
            model_version_id=model.id, prompt_template_version=model.prompt_template_id,
            system_prompt=model.system_prompt, params=dict(model.params),
            output_schema=dict(case.output_schema) if case.output_schema else None,
            route_version=None,
        )

    def _key(self, case: CaseRequest) -> ApiKey:
        now = self._gateway.instance.clock.now()
        return ApiKey(id=case.evaluation_id, tenant=self.tenant, role="app", name="evaluation",
                      prefix="eval", allowed_models=(case.alias,), rpm_limit=None,
                      tpm_limit=None, expires_at=None, revoked_at=None, created_at=now,
                      last_used_at=None)

    async def _complete(self, model: ModelVersion, messages: Sequence[Mapping[str, str]],
                        case: CaseRequest) -> TargetReply:
        gateway = self._gateway
        request_id = Gateway.new_request_id()
        payload: dict[str, Any] = {"model": case.alias, "messages": [dict(m) for m in messages]}
        ctx = await gateway.begin("chat.completions", request_id, time.perf_counter(),
                                  self._key(case), payload, route=self._route(model, case))
        ctx.extra_attributes.update({"evaluation": case.evaluation_id, "eval_case": case.case_id,
                                     "eval_target": case.target})
        response = await serve(gateway, ctx, "chat/completions")
        index = response.headers.get("x-assay-ledger-index")
        return _reply(response.status_code, bytes(response.body), request_id,
                      int(index) if index else None)


def _reply(status: int, body: bytes, request_id: str, index: int | None) -> TargetReply:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = {}
    if status != 200:
        error = document.get("error") if isinstance(document, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        raise GatewayError(f"the gateway answered {status}: {message or 'no detail'}")
    try:
        message = document["choices"][0]["message"]
    except (KeyError, IndexError, TypeError) as exc:
        raise GatewayError("the answer is not a chat completion") from exc
    refusal = message.get("refusal")
    return TargetReply(text=message.get("content") or refusal or "", refused=bool(refusal),
                       request_id=request_id, ledger_index=index)


def _transports(instance: Instance, upstream_urls: Mapping[str, str]) -> tuple[list[Transport], Any]:
    """The configured transports (no discovery call), with ``upstream_urls`` overriding URLs."""
    settings = instance.settings
    config = build_upstreams(settings.model_copy(update={"upstream": None, "demo_model": False}))
    transports: dict[str, Transport] = {t.name: t for t in config.transports}
    models = list(config.models)
    if settings.demo_model:  # models registered on the built-in demo upstream stay evaluable
        transports.setdefault(DEMO_UPSTREAM, DemoTransport())
    if settings.upstream and "default" not in transports:
        transports["default"] = HttpTransport(
            "default", _v1(settings.upstream), os.environ.get("ASSAY_UPSTREAM_API_KEY") or None,
            settings.upstream_timeout_s)
    for name, url in upstream_urls.items():
        previous = transports.get(name)
        transports[name] = HttpTransport(
            name, _v1(url), None, settings.upstream_timeout_s,
            (previous.breaker_threshold, previous.breaker_cooldown_s) if previous else (5, 30.0))
    return list(transports.values()), StaticRouteResolver.from_models(models)


def _v1(url: str) -> str:
    base = url.rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"


@contextmanager
def evaluation_gateway(instance: Instance, *, tenant: str,
                       upstream_urls: Mapping[str, str] | None = None) -> Iterator[GatewayTarget]:
    """A gateway for one command-line evaluation (its own event loop), closed afterwards.

    Its ledger is the one ``gateway.audit()`` opens; use ``target.audit`` for the
    evaluation's own events so they share the same writer.
    """
    from assay.api.governance_wiring import GatewayGovernance

    transports, static = _transports(instance, upstream_urls or {})
    with asyncio.Runner() as runner:
        gateway = Gateway(instance, UpstreamPool(transports),
                          make_limiter(instance.settings.redis_url), lambda: static)
        recorder = DecisionRecorder(instance)
        gateway.governance = GatewayGovernance(recorder, instance.clock)
        try:
            yield GatewayTarget(gateway, tenant=tenant, runner=runner.run,
                                make_route=route_factory(static))
        finally:
            recorder.close()
            runner.run(gateway.aclose())


def thread_runner(loop: asyncio.AbstractEventLoop, timeout_s: float) -> Runner:
    """Run coroutines on the server's loop from the scheduler thread."""

    def run(coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:  # waiting here would stop the loop the request needs
            coro.close()
            raise GatewayError("an evaluation cannot run on the server's event loop itself")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout_s)

    return run
