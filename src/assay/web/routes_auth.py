"""Sign-in, one-time setup links, TOTP enrolment and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from starlette.responses import Response

from assay.errors import UsageError
from assay.web._core import (
    SESSION_COOKIE,
    clear_session_cookie,
    public,
    redirect,
    render,
    services,
    set_session_cookie,
    who,
)
from assay.web.accounts import SignInFailedError
from assay.web.audit import record
from assay.web.sessions import STAGE_ENROL, STAGE_FULL, STAGE_MFA

_Text = Annotated[str, Form()]


def _safe_next(target: str | None) -> str:
    """Only local paths: an open redirect after sign-in would be a phishing aid."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@public("/login")
def login_form(request: Request, next: str = "/") -> Response:  # noqa: A002
    return render(request, "login.html", next=_safe_next(next), error=None)


@public("/login", "POST")
def login_submit(
    request: Request,
    email: _Text,
    password: _Text,
    next: Annotated[str, Form()] = "/",  # noqa: A002
) -> Response:
    svc = services(request)
    svc.sessions.purge_expired()
    try:
        user_id = svc.accounts.check_password(email, password)
    except SignInFailedError as exc:
        actor = f"user:{exc.user_id}" if exc.user_id else "system"
        record(svc.log, "web.sign_in_failed", actor, attributes={"factor": "password"})
        return render(
            request, "login.html", 401, next=_safe_next(next), error=exc.message, email_value=email
        )
    enrolled = svc.accounts.get(user_id).totp_enrolled
    stage = STAGE_MFA if enrolled else STAGE_ENROL
    raw = svc.sessions.start(user_id, stage, replacing=_current_session(request))
    target = "/login/code?next=" + _safe_next(next) if enrolled else "/enrol"
    response = redirect(target)
    set_session_cookie(request, response, raw)
    return response


def _current_session(request: Request) -> str | None:
    raw = request.cookies.get(SESSION_COOKIE)
    return services(request).keys.unsign(raw) if raw else None


@public("/login/code", stage=STAGE_MFA)
def code_form(request: Request, next: str = "/") -> Response:  # noqa: A002
    return render(request, "code.html", next=_safe_next(next), error=None)


@public("/login/code", "POST", stage=STAGE_MFA)
def code_submit(
    request: Request,
    code: _Text,
    next: Annotated[str, Form()] = "/",  # noqa: A002
) -> Response:
    svc = services(request)
    person = who(request)
    actor = f"user:{person.user_id}"
    try:
        svc.accounts.check_totp(person.user_id, code)
    except SignInFailedError as exc:
        record(svc.log, "web.sign_in_failed", actor, attributes={"factor": "totp"})
        return render(request, "code.html", 401, next=_safe_next(next), error=exc.message)
    raw = svc.sessions.start(person.user_id, STAGE_FULL, replacing=person.session_id)
    record(svc.log, "web.signed_in", actor, attributes={"role": person.role})
    response = redirect(_safe_next(next))
    set_session_cookie(request, response, raw)
    return response


@public("/logout", "POST")
def logout(request: Request) -> Response:
    svc = services(request)
    raw = _current_session(request)
    if raw:
        person = svc.sessions.find(raw)
        svc.sessions.end(raw)
        if person is not None:
            record(svc.log, "web.signed_out", f"user:{person.user_id}")
    response = redirect("/login")
    clear_session_cookie(response)
    return response


@public("/setup/{token}")
def setup_form(request: Request, token: str) -> Response:
    user_id = services(request).accounts.setup_user(token)
    if user_id is None:
        return render(request, "setup.html", 404, valid=False, error=None, token="")
    email = services(request).accounts.email_of(user_id)
    return render(request, "setup.html", valid=True, error=None, token=token, setup_email=email)


@public("/setup/{token}", "POST")
def setup_submit(request: Request, token: str, password: _Text, password_again: _Text) -> Response:
    svc = services(request)
    user_id = svc.accounts.setup_user(token)
    if user_id is None:
        return render(request, "setup.html", 404, valid=False, error=None, token="")
    email = svc.accounts.email_of(user_id)
    error = None
    if password != password_again:
        error = "The two passwords differ."
    else:
        try:
            svc.accounts.redeem_setup(token, password)
        except (UsageError, SignInFailedError) as exc:
            error = f"{exc.message}. {exc.hint}"
    if error:
        return render(
            request, "setup.html", 400, valid=True, error=error, token=token, setup_email=email
        )
    record(svc.log, "web.password_set", f"user:{user_id}", object_ids={"user": user_id})
    raw = svc.sessions.start(user_id, STAGE_ENROL, replacing=_current_session(request))
    response = redirect("/enrol")
    set_session_cookie(request, response, raw)
    return response


@public("/enrol", stage=STAGE_ENROL)
def enrol_form(request: Request) -> Response:
    return _enrol_page(request, None, 200)


def _enrol_page(request: Request, error: str | None, status: int) -> Response:
    svc = services(request)
    person = who(request)
    secret = svc.accounts.pending_totp_secret(person.user_id)
    uri = svc.accounts.provisioning_uri(person.user_id, secret)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render(request, "enrol.html", status, secret=grouped, uri=uri, error=error)


@public("/enrol", "POST", stage=STAGE_ENROL)
def enrol_submit(request: Request, code: _Text) -> Response:
    svc = services(request)
    person = who(request)
    if not svc.accounts.confirm_totp(person.user_id, code):
        return _enrol_page(request, "That code did not match; check the device's clock.", 400)
    actor = f"user:{person.user_id}"
    record(svc.log, "web.totp_enrolled", actor, object_ids={"user": person.user_id})
    record(svc.log, "web.signed_in", actor, attributes={"role": person.role})
    svc.accounts.mark_signed_in(person.user_id)
    raw = svc.sessions.start(person.user_id, STAGE_FULL, replacing=person.session_id)
    response = redirect("/")
    set_session_cookie(request, response, raw)
    return response
