"""Users administration, trust page settings, and the public trust page."""

from __future__ import annotations

from importlib import resources
from typing import Annotated

from fastapi import Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from assay.errors import NotFoundError, UsageError
from assay.governance import list_models
from assay.instance import Instance
from assay.web import compliance_view, ledger_view
from assay.web._core import action, page, public, redirect, render, services, who
from assay.web.audit import record
from assay.web.readiness import CATEGORY_LABELS
from assay.web.roles import ROLES
from assay.web.roles import Capability as Cap
from assay.web.settings_store import (
    TRUST_CATEGORIES,
    TrustSettings,
    load_trust,
    parse_subprocessors,
    save_trust,
)

_Text = Annotated[str, Form()]


def _base_url(request: Request) -> str:
    configured = services(request).instance.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


def _users_page(request: Request, status: int = 200, **extra: object) -> Response:
    users = services(request).accounts.list()
    return render(request, "users.html", status, users=users, roles=ROLES, **extra)


@page("/users", Cap.MANAGE_USERS)
def users(request: Request) -> Response:
    return _users_page(request)


@action("/users", Cap.MANAGE_USERS)
def user_create(request: Request, email: _Text, role: _Text) -> Response:
    svc = services(request)
    try:
        user_id, token = svc.accounts.create(email, role)
    except UsageError as exc:
        return _users_page(request, 400, error=f"{exc.message}. {exc.hint}")
    actor = f"user:{who(request).user_id}"
    record(
        svc.log,
        "user.created",
        actor,
        object_ids={"user": user_id},
        attributes={"role": role},
    )
    link = f"{_base_url(request)}/setup/{token}"
    return _users_page(request, 201, link=link, link_for=email.strip())


@action("/users/{user_id}/{change}", Cap.MANAGE_USERS)
def user_change(
    request: Request, user_id: str, change: str, role: Annotated[str, Form()] = ""
) -> Response:
    svc = services(request)
    me = who(request)
    if user_id == me.user_id and change in {"disable", "role"}:
        return _users_page(request, 400, error="You cannot disable yourself or change your role.")
    link = None
    try:
        if change == "role":
            svc.accounts.set_role(user_id, role)
        elif change in {"disable", "enable"}:
            svc.accounts.set_disabled(user_id, change == "disable")
        elif change == "unlock":
            svc.accounts.unlock(user_id)
        elif change == "link":
            link = f"{_base_url(request)}/setup/{svc.accounts.new_setup_link(user_id)}"
        else:
            raise NotFoundError(f"unknown change {change!r}")
    except UsageError as exc:
        return _users_page(request, 400, error=f"{exc.message}. {exc.hint}")
    record(
        svc.log,
        f"user.{change}",
        f"user:{me.user_id}",
        object_ids={"user": user_id},
        attributes={"role": role} if change == "role" else None,
    )
    if link:
        return _users_page(request, link=link, link_for=svc.accounts.email_of(user_id))
    return redirect("/users")


@page("/settings/trust", Cap.MANAGE_TRUST)
def trust_settings(request: Request) -> Response:
    current = load_trust(services(request).instance)
    return render(request, "trust_settings.html", trust=current, all_categories=TRUST_CATEGORIES)


@action("/settings/trust", Cap.MANAGE_TRUST)
async def trust_settings_save(request: Request) -> Response:
    form = await request.form()
    chosen = tuple(c for c in TRUST_CATEGORIES if form.get(f"category_{c}") == "on")
    value = TrustSettings(
        enabled=form.get("enabled") == "on",
        company=str(form.get("company", "")).strip()[:120],
        categories=chosen or ("Security",),
        subprocessors=parse_subprocessors(str(form.get("subprocessors", ""))),
    )
    svc = services(request)
    actor = f"user:{who(request).user_id}"
    await run_in_threadpool(save_trust, svc.instance, value, actor)
    await run_in_threadpool(
        record,
        svc.log,
        "trust_page.changed",
        actor,
        attributes={"enabled": value.enabled, "categories": list(value.categories)},
    )
    return redirect("/settings/trust")


@public("/trust")
def trust_page(request: Request) -> Response:
    svc = services(request)
    current = load_trust(svc.instance)
    if not current.enabled:
        return render(
            request,
            "error.html",
            404,
            title="Not found",
            message="There is no page here.",
            public_page=True,
        )
    listed = {s.name for s in current.subprocessors}
    report = compliance_view.assessment(svc.instance)
    labels = {label: key for key, label in CATEGORY_LABELS.items()}
    statuses = {
        name: report["summary"]["categories"].get(labels.get(name, ""), "not_tested")
        for name in current.categories
    }
    return render(
        request,
        "trust.html",
        trust=current,
        public_page=True,
        statuses=statuses,
        providers=[p for p in provider_terms(svc.instance) if p["name"] not in listed],
        checkpoint=ledger_view.latest(svc.log),
    )


def provider_terms(instance: Instance) -> list[dict[str, str]]:
    """One row per provider from the model registry, with its recorded data terms."""
    rows: dict[str, dict[str, str]] = {}
    for model in list_models(instance):
        terms = model.terms
        parts = []
        if terms.training_opt_out is not None:
            parts.append(
                "no training on our data" if terms.training_opt_out else "may train on data"
            )
        if terms.retention_days is not None:
            parts.append(f"retains data {terms.retention_days} days")
        if terms.region:
            parts.append(f"region {terms.region}")
        models = rows.setdefault(
            model.provider, {"name": model.provider, "models": "", "terms": ""}
        )
        models["models"] = ", ".join(filter(None, [models["models"], model.provider_model]))
        models["terms"] = models["terms"] or ("; ".join(parts) or "not stated")
    for upstream in instance.settings.upstreams:
        rows.setdefault(upstream.name, {"name": upstream.name, "models": "", "terms": "not stated"})
    return sorted(rows.values(), key=lambda r: r["name"])


_ASSETS = {"app.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8"}


@public("/static/web/{name}")
def asset(name: str) -> Response:
    """The vendored stylesheet and script (a fixed list: no path ever reaches the disk)."""
    if name not in _ASSETS:
        raise NotFoundError(f"no asset {name}")
    body = resources.files("assay.web").joinpath("static", name).read_bytes()
    return Response(
        body, media_type=_ASSETS[name], headers={"Cache-Control": "public, max-age=3600"}
    )
