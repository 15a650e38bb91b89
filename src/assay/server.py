"""Run the ASGI application with uvicorn."""

from __future__ import annotations

import uvicorn

from assay.api import create_app
from assay.config import Settings
from assay.instance import open_instance
from assay.logs import configure_logging, get_logger
from assay.web import ensure_first_admin

__all__ = ["serve"]


def serve(settings: Settings) -> None:
    """Open the instance (failing fast with a clear error) and serve until stopped."""
    configure_logging(settings.log_level, settings.log_format)
    instance = open_instance(settings)
    app = create_app(instance)
    log = get_logger("assay.server")
    base = f"http://{settings.host}:{settings.port}"
    log.info("serving", url=base, docs=f"{base}/docs", ready=f"{base}/readyz")
    ensure_first_admin(instance, settings.public_url or base)
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            server_header=False,
        )
    finally:
        instance.close()
