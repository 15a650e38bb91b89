"""Compliance pages: overview figures, controls, a control, evidence, audit export."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import File, Form, Request, UploadFile
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, Response

from assay.errors import AssayError, UsageError
from assay.web import compliance_view as cv
from assay.web._core import action, page, redirect, render, services, who
from assay.web.audit import record
from assay.web.roles import Capability as Cap
from assay.web.settings_store import TRUST_CATEGORIES

_Text = Annotated[str, Form()]
STATUSES = ("failing", "at_risk", "not_tested", "passing", "not_applicable")


@page("/controls", Cap.VIEW_CONTROLS)
def controls(
    request: Request, category: str = "", criterion: str = "", status: str = ""
) -> Response:
    wanted = cv.ControlFilter(category, criterion, status)
    report = cv.assessment(services(request).instance)
    return render(
        request,
        "controls.html",
        missing=None,
        controls=cv.filter_controls(report, wanted),
        categories=TRUST_CATEGORIES,
        statuses=STATUSES,
        filters={"category": category, "criterion": criterion, "status": status},
    )


@action("/controls/run", Cap.UPLOAD_EVIDENCE)
def controls_run(request: Request) -> Response:
    svc = services(request)
    count = cv.run_all_checks(svc.instance)
    record(
        svc.log,
        "compliance.checks_run_requested",
        f"user:{who(request).user_id}",
        attributes={"checks": count},
    )
    return redirect("/controls")


@page("/controls/{control_id}", Cap.VIEW_CONTROLS)
def control_detail(request: Request, control_id: str) -> Response:
    detail = cv.control_detail(services(request).instance, control_id)
    return render(request, "control.html", **detail)


@page("/evidence", Cap.VIEW_EVIDENCE)
def evidence(request: Request) -> Response:
    return _evidence_page(request)


def _evidence_page(request: Request, status: int = 200, **extra: object) -> Response:
    items = cv.evidence_items(services(request).instance)
    controls = sorted(cv.library().controls)
    return render(
        request, "evidence.html", status, missing=None, items=items, control_ids=controls, **extra
    )


@action("/evidence", Cap.UPLOAD_EVIDENCE)
async def evidence_upload(
    request: Request,
    control_id: _Text,
    effective: _Text,
    owner: _Text,
    file: Annotated[UploadFile, File()],
) -> Response:
    from starlette.concurrency import run_in_threadpool

    svc = services(request)
    content = await file.read()
    try:
        info = await run_in_threadpool(
            lambda: cv.store_upload(
                svc.instance,
                file.filename or "evidence",
                content,
                control_id=control_id.strip(),
                effective=cv.effective_of(effective),
                owner=owner,
                actor=f"user:{who(request).user_id}",
            )
        )
    except (AssayError, ValueError) as exc:
        message = (
            exc.message if isinstance(exc, AssayError) else f"the date {effective!r} is not valid"
        )
        return await run_in_threadpool(lambda: _evidence_page(request, 400, error=message))
    done = f"Stored {info.source} for {info.control_id} (SHA-256 {info.sha256[:16]}…, ledger entry {info.ledger_index})."
    return await run_in_threadpool(lambda: _evidence_page(request, 201, done=done))


@page("/export", Cap.EXPORT_AUDIT)
def export(request: Request) -> Response:
    return render(request, "export.html", missing=None, error=None)


@action("/export", Cap.EXPORT_AUDIT)
def export_submit(request: Request, start: _Text, end: _Text) -> Response:
    svc = services(request)
    folder = Path(tempfile.mkdtemp(prefix="assay-export-"))
    try:
        path, result = cv.build_export(svc.instance, start, end, folder)
    except UsageError as exc:
        _remove(folder)
        return render(request, "export.html", 400, missing=None, error=f"{exc.message}. {exc.hint}")
    record(
        svc.log,
        "compliance.export_downloaded",
        f"user:{who(request).user_id}",
        object_ids={"package": str(result["package"])},
        attributes={"from": start, "to": end},
    )
    return FileResponse(
        path,
        filename=path.name,
        media_type="application/zip",
        background=BackgroundTask(_remove, folder),
    )


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
