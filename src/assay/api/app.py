"""The ASGI application: API, gateway and web pages on one model."""

from __future__ import annotations

from fastapi import FastAPI

from assay import __version__
from assay.api import compliance, governance, health, ledger
from assay.api.problems import RequestIdMiddleware, install_problem_handlers
from assay.gateway.wiring import install_gateway
from assay.instance import Instance
from assay.web import router as web_router

__all__ = ["create_app"]


def create_app(instance: Instance) -> FastAPI:
    """Wire every router to one opened :class:`Instance`."""
    app = FastAPI(
        title="Assay",
        version=__version__,
        summary="Trust gateway and compliance engine for AI platforms",
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.instance = instance
    install_problem_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health.router)
    app.include_router(ledger.router)
    install_gateway(app, instance)
    app.include_router(web_router)
    app.include_router(governance.router)
    app.include_router(compliance.router)
    return app
