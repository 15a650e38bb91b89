"""Model governance, read-only: the registry, the live routes and the change requests.

Changes are proposed, approved and activated with ``assay changes ...`` (separation of duties
is enforced there); this page lets everyone who reviews controls see what served what.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from assay.governance import list_changes, list_models
from assay.governance.routes import list_routes
from assay.web._core import page, render, services
from assay.web.roles import Capability as Cap


@page("/models", Cap.VIEW_CONTROLS)
def models(request: Request) -> Response:
    instance = services(request).instance
    changes = sorted(list_changes(instance), key=lambda c: c.created_at, reverse=True)
    return render(
        request,
        "models.html",
        models=list_models(instance),
        routes=list_routes(instance),
        changes=changes[:50],
    )
