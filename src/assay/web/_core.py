"""Plumbing shared by every dashboard route: services, templates, guards, responses.

Every route is declared through :func:`page`, :func:`action` or :func:`public`, which record
the capability it needs in :data:`ROUTES` (the role tests iterate over that list) and attach
the guard that enforces it. A POST is refused without a valid CSRF token before any handler
code runs.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from assay.clock import format_rfc3339
from assay.errors import AssayError
from assay.instance import Instance
from assay.ledger import AuditLog
from assay.web._secrets import WebKeys
from assay.web.accounts import Accounts
from assay.web.roles import Capability, allowed
from assay.web.sessions import STAGE_ENROL, STAGE_FULL, STAGE_MFA, Sessions, SignedIn

__all__ = [
    "ANON_COOKIE",
    "ROUTES",
    "SESSION_COOKIE",
    "RouteSpec",
    "Services",
    "action",
    "clear_session_cookie",
    "page",
    "public",
    "redirect",
    "render",
    "router",
    "services",
    "set_session_cookie",
    "who",
]

SESSION_COOKIE = "assay_session"
ANON_COOKIE = "assay_pre"
CSRF_FIELD = "csrf_token"

_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass
class Services:
    instance: Instance
    keys: WebKeys
    accounts: Accounts
    sessions: Sessions
    log: AuditLog


def services(request: Request) -> Services:
    """The dashboard services of this app, built on first use."""
    found = getattr(request.app.state, "web_services", None)
    if isinstance(found, Services):
        return found
    from assay.api.ledger import audit_log_of  # the process's one log, shared with the API

    instance: Instance = request.app.state.instance
    keys = WebKeys.load(instance.data_dir)
    log = audit_log_of(request)
    built = Services(instance, keys, Accounts(instance, keys), Sessions(instance), log)
    request.app.state.web_services = built
    return built


# -- responses -----------------------------------------------------------------------------

_env = Environment(
    loader=PackageLoader("assay.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(value: datetime | None) -> str:
    return "—" if value is None else format_rfc3339(value.replace(microsecond=0))


_env.filters["when"] = _when
_env.filters["svg"] = Markup  # only for charts.py output, which escapes its own text


def _secure(request: Request) -> bool:
    """TLS here, or at a proxy in front (public URL is https): cookies must not leak to http."""
    public = services(request).instance.settings.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


def _headers(response: Response) -> Response:
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    person: SignedIn | None = getattr(request.state, "who", None)
    # The public trust page has no form: it sets no cookie on a visitor's browser.
    token = "" if context.get("public_page") and person is None else csrf_token(request)
    body = _env.get_template(template).render(
        request=request,
        who=person,
        email=getattr(request.state, "who_email", None),
        csrf=token,
        can=lambda cap: person is not None and allowed(person.role, Capability(cap)),
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(body, status_code=status)
    pending = getattr(request.state, "new_anon", None)
    if pending:
        response.set_cookie(
            ANON_COOKIE,
            pending,
            httponly=True,
            samesite="strict",
            secure=_secure(request),
            path="/",
        )
    return _headers(response)  # type: ignore[return-value]


def redirect(url: str) -> Response:
    return _headers(RedirectResponse(url, status_code=303))


def set_session_cookie(request: Request, response: Response, raw: str) -> None:
    keys = services(request).keys
    response.set_cookie(
        SESSION_COOKIE,
        keys.sign(raw),
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def who(request: Request) -> SignedIn:
    person = getattr(request.state, "who", None)
    assert isinstance(person, SignedIn)
    return person


# -- CSRF ----------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    keys = services(request).keys
    person: SignedIn | None = getattr(request.state, "who", None)
    if person is not None:
        return keys.mac("csrf", person.session_id)
    nonce = _anon_nonce(request)
    if nonce is None:
        nonce = secrets.token_urlsafe(24)
        request.state.new_anon = keys.sign(nonce)
        request.state.anon_nonce = nonce
    return keys.mac("csrf-anon", nonce)


def _anon_nonce(request: Request) -> str | None:
    cached = getattr(request.state, "anon_nonce", None)
    if isinstance(cached, str):
        return cached
    raw = request.cookies.get(ANON_COOKIE)
    return services(request).keys.unsign(raw) if raw else None


async def _csrf_ok(request: Request) -> bool:
    form = await request.form()
    sent = form.get(CSRF_FIELD) or request.headers.get("x-csrf-token") or ""
    if not isinstance(sent, str) or not sent:
        return False
    keys = services(request).keys
    person: SignedIn | None = getattr(request.state, "who", None)
    if person is not None:
        expected = keys.mac("csrf", person.session_id)
    else:
        nonce = _anon_nonce(request)
        if nonce is None:
            return False
        expected = keys.mac("csrf-anon", nonce)
    return hmac.compare_digest(sent, expected)


# -- guards --------------------------------------------------------------------------------


class _Stop(Exception):  # noqa: N818 - control flow, turned into a response by WebRoute
    def __init__(self, response_factory: Callable[[Request], Response]) -> None:
        self.response_factory = response_factory


def _forbidden(message: str) -> _Stop:
    return _Stop(lambda r: render(r, "error.html", 403, title="Not allowed", message=message))


async def _load_person(request: Request) -> SignedIn | None:
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    svc = services(request)
    session_id = svc.keys.unsign(raw)
    if session_id is None:
        return None
    person = await run_in_threadpool(svc.sessions.find, session_id)
    if person is not None:
        email = await run_in_threadpool(svc.accounts.email_of, person.user_id)
        request.state.who_email = email
    return person


def _stage_home(stage: str) -> str:
    return {STAGE_MFA: "/login/code", STAGE_ENROL: "/enrol"}.get(stage, "/")


def _guard(capability: Capability | None, stage: str | None) -> Callable[..., Awaitable[None]]:
    async def check(request: Request) -> None:
        person = await _load_person(request)
        needs_person = capability is not None or stage is not None
        if needs_person and person is None:
            target = (
                "/login?next=" + quote(request.url.path) if request.method == "GET" else "/login"
            )
            raise _Stop(lambda _r: redirect(target))
        if person is not None and (needs_person or person.stage == STAGE_FULL):
            request.state.who = person
        wanted = stage or STAGE_FULL
        if needs_person and person is not None and person.stage != wanted:
            home = _stage_home(person.stage)
            raise _Stop(lambda _r: redirect(home))
        if request.method == "POST" and not await _csrf_ok(request):
            raise _forbidden("The form was stale or did not come from this site. Reload and retry.")
        if capability is not None and person is not None and not allowed(person.role, capability):
            raise _forbidden("Your role does not allow this page or action.")

    return check


class WebRoute(APIRoute):
    """Turns guard stops and AssayErrors into HTML pages instead of problem+json."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except _Stop as stop:
                return stop.response_factory(request)
            except AssayError as exc:
                return render(
                    request,
                    "error.html",
                    exc.status if exc.status < 500 else 503,
                    title=exc.title,
                    message=exc.message,
                    hint=exc.hint,
                )

        return run


router = APIRouter(route_class=WebRoute, include_in_schema=False)


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    capability: Capability | None
    stage: str | None = None
    examples: dict[str, str] = field(default_factory=dict)


ROUTES: list[RouteSpec] = []

_Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _register(
    method: str, path: str, capability: Capability | None, stage: str | None
) -> _Decorator:
    ROUTES.append(RouteSpec(method, path, capability, stage))
    return router.api_route(
        path,
        methods=[method],
        response_class=HTMLResponse,
        dependencies=[Depends(_guard(capability, stage))],
    )


def page(path: str, capability: Capability, *, stage: str | None = None) -> _Decorator:
    """A GET page for a signed-in person holding ``capability``."""
    return _register("GET", path, capability, stage)


def action(path: str, capability: Capability, *, stage: str | None = None) -> _Decorator:
    """A POST (CSRF-checked) for a signed-in person holding ``capability``."""
    return _register("POST", path, capability, stage)


def public(path: str, method: str = "GET", *, stage: str | None = None) -> _Decorator:
    """Reachable without signing in (sign-in, setup, trust page); POSTs still need CSRF."""
    return _register(method, path, None, stage)
