"""Compliance checks fed by governance records.

Each check reads the records for a period and returns a :class:`CheckFinding`
with the whole population (so the compliance engine can sample it) and the
exceptions. A population of zero is reported, not omitted.

- ``gov.route-changes-approved`` (CC8.1): every route version activated in the
  period comes from a change request that was approved by someone other than
  its requester and has a passing evaluation.
- ``gov.models-registered`` (CC9.2): every model version in use in the period is
  registered with complete provider data terms.
- ``gov.evaluations-current`` (PI1.1-PI1.5): every live route's model version has
  a passing evaluation no older than ``max_age``, and its latest run passed.
- ``gov.emergency-changes-approved`` (CC8.1): no emergency or quick-start change
  is left awaiting post-approval longer than ``grace``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import pluggy
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from assay.clock import format_rfc3339
from assay.governance._common import same_person
from assay.governance.changes import SELF_DECLARED, Thresholds
from assay.governance.models import (
    ChangeRequestRow,
    DecisionRecordRow,
    EvaluationRow,
    ModelVersionRow,
    RouteRow,
    RouteVersionRow,
)
from assay.instance import Instance

__all__ = [
    "GOVERNANCE_CHECKS",
    "CheckFinding",
    "assay_compliance_checks",
    "check_emergency_changes_approved",
    "check_evaluations_current",
    "check_models_registered",
    "check_route_changes_approved",
]


@dataclass(frozen=True)
class CheckFinding:
    check_id: str
    criteria: tuple[str, ...]
    status: Literal["pass", "fail"]
    summary: str
    population: tuple[Mapping[str, object], ...] = ()
    exceptions: tuple[Mapping[str, object], ...] = field(default_factory=tuple)
    query: str = ""


def _finding(check_id: str, criteria: tuple[str, ...], what: str, *,
             population: list[dict[str, object]], exceptions: list[dict[str, object]],
             query: str) -> CheckFinding:
    status: Literal["pass", "fail"] = "fail" if exceptions else "pass"
    summary = f"{len(population)} {what}, {len(exceptions)} exception(s)"
    return CheckFinding(check_id, criteria, status, summary, tuple(population),
                        tuple(exceptions), query)


def _evaluation_passes(session: Session, change: ChangeRequestRow) -> bool:
    evaluation = session.get(EvaluationRow, change.evaluation_id) if change.evaluation_id else None
    if evaluation is None:
        return False
    limits = Thresholds(
        change.min_pass_rate_bp if change.min_pass_rate_bp is not None else evaluation.min_pass_rate_bp,
        change.max_regression_bp if change.max_regression_bp is not None
        else evaluation.max_regression_bp,
    )
    return limits.judge(evaluation.pass_rate_bp, evaluation.baseline_pass_rate_bp)[0]


def _route_change_problems(session: Session, version: RouteVersionRow) -> list[str]:
    change = session.get(ChangeRequestRow, version.change_id)
    if change is None:
        return ["no change request"]
    if version.kind == "rollback":
        return []  # restores a version that was itself approved; the rollback is recorded
    problems = []
    if change.state in ("rejected", "withdrawn"):
        problems.append(f"live although the change was {change.state}")
    if change.approver is None:
        problems.append("not approved")
    elif same_person(change.approver, change.requester):
        problems.append("approved by the requester")
    elif SELF_DECLARED in (identified_as(change.requester), identified_as(change.approver)):
        problems.append("separation of duties not shown: a self-declared name, not a verified person")
    if version.kind != "bootstrap" and not _evaluation_passes(session, change):
        problems.append("no passing evaluation")
    return problems


def identified_as(actor: str | None) -> str | None:
    """How an actor was identified: a verified ``person``, an ``api_key``, Assay itself
    (``system``), or ``self_declared`` (a name typed on the command line)."""
    if actor is None:
        return None
    kind = actor.partition(":")[0]
    return {"user": "person", "apikey": "api_key", "system": "system"}.get(kind, SELF_DECLARED)


def _identities(session: Session, change_id: str) -> dict[str, str | None]:
    change = session.get(ChangeRequestRow, change_id)
    if change is None:
        return {"requested_by": None, "approved_by": None}
    return {"requested_by": identified_as(change.requester), "approved_by": identified_as(change.approver)}


def check_route_changes_approved(instance: Instance, start: datetime, end: datetime) -> CheckFinding:
    population, exceptions = [], []
    with instance.db.session() as session:
        versions = session.scalars(
            select(RouteVersionRow)
            .where(RouteVersionRow.activated_at >= start, RouteVersionRow.activated_at < end)
            .order_by(RouteVersionRow.activated_at)
        ).all()
        for version in versions:
            item: dict[str, object] = {
                "id": f"{version.alias}#{version.route_version}", "route": version.alias,
                "route_version": version.route_version, "change": version.change_id,
                "kind": version.kind, "model_version": version.model_version_id,
                "activated_at": format_rfc3339(version.activated_at),
                **_identities(session, version.change_id),
            }
            population.append(item)
            problems = _route_change_problems(session, version)
            if problems:
                exceptions.append({**item, "problems": problems})
        population += _closed_changes(session, start, end)
    return _finding("gov.route-changes-approved", ("CC8.1",), "route change(s)", population=population,
                    exceptions=exceptions, query="gov_route_versions activated in [start, end), "
                    "and change requests rejected or withdrawn in [start, end)")


def _closed_changes(session: Session, start: datetime, end: datetime) -> list[dict[str, object]]:
    """Changes turned down or taken back: evidence the review works, never an exception."""
    closed = session.scalars(
        select(ChangeRequestRow)
        .where(ChangeRequestRow.state.in_(("rejected", "withdrawn")))
        .where(ChangeRequestRow.updated_at >= start, ChangeRequestRow.updated_at < end)
        .order_by(ChangeRequestRow.updated_at)
    ).all()
    return [{"id": change.id, "route": change.alias, "change": change.id,
             "model_version": change.model_version_id, "outcome": change.state,
             "closed_at": format_rfc3339(change.updated_at)} for change in closed]


def _models_in_use(session: Session, start: datetime, end: datetime) -> set[str]:
    live = set(session.scalars(select(RouteRow.model_version_id)))
    activated = set(session.scalars(
        select(RouteVersionRow.model_version_id).where(RouteVersionRow.activated_at < end)
        .where(RouteVersionRow.activated_at >= start)
    ))
    served = set(session.scalars(
        select(DecisionRecordRow.model_version_id).distinct()
        .where(DecisionRecordRow.created_at >= start, DecisionRecordRow.created_at < end)
        .where(DecisionRecordRow.model_version_id.is_not(None))
    ))
    return {m for m in live | activated | served if m}


def check_models_registered(instance: Instance, start: datetime, end: datetime) -> CheckFinding:
    population, exceptions = [], []
    with instance.db.session() as session:
        for model_id in sorted(_models_in_use(session, start, end)):
            model = session.get(ModelVersionRow, model_id)
            item: dict[str, object] = {"id": model_id}
            population.append(item)
            if model is None:
                exceptions.append({**item, "problems": ["not registered"]})
                continue
            missing = [name for name, value in (
                ("training opt-out", model.training_opt_out),
                ("retention", model.retention_days), ("region", model.region)) if value is None]
            if model.training_opt_out is False:
                missing.append("provider may train on the data")
            if missing:
                exceptions.append({**item, "problems": missing})
    return _finding("gov.models-registered", ("CC9.2",), "model version(s) in use", population=population,
                    exceptions=exceptions, query="model versions live, activated or served in [start, end)")


def check_evaluations_current(
    instance: Instance, start: datetime, end: datetime, *, max_age: timedelta = timedelta(days=90)
) -> CheckFinding:
    population, exceptions = [], []
    with instance.db.session() as session:
        for route in session.scalars(select(RouteRow).order_by(RouteRow.alias)):
            item: dict[str, object] = {"id": route.alias, "model_version": route.model_version_id}
            population.append(item)
            runs = session.scalars(
                select(EvaluationRow)
                .where(EvaluationRow.alias == route.alias,
                       EvaluationRow.candidate_model_version_id == route.model_version_id,
                       EvaluationRow.finished_at < end)
                .order_by(EvaluationRow.finished_at.desc())
            ).all()
            problems = _evaluation_problems(runs, end, max_age)
            if problems:
                exceptions.append({**item, "problems": problems})
    return _finding("gov.evaluations-current", ("PI1.1", "PI1.2", "PI1.3", "PI1.4", "PI1.5"),
                    "live route(s)", population=population, exceptions=exceptions,
                    query="latest evaluations of each live route's model version before end")


def _evaluation_problems(runs: Sequence[EvaluationRow], end: datetime,
                         max_age: timedelta) -> list[str]:
    if not runs:
        return ["never evaluated"]
    problems = []
    if not runs[0].passed:
        problems.append(f"latest evaluation {runs[0].id} below threshold")
    if not any(r.passed and r.finished_at >= end - max_age for r in runs):
        problems.append(f"no passing evaluation in the last {max_age.days} days")
    return problems


def check_emergency_changes_approved(
    instance: Instance, start: datetime, end: datetime, *, grace: timedelta = timedelta(days=3)
) -> CheckFinding:
    population, exceptions = [], []
    with instance.db.session() as session:
        changes = session.scalars(
            select(ChangeRequestRow)
            .where(or_(ChangeRequestRow.emergency.is_(True), ChangeRequestRow.kind == "bootstrap"))
            .where(ChangeRequestRow.activated_at.is_not(None))
            .where(ChangeRequestRow.activated_at < end)
            .order_by(ChangeRequestRow.activated_at)
        ).all()
        for change in changes:
            assert change.activated_at is not None
            item: dict[str, object] = {"id": change.id, "route": change.alias,
                                       "activated_at": format_rfc3339(change.activated_at)}
            population.append(item)
            late = change.approved_at is None or change.approved_at > change.activated_at + grace
            if (change.post_approval_pending and change.activated_at + grace <= end) or (
                not change.post_approval_pending and late and change.approved_at is not None
            ):
                exceptions.append({**item, "problems": [
                    "awaiting post-approval" if change.post_approval_pending
                    else "post-approved late"]})
    return _finding("gov.emergency-changes-approved", ("CC8.1",), "emergency change(s)",
                    population=population, exceptions=exceptions, query="emergency and quick-start changes activated before end")


Check = Callable[[Instance, datetime, datetime], CheckFinding]
GOVERNANCE_CHECKS: tuple[Check, ...] = (
    check_route_changes_approved,
    check_models_registered,
    check_evaluations_current,
    check_emergency_changes_approved,
)

# -- the compliance engine's plugin hook --------------------------------------------------

hookimpl = pluggy.HookimplMarker("assay")
LOOKBACK = timedelta(days=90)
_EVIDENCE_LIMIT = 500
_PLUGIN_CHECKS: tuple[tuple[Check, str, tuple[str, ...], tuple[str, ...], str], ...] = (
    (check_route_changes_approved, "Every route change was approved by another person after a "
     "passing evaluation", ("AS-AI-04", "AS-AI-05"), ("gov_route_versions",),
     "Approve or roll back each listed change: `assay changes list`, then evaluate and approve "
     "through `assay changes`."),
    (check_models_registered, "Every model version in use is registered with provider data "
     "terms", ("AS-AI-01", "AS-AI-02"), ("gov_model_versions",),
     "Register each listed version with --training-opt-out, --retention-days and --region."),
    (check_evaluations_current, "Live routes have recent evaluations above threshold",
     ("AS-AI-05", "AS-AI-06"), ("gov_evaluations",),
     "Run `assay eval run` for each listed route and schedule re-evaluation with "
     "`assay eval schedule`."),
    (check_emergency_changes_approved, "No emergency change is left without post-approval",
     ("AS-AI-04",), ("gov_change_requests",),
     "Have someone other than the requester run `assay changes approve` for each listed change."),
)


_IDS = {
    "check_route_changes_approved": "gov.route-changes-approved",
    "check_models_registered": "gov.models-registered",
    "check_evaluations_current": "gov.evaluations-current",
    "check_emergency_changes_approved": "gov.emergency-changes-approved",
}


PluginEntry = tuple[Check, str, tuple[str, ...], tuple[str, ...], str]


def _as_check_spec(compliance: Any, entry: PluginEntry) -> Any:
    function, title, controls, requires, remediation = entry
    finding_id = _IDS[function.__name__]

    def run(ctx: Any) -> Any:
        finding = function(ctx.instance, ctx.now - LOOKBACK, ctx.now)
        evidence = {
            "criteria": list(finding.criteria), "query": finding.query,
            "period_start": format_rfc3339(ctx.now - LOOKBACK),
            "period_end": format_rfc3339(ctx.now), "population_size": len(finding.population),
            "population": [dict(p) for p in finding.population[:_EVIDENCE_LIMIT]],
            "exceptions": [dict(e) for e in finding.exceptions[:_EVIDENCE_LIMIT]],
        }
        return compliance.CheckResult(finding.status, finding.summary, evidence,
                                      remediation if finding.exceptions else "")

    run.__name__ = finding_id.replace(".", "_").replace("-", "_")
    return compliance.CheckSpec(finding_id, title, controls, run, requires)


@hookimpl
def assay_compliance_checks() -> list[Any]:
    """Contribute the governance checks to the compliance engine (loaded by it)."""
    compliance = importlib.import_module("assay.compliance.checks")
    return [_as_check_spec(compliance, entry) for entry in _PLUGIN_CHECKS]
