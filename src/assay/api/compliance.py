"""Compliance API: library, latest check results, assessment and samples.

Read-only routes for ``auditor`` and ``admin`` keys; running the checks (which
writes their results) needs ``admin``. Handlers are plain functions, so
FastAPI runs their database work in its thread pool.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from assay.api.auth import Principal, require_role
from assay.clock import format_rfc3339
from assay.compliance import (
    ControlLibrary,
    assess,
    build_sample,
    check_registry,
    load_library,
    parse_period,
    run_checks,
)
from assay.compliance._timeutil import aware
from assay.compliance.assess import latest_results
from assay.instance import Instance

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/compliance", tags=["compliance"])
Reader = Annotated[Principal, Depends(require_role("auditor", "admin", platform=True))]
Admin = Annotated[Principal, Depends(require_role("admin", platform=True))]
PeriodQuery = Annotated[str | None, Query(description="FROM..TO, e.g. 2026-01-01..2026-06-30")]


def _instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


def _library(request: Request) -> ControlLibrary:
    library: ControlLibrary | None = getattr(request.app.state, "control_library", None)
    if library is None:
        library = load_library(_instance(request).settings.compliance.library)
        request.app.state.control_library = library
    return library


@router.get("/criteria")
def criteria(request: Request, _: Reader) -> list[dict[str, Any]]:
    library = _library(request)
    return [
        {"id": c.id, "title": c.title, "category": c.category, "controls": [x.id for x in library.controls_for(c.id)]}
        for c in library.criteria
    ]


@router.get("/controls")
def controls(request: Request, _: Reader, criterion: str | None = None) -> list[dict[str, Any]]:
    library = _library(request)
    chosen = library.controls_for(criterion) if criterion else list(library.controls.values())
    return [c.model_dump(mode="json") for c in chosen]


@router.get("/controls/{control_id}")
def control(request: Request, control_id: str, _: Reader) -> dict[str, Any]:
    found = _library(request).control(control_id)
    checks = [s.id for s in check_registry().values() if found.id in s.controls]
    return {**found.model_dump(mode="json"), "checks": checks}


@router.get("/checks")
def checks(request: Request, _: Reader) -> list[dict[str, Any]]:
    instance = _instance(request)
    latest = latest_results(instance, instance.clock.now())
    found = []
    for spec in check_registry().values():
        row = latest.get(spec.id)
        shown = None
        if row is not None:
            shown = {"status": row["status"], "time": format_rfc3339(aware(row["ran_at"])),
                     "summary": row["summary"], "remediation": row["remediation"]}
        found.append({"id": spec.id, "title": spec.title, "controls": list(spec.controls), "latest": shown})
    return found


@router.post("/checks/run")
def checks_run(request: Request, _: Admin) -> list[dict[str, Any]]:
    results = run_checks(_instance(request))
    return [
        {"id": r.check_id, "status": r.result.status, "summary": r.result.summary,
         "evidence": r.result.evidence, "remediation": r.result.remediation}
        for r in results
    ]


@router.get("/assessment")
def assessment(request: Request, _: Reader, period: PeriodQuery = None) -> dict[str, Any]:
    parsed = parse_period(period) if period else None
    return assess(_instance(request), _library(request), check_registry(), parsed)


@router.get("/samples/{control_id}")
def sample(request: Request, control_id: str, _: Reader, period: Annotated[str, Query()]) -> dict[str, Any]:
    return build_sample(_instance(request), _library(request), check_registry(), control_id, parse_period(period))
