"""Run the ASGI application with uvicorn (see ADR 0040 for the choice)."""

from __future__ import annotations

import ssl

import uvicorn
from structlog.stdlib import BoundLogger

from assay.api import create_app
from assay.config import Settings
from assay.crypto import start_retention_scheduler
from assay.errors import AssayError, ConfigError
from assay.gateway._uvicorn import CoalescingHttpToolsProtocol
from assay.gateway.wiring import serving_app
from assay.instance import Instance, open_instance
from assay.logs import configure_logging, get_logger
from assay.web import ensure_first_admin

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


def _offer_first_admin(instance: Instance, base_url: str, log: BoundLogger) -> None:
    """Print the first admin's sign-in link; a broken ledger or key store must not stop the
    gateway from starting (its requests fail closed on their own), so this only logs."""
    try:
        ensure_first_admin(instance, base_url)
    except AssayError as exc:
        log.error("first_admin_not_created", error=exc.message, hint=exc.hint)


def serve(settings: Settings) -> None:
    """Open the instance (failing fast with a clear error) and serve until stopped."""
    configure_logging(settings.log_level, settings.log_format)
    tls = _tls_options(settings)
    instance = open_instance(settings)
    try:
        app = create_app(instance)
        app.state.settle_gc = True  # freeze start-up objects once serving (ADR 0042)
        log = get_logger("assay.server")
        base = f"{'https' if tls else 'http'}://{settings.host}:{settings.port}"
        log.info("serving", url=base, docs=f"{base}/docs", ready=f"{base}/readyz")
        _offer_first_admin(instance, settings.public_url or base, log)
        config = uvicorn.Config(
            serving_app(app),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            server_header=False,
            http=CoalescingHttpToolsProtocol,  # one socket write per answer (see the module)
            **tls,  # type: ignore[arg-type]
        )
        config.load()
        if config.ssl is not None:
            config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2  # TLS 1.0 and 1.1 refused
        retention = start_retention_scheduler(instance, settings.retention_interval_s)
        try:
            uvicorn.Server(config).run()
        finally:
            retention.stop()
    finally:
        instance.close()
