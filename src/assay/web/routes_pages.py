"""The signed-in pages: overview, controls, gateway, ledger, tenants, evidence, export."""

from __future__ import annotations

import json
import threading
from typing import Annotated

from fastapi import Form, Request
from starlette.responses import Response

from assay.crypto import Keyring, TenantStore, TranscriptVault
from assay.errors import NotFoundError, UsageError
from assay.web import compliance_view, data, ledger_view
from assay.web._core import action, page, redirect, render, services, who
from assay.web.audit import record
from assay.web.charts import bar_chart, line_chart
from assay.web.gateway_view import gateway_figures
from assay.web.ledger_view import Verification
from assay.web.readiness import trend
from assay.web.roles import Capability as Cap

_Text = Annotated[str, Form()]


@page("/", Cap.VIEW_OVERVIEW)
def overview(request: Request) -> Response:
    instance = services(request).instance
    figures = compliance_view.overview_figures(instance)
    today = instance.clock.now().date()
    activity = ledger_view.events_per_day(instance.db, today)
    return render(
        request,
        "overview.html",
        missing=None,
        categories=figures["categories"],
        overall=figures["overall"],
        failing=figures["gaps"],
        trend=line_chart(trend(instance, today), title="Readiness over time", y_max=100, unit="%"),
        activity=bar_chart(activity[-7:], title="Audit events per day, last 7 days"),
        recent=ledger_view.recent_events(instance.db),
        components=[(name, data.component_present(name)) for name in data.COMPONENTS],
    )


@page("/gateway", Cap.VIEW_GATEWAY)
def gateway(request: Request) -> Response:
    instance = services(request).instance
    configured = [u.name for u in instance.settings.upstreams]
    figures = gateway_figures(instance.db, instance.clock.now(), configured)
    return render(
        request,
        "gateway.html",
        figures=figures,
        traffic=line_chart(figures.per_hour, title="Requests per hour, last 24 hours"),
        redactions=bar_chart(figures.redactions, title="Redactions by type, last 24 hours"),
    )


@page("/ledger", Cap.VIEW_LEDGER)
def ledger(request: Request) -> Response:
    return _ledger_page(request, None)


def _ledger_page(request: Request, verification: Verification | None) -> Response:
    log = services(request).log
    return render(
        request,
        "ledger.html",
        missing=None,
        checkpoint=ledger_view.latest(log),
        size=log.size(),
        verification=verification,
    )


@action("/ledger/verify", Cap.VERIFY_LEDGER)
def ledger_verify(request: Request) -> Response:
    svc = services(request)
    result = ledger_view.verify_log(svc.log, svc.instance.db)
    record(
        svc.log,
        "ledger.verified_online",
        f"user:{who(request).user_id}",
        attributes={"ok": result.ok},
    )
    return _ledger_page(request, result)


@page("/ledger/entries", Cap.VIEW_LEDGER)
def ledger_lookup(request: Request, index: str = "") -> Response:
    if not index.strip().isdigit():
        return render(
            request,
            "error.html",
            400,
            title="Not an entry number",
            message="Give the entry index as a whole number (0, 1, 2 …).",
        )
    return redirect(f"/ledger/entries/{int(index)}")


@page("/ledger/entries/{index}", Cap.VIEW_LEDGER)
def ledger_entry(request: Request, index: int) -> Response:
    found = ledger_view.entry(services(request).log, index)
    pretty = json.dumps(found.event, indent=2, sort_keys=True)
    return render(request, "entry.html", entry=found, pretty=pretty)


@page("/ledger/entries/{index}/proof", Cap.DOWNLOAD_PROOF)
def ledger_proof(request: Request, index: int) -> Response:
    log = services(request).log
    body = ledger_view.proof_file(log, index)
    return Response(
        body.encode(),
        media_type="text/plain; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="assay-entry-{index}.tlog-proof"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


_keyring_lock = threading.Lock()


def _keyring(request: Request) -> Keyring:
    """The process's one keyring (its key caches are shared with the gateway)."""
    state = request.app.state
    if getattr(state, "audit_log", None) is None:
        return Keyring.shared(state.instance)
    with _keyring_lock:  # an app given its own log (tests) gets a keyring recording there
        found = getattr(state, "keyring", None)
        if not isinstance(found, Keyring):
            found = Keyring.open(services(request).instance, services(request).log)
            state.keyring = found
    return found


def _tenant_store(request: Request) -> TenantStore:
    svc = services(request)
    return TenantStore(svc.instance, svc.log, _keyring(request))


def _tenants_page(request: Request, status: int = 200, **extra: object) -> Response:
    store = _tenant_store(request)
    tenants = store.list()
    keys = {t.name: store.keyring.list_keys(t.name) for t in tenants}
    return render(
        request, "tenants.html", status, missing=None, tenants=tenants, keys=keys, **extra
    )


@page("/tenants", Cap.VIEW_TENANTS)
def tenants(request: Request) -> Response:
    return _tenants_page(request)


@action("/tenants", Cap.MANAGE_TENANTS)
def tenant_create(
    request: Request, name: _Text, retention_days: Annotated[int, Form()] = 30
) -> Response:
    actor = f"user:{who(request).user_id}"
    try:
        _tenant_store(request).create(name.strip(), actor, retention_days)
    except (UsageError, NotFoundError) as exc:
        return _tenants_page(request, 400, error=f"{exc.message}. {exc.hint}")
    return _tenants_page(request, 201, done=f"Tenant {name.strip()} created with its own key.")


@page("/tenants/{tenant_id}/confirm/{what}", Cap.MANAGE_TENANTS)
def tenant_confirm(request: Request, tenant_id: str, what: str) -> Response:
    if what not in {"rotate", "erase"}:
        return render(request, "error.html", 404, title="Unknown action", message=what)
    tenant = _tenant_store(request).get(tenant_id)
    return render(request, "confirm.html", tenant_id=tenant.name, what=what)


@action("/tenants/{tenant_id}/rotate", Cap.MANAGE_TENANTS)
def tenant_rotate(request: Request, tenant_id: str) -> Response:
    actor = f"user:{who(request).user_id}"
    version = _keyring(request).rotate(tenant_id, actor)
    return _tenants_page(
        request, done=f"Key of {tenant_id} rotated: version {version} encrypts from now on."
    )


@action("/tenants/{tenant_id}/erase", Cap.MANAGE_TENANTS)
def tenant_erase(request: Request, tenant_id: str, confirm_name: _Text) -> Response:
    if confirm_name.strip() != tenant_id:
        return _tenants_page(
            request, 400, error=f"Nothing erased: the name typed did not match {tenant_id}."
        )
    counts = _tenant_store(request).erase(tenant_id, f"user:{who(request).user_id}")
    summary = ", ".join(f"{value} {key.replace('_', ' ')}" for key, value in counts.items())
    return _tenants_page(request, done=f"Tenant {tenant_id} erased ({summary}).")


@page("/transcripts/{transcript_id}", Cap.READ_TRANSCRIPTS)
def transcript_form(request: Request, transcript_id: str) -> Response:
    """Reading a transcript needs a stated reason; the read itself is a ledger event."""
    return render(request, "transcript.html", transcript_id=transcript_id, text=None)


@action("/transcripts/{transcript_id}", Cap.READ_TRANSCRIPTS)
def transcript_read(request: Request, transcript_id: str, reason: _Text) -> Response:
    svc = services(request)
    vault = TranscriptVault(svc.instance, _keyring(request), svc.log)
    actor = f"user:{who(request).user_id}"
    try:
        plaintext = vault.read(transcript_id, actor=actor, reason=reason)
    except UsageError as exc:
        return render(
            request,
            "transcript.html",
            400,
            transcript_id=transcript_id,
            text=None,
            error=f"{exc.message}. {exc.hint}",
        )
    text = plaintext.decode("utf-8", errors="replace")
    return render(request, "transcript.html", transcript_id=transcript_id, text=text)


@page("/account", Cap.ACCOUNT)
def account(request: Request) -> Response:
    svc = services(request)
    return render(request, "account.html", me=svc.accounts.get(who(request).user_id))
