"""Dashboard and public trust page: server-rendered pages over the other components.

``router`` is mounted by ``assay.api.create_app``; ``ensure_first_admin`` is called by the
server at start-up.
"""

from __future__ import annotations

from assay.web import (  # noqa: F401 - registers routes and the doctor check
    health,
    routes_admin,
    routes_auth,
    routes_compliance,
    routes_gateway_admin,
    routes_models,
    routes_pages,
)
from assay.web._core import ROUTES, router
from assay.web.accounts import Accounts, SignInFailedError, UserView
from assay.web.bootstrap import ensure_first_admin
from assay.web.roles import CAPABILITIES, Capability, Role, allowed

__all__ = [
    "CAPABILITIES",
    "ROUTES",
    "Accounts",
    "Capability",
    "Role",
    "SignInFailedError",
    "UserView",
    "allowed",
    "ensure_first_admin",
    "router",
]
