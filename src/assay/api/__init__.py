"""Admin and auditor REST API, and the ASGI application factory."""

from assay.api.app import create_app

__all__ = ["create_app"]
