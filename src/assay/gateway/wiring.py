"""Install the gateway into the ASGI application (called once by ``create_app``)."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assay.errors import AssayError
from assay.gateway import api, metrics
from assay.gateway._runtime import new_request_id, settle_gc
from assay.gateway.keys import ApiKey, KeyRejectedError
from assay.gateway.limits import make_limiter
from assay.gateway.openai_errors import error_body
from assay.gateway.revocations import RevocationListener
from assay.gateway.routing import StaticRouteResolver
from assay.gateway.service import Gateway
from assay.gateway.upstream import UpstreamPool, build_upstreams
from assay.instance import Instance
from assay.logs import get_logger

if TYPE_CHECKING:
    from assay.api.auth import Principal

__all__ = ["GatewayFastPath", "KeyResolver", "install_gateway", "serving_app"]

_log = get_logger("assay.gateway")


class KeyResolver:
    """``app.state.key_resolver``: the principal behind a bearer token (None when refused).

    A key-store failure raises (503): authentication fails closed, never open.
    """

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    def key(self, token: str | None) -> ApiKey:
        return self._gateway.keys.verify(token)

    def __call__(self, token: str) -> Principal | None:
        try:
            key = self.key(token)
        except KeyRejectedError:
            return None
        from assay.api.auth import Principal  # the API package imports this module

        platform = key.tenant == self._gateway.instance.settings.platform_tenant
        return Principal(subject=key.actor, roles=frozenset({key.role}), tenant=key.tenant, platform=platform)


class GatewayFastPath:
    """Serves ``POST`` to the model endpoints straight from the ASGI scope.

    It wraps the whole middleware stack (see :func:`install_gateway`): the framework's router,
    dependency solving, error, telemetry and body-limit layers cost about a tenth of the
    gateway's CPU per request and do nothing for these endpoints: the handler reads the body
    itself (with its own size limit) and turns every refusal into OpenAI's error shape. The
    routes stay registered with FastAPI (the OpenAPI document, other methods). An unexpected
    error becomes an OpenAI-shaped 500 (if nothing was sent yet) and is raised on to the
    server, as the framework's error layer would. Every control runs exactly as on the
    routed path.
    """

    def __init__(self, app: ASGIApp, owner: ASGIApp | None = None) -> None:
        self.app = app
        self.owner = owner  # set when this wraps the application itself (``serving_app``)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = None
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            route = api.MODEL_ENDPOINTS.get(scope["path"])
        if route is None:
            await self.app(scope, receive, send)
            return
        if self.owner is not None:
            scope["app"] = self.owner  # what the application would have set (``request.app``)
        rid = new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            response = await api.handle_model_request(Request(scope, receive), *route)
            if type(response) is Response:  # a whole body: two messages, no wrapper
                await tracked({"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers})
                await send({"type": "http.response.body", "body": response.body})
            else:
                await response(scope, receive, tracked)
        except Exception:
            if not started:
                body = error_body(500, "internal error in the gateway; the request id names it in the server log")
                await send({"type": "http.response.start", "status": 500, "headers": [
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    (b"x-assay-request-id", rid.encode()),
                ]})
                await send({"type": "http.response.body", "body": body})
            raise


def install_gateway(app: FastAPI, instance: Instance) -> Gateway:
    """Routes, upstreams, limits and metrics; ``app.state.route_resolver`` may be replaced later."""
    settings = instance.settings
    config = build_upstreams(settings)
    app.state.route_resolver = StaticRouteResolver.from_models(config.models)
    gateway = Gateway(
        instance,
        UpstreamPool(config.transports),
        make_limiter(settings.redis_url),
        lambda: app.state.route_resolver,  # read per request so a new resolver applies at once
        demo=config.demo,
    )
    app.state.gateway = gateway
    app.state.key_resolver = KeyResolver(gateway)
    app.include_router(api.router)
    _serve_model_endpoints_first(app)
    app.add_api_route("/metrics", _metrics, methods=["GET"], include_in_schema=False)
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        async with previous(application):
            listener = None
            if settings.redis_url:  # other replicas' revocations drop our cached key rows at once
                listener = RevocationListener(settings.redis_url, gateway.forget_key)
                listener.start()
            if getattr(application.state, "settle_gc", False):  # the serving process only
                _warm_up(gateway)  # the first request should not pay for building the detector
                settle_gc()  # (ADR 0042); set by ``assay serve``
            try:
                yield
            finally:
                if listener is not None:
                    await listener.stop()
                await gateway.aclose()

    app.router.lifespan_context = lifespan
    return gateway


def _warm_up(gateway: Gateway) -> None:
    """Build what every request shares before the first one arrives (then frozen with the heap)."""
    try:
        gateway.redaction.detector()
    except AssayError as exc:  # requests will fail closed with the same error; say it now
        _log.warning("redaction not ready", error=exc.message)


def serving_app(app: Starlette) -> ASGIApp:
    """What ``assay serve`` hands the server: the model endpoints before the application's
    own entry (whose telemetry check and scope set-up cost about 2 % per request), everything
    else to the application. In-process clients of ``app`` take the same fast path, one layer
    further in."""
    return GatewayFastPath(app, owner=app)


def _serve_model_endpoints_first(app: FastAPI) -> None:
    """Put :class:`GatewayFastPath` outside the whole middleware stack, the framework's own
    layers included (``add_middleware`` would place it inside them)."""
    build = app.build_middleware_stack

    def build_with_fast_path() -> ASGIApp:
        return GatewayFastPath(build())

    app.build_middleware_stack = build_with_fast_path  # type: ignore[method-assign]


async def _metrics(request: Request) -> Response:
    try:
        pii = importlib.import_module("assay.pii")
        metrics.DETECTOR_FAIL_OPEN.set(pii.fail_open_total())
    except ImportError:
        pass
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)
