"""Run the ASGI application with uvicorn (see ADR 0040 for the choice)."""

from __future__ import annotations

import ssl

import uvicorn

from assay.api import create_app
from assay.config import Settings
from assay.errors import ConfigError
from assay.instance import open_instance
from assay.logs import configure_logging, get_logger

__all__ = ["serve"]


def _tls_options(settings: Settings) -> dict[str, object]:
    if settings.tls_cert is None and settings.tls_key is None:
        return {}
    if settings.tls_cert is None or settings.tls_key is None:
        raise ConfigError(
            "TLS needs both a certificate and a key",
            hint="Give both --tls-cert and --tls-key (or neither).",
        )
    for path in (settings.tls_cert, settings.tls_key):
        if not path.is_file():
            raise ConfigError(f"TLS file {path} does not exist", hint="Check the path.")
    return {
        "ssl_certfile": str(settings.tls_cert),
        "ssl_keyfile": str(settings.tls_key),
        "ssl_version": ssl.PROTOCOL_TLS_SERVER,
    }


def serve(settings: Settings) -> None:
    """Open the instance (failing fast with a clear error) and serve until stopped."""
    configure_logging(settings.log_level, settings.log_format)
    tls = _tls_options(settings)
    instance = open_instance(settings)
    try:
        app = create_app(instance)
        log = get_logger("assay.server")
        base = f"{'https' if tls else 'http'}://{settings.host}:{settings.port}"
        log.info("serving", url=base, docs=f"{base}/docs", ready=f"{base}/readyz")
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            server_header=False,
            **tls,  # type: ignore[arg-type]
        )
        config.load()
        if config.ssl is not None:
            config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2  # TLS 1.0 and 1.1 refused
        uvicorn.Server(config).run()
    finally:
        instance.close()
