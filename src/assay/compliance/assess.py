"""Readiness assessment: control status rolled up to criteria, categories and a score.

Without a period it is a point-in-time (Type I style) view from the latest check
results and current evidence. With a period it judges operation over that
period (Type II style) from the stored check history and dated evidence, and
lists every exception. All counting over history is done in SQL.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import text

from assay import __version__
from assay.clock import format_rfc3339
from assay.compliance._timeutil import Period, aware
from assay.compliance.checks import CheckSpec
from assay.compliance.library import Control, ControlLibrary, Frequency
from assay.instance import Instance

__all__ = [
    "CONTROL_STATUSES",
    "FREQUENCY_DAYS",
    "ControlStatus",
    "assess",
    "latest_results",
    "run_assessment",
]

ControlStatus = Literal["passing", "failing", "at_risk", "not_tested", "not_applicable"]
CONTROL_STATUSES: tuple[ControlStatus, ...] = (
    "passing", "failing", "at_risk", "not_tested", "not_applicable",
)
# How long one occurrence of a control stays current.
FREQUENCY_DAYS: dict[Frequency, int] = {
    "continuous": 1, "daily": 1, "weekly": 7, "monthly": 31, "quarterly": 92, "annual": 366,
    "ad_hoc": 366,
}
_SEVERITY = {"failing": 0, "at_risk": 1, "not_tested": 2, "passing": 3, "not_applicable": 4}
_EXPIRY_WARNING = timedelta(days=30)
_EXCEPTIONS_PER_CHECK = 50


@dataclass
class ControlView:
    control: Control
    status: ControlStatus = "not_tested"
    reason: str = ""
    todo: str = ""
    checks: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    exceptions: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        c = self.control
        return {
            "id": c.id, "title": c.title, "status": self.status, "reason": self.reason,
            "criteria": c.criteria, "frequency": c.frequency, "automated": c.automated,
            "owner": c.owner, "ai": c.ai, "checks": self.checks, "evidence": self.evidence,
            "exceptions": self.exceptions, "todo": self.todo,
        }


# --- reading the stored history -------------------------------------------------------------


def latest_results(instance: Instance, as_of: datetime) -> dict[str, dict[str, Any]]:
    """The newest stored result of each check at ``as_of``."""
    sql = text(
        "SELECT c.check_id, c.status, c.ran_at, c.summary, c.remediation FROM check_results c "
        "JOIN (SELECT check_id, MAX(id) AS mid FROM check_results WHERE ran_at <= :asof "
        "GROUP BY check_id) x ON c.id = x.mid"
    )
    with instance.db.engine.connect() as conn:
        return {r.check_id: dict(r._mapping) for r in conn.execute(sql, {"asof": as_of})}


def _period_counts(instance: Instance, period: Period) -> dict[str, dict[str, Any]]:
    sql = text(
        "SELECT check_id, status, COUNT(*) AS n, MIN(ran_at) AS first, MAX(ran_at) AS last "
        "FROM check_results WHERE ran_at >= :start AND ran_at < :end GROUP BY check_id, status"
    )
    found: dict[str, dict[str, Any]] = defaultdict(lambda: {"counts": {}, "last": None})
    with instance.db.engine.connect() as conn:
        for r in conn.execute(sql, {"start": period.start, "end": period.end}):
            entry = found[r.check_id]
            entry["counts"][r.status] = int(r.n)
            last = aware(r.last)
            if entry["last"] is None or last > entry["last"][0]:
                entry["last"] = (last, r.status)
    return dict(found)


def _period_exceptions(instance: Instance, period: Period, check_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    if not check_ids:
        return {}
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    sql = text(
        "SELECT check_id, status, ran_at, summary FROM check_results WHERE check_id = :cid "
        "AND status IN ('fail', 'error') AND ran_at >= :start AND ran_at < :end "
        "ORDER BY ran_at LIMIT :limit"
    )
    with instance.db.engine.connect() as conn:
        for cid in check_ids:
            params = {"cid": cid, "start": period.start, "end": period.end, "limit": _EXCEPTIONS_PER_CHECK}
            for r in conn.execute(sql, params):
                found[cid].append(
                    {"check": cid, "status": r.status, "time": format_rfc3339(aware(r.ran_at)), "summary": r.summary}
                )
    return dict(found)


def _evidence_rows(instance: Instance) -> dict[str, list[dict[str, Any]]]:
    sql = text(
        "SELECT id, control_id, sha256, effective_at, expires_at, source FROM compliance_evidence "
        "ORDER BY effective_at"
    )
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with instance.db.engine.connect() as conn:
        for r in conn.execute(sql):
            found[r.control_id].append(
                {"id": r.id, "sha256": r.sha256, "source": r.source,
                 "effective": aware(r.effective_at), "expires": aware(r.expires_at)}
            )
    return dict(found)


def _ledger_event_counts(instance: Instance, types: set[str], start: datetime, end: datetime) -> dict[str, int]:
    if not types:
        return {}
    from sqlalchemy import bindparam, inspect

    if "ledger_entries" not in inspect(instance.db.engine).get_table_names():
        return {}
    sql = text(
        "SELECT event_type, COUNT(*) AS n FROM ledger_entries WHERE event_type IN :types "
        "AND event_time >= :start AND event_time < :end GROUP BY event_type"
    ).bindparams(bindparam("types", expanding=True))
    with instance.db.engine.connect() as conn:
        rows = conn.execute(sql, {"types": sorted(types), "start": start, "end": end})
        return {r.event_type: int(r.n) for r in rows}


# --- judging one control -------------------------------------------------------------------


def _judge_automated_now(view: ControlView, specs: list[CheckSpec], latest: dict[str, dict[str, Any]], now: datetime) -> None:
    window = timedelta(days=2 * FREQUENCY_DAYS[view.control.frequency])
    statuses = []
    for spec in specs:
        row = latest.get(spec.id)
        if row is None:
            view.checks.append({"id": spec.id, "status": None})
            continue
        ran = aware(row["ran_at"])
        stale = now - ran > window
        statuses.append("stale" if stale and row["status"] == "pass" else row["status"])
        view.checks.append({"id": spec.id, "status": row["status"], "time": format_rfc3339(ran), "summary": row["summary"]})
        if row["status"] in ("fail", "error") and not view.todo:
            view.todo = row["remediation"] or f"Fix what check {spec.id} reports."
    _from_check_statuses(view, statuses)


def _from_check_statuses(view: ControlView, statuses: list[str]) -> None:
    if not statuses:
        view.status, view.reason = "not_tested", "no check result yet"
        view.todo = view.todo or "Run `assay checks run`."
    elif "fail" in statuses:
        view.status, view.reason = "failing", "a check fails"
    elif "error" in statuses or "stale" in statuses:
        view.status, view.reason = "at_risk", "a check errored or its latest result is stale"
        view.todo = view.todo or "Run `assay checks run` regularly (schedule it) and fix errors."
    elif all(s == "not_applicable" for s in statuses):
        view.status, view.reason = "not_applicable", "what the checks test is not in use"
    else:
        view.status, view.reason = "passing", "checks pass"


def _judge_manual(
    view: ControlView, evidence: list[dict[str, Any]], events: int, *, start: datetime, end: datetime, needed: int
) -> None:
    c = view.control
    in_force = [e for e in evidence if e["effective"] < end and (e["expires"] is None or e["expires"] > start)]
    # Evidence counts while it is current for the control's frequency (before the period too).
    fresh_from = min(start, end) - timedelta(days=FREQUENCY_DAYS[c.frequency])
    relevant = [e for e in in_force if e["effective"] >= fresh_from]
    view.evidence = [
        {"id": e["id"], "sha256": e["sha256"], "source": e["source"], "effective": format_rfc3339(e["effective"]),
         "expires": format_rfc3339(e["expires"]) if e["expires"] else None}
        for e in in_force
    ]
    occurrences = len(relevant) + events
    add = f"Add evidence ({'; '.join(c.evidence)}) with `assay evidence add FILE --control {c.id} --effective DATE --owner ROLE`."
    if occurrences == 0 and in_force:
        view.status, view.reason, view.todo = "at_risk", f"evidence is older than its {c.frequency} frequency", add
    elif occurrences == 0:
        view.status, view.reason, view.todo = "not_tested", "no evidence in force", add
    elif occurrences < needed:
        view.status, view.reason, view.todo = "at_risk", f"{occurrences} of {needed} expected occurrences evidenced", add
    elif relevant and all(e["expires"] is not None and e["expires"] - end < _EXPIRY_WARNING for e in relevant):
        view.status, view.reason, view.todo = "at_risk", "all its evidence expires within 30 days", add
    else:
        view.status, view.reason = "passing", f"{occurrences} occurrences evidenced"


def _expected_occurrences(frequency: Frequency, period: Period | None) -> int:
    if period is None or frequency == "ad_hoc":
        return 1
    days = (period.end - period.start).total_seconds() / 86400
    # Manual evidence for very frequent controls is a report covering the span, so cap it.
    return max(1, min(4, math.floor(days / FREQUENCY_DAYS[frequency])))


def _judge_automated_period(view: ControlView, specs: list[CheckSpec], counts: dict[str, dict[str, Any]], exceptions: dict[str, list[dict[str, Any]]]) -> None:
    statuses = []
    for spec in specs:
        entry = counts.get(spec.id)
        if entry is None:
            view.checks.append({"id": spec.id, "runs": 0})
            continue
        runs = sum(entry["counts"].values())
        bad = entry["counts"].get("fail", 0) + entry["counts"].get("error", 0)
        last_time, last_status = entry["last"]
        view.checks.append({"id": spec.id, "runs": runs, "counts": entry["counts"], "last": format_rfc3339(last_time), "last_status": last_status})
        view.exceptions.extend(exceptions.get(spec.id, []))
        if all(s == "not_applicable" for s in entry["counts"]):
            statuses.append("not_applicable")
        elif last_status in ("fail", "error"):
            statuses.append("fail")
        else:
            statuses.append("exceptions" if bad else "pass")
    if "exceptions" in statuses and "fail" not in statuses:
        view.status, view.reason = "at_risk", "exceptions occurred in the period, latest run passes"
        view.todo = "Explain each exception and its remediation to the auditor."
        return
    _from_check_statuses(view, statuses)
    if view.status == "not_tested":
        view.reason = "no check ran in the period"


# --- the whole assessment ------------------------------------------------------------------


def _rollup(statuses: list[ControlStatus]) -> ControlStatus:
    applicable = [s for s in statuses if s != "not_applicable"]
    if not applicable:
        return "not_applicable" if statuses else "not_tested"
    if "failing" in applicable:
        return "failing"
    if all(s == "not_tested" for s in applicable):
        return "not_tested"
    if all(s == "passing" for s in applicable):
        return "passing"
    return "at_risk"


def _score(statuses: list[ControlStatus]) -> float:
    applicable = [s for s in statuses if s != "not_applicable"]
    if not applicable:
        return 0.0
    points = sum(1.0 if s == "passing" else 0.5 if s == "at_risk" else 0.0 for s in applicable)
    return round(100 * points / len(applicable), 1)


def _checks_by_control(registry: dict[str, CheckSpec]) -> dict[str, list[CheckSpec]]:
    found: dict[str, list[CheckSpec]] = defaultdict(list)
    for spec in registry.values():
        for control_id in spec.controls:
            found[control_id].append(spec)
    return found


def assess(
    instance: Instance,
    library: ControlLibrary,
    registry: dict[str, CheckSpec],
    period: Period | None = None,
) -> dict[str, Any]:
    """The assessment as a JSON-ready dict with ``summary``, ``criteria`` and ``controls``."""
    now = instance.clock.now()
    start, end = (period.start, period.end) if period else (now, now)
    by_control = _checks_by_control(registry)
    evidence = _evidence_rows(instance)
    event_types = {t for c in library.controls.values() if c.population for t in c.population.event_types}
    events = _ledger_event_counts(instance, event_types, start - timedelta(days=366) if period is None else start, end)
    if period is None:
        latest = latest_results(instance, now)
    else:
        counts = _period_counts(instance, period)
        exceptions = _period_exceptions(instance, period, sorted(counts))
    views = []
    for control in library.controls.values():
        view = ControlView(control)
        specs = by_control.get(control.id, [])
        if specs:
            if period is None:
                _judge_automated_now(view, specs, latest, now)
            else:
                _judge_automated_period(view, specs, counts, exceptions)
        else:
            types = control.population.event_types if control.population else []
            n_events = sum(events.get(t, 0) for t in types)
            needed = _expected_occurrences(control.frequency, period)
            _judge_manual(view, evidence.get(control.id, []), n_events, start=start, end=end, needed=needed)
        views.append(view)
    return _report(library, views, period, now)


def _report(library: ControlLibrary, views: list[ControlView], period: Period | None, now: datetime) -> dict[str, Any]:
    status_of = {v.control.id: v.status for v in views}
    criteria: list[dict[str, Any]] = []
    for requirement in library.criteria:
        controls = [c.id for c in library.controls_for(requirement.id)]
        criteria.append({
            "id": requirement.id, "title": requirement.title, "category": requirement.category,
            "series": library.series_of(requirement.id), "status": _rollup([status_of[c] for c in controls]),
            "controls": controls,
        })
    categories: dict[str, list[ControlStatus]] = defaultdict(list)
    for criterion in criteria:
        categories[str(criterion["category"])].append(criterion["status"])
    statuses = [v.status for v in views]
    gaps = sorted(
        (v for v in views if v.status in ("failing", "at_risk", "not_tested")),
        key=lambda v: (_SEVERITY[v.status], not v.control.automated, -len(v.control.criteria), v.control.id),
    )
    summary = {
        "kind": "type2" if period else "type1",
        "generated": format_rfc3339(now),
        "period": period.as_json() if period else None,
        "assay_version": __version__,
        "readiness_score": _score(statuses),
        "controls": {s: statuses.count(s) for s in CONTROL_STATUSES},
        "criteria": {s: [c["status"] for c in criteria].count(s) for s in CONTROL_STATUSES},
        "categories": {k: _rollup(v) for k, v in sorted(categories.items())},
        "exceptions": sum(len(v.exceptions) for v in views),
    }
    return {
        "summary": summary,
        "criteria": criteria,
        "controls": [v.as_json() for v in views],
        "gaps": [
            {"rank": i + 1, "control": v.control.id, "title": v.control.title, "status": v.status,
             "reason": v.reason, "todo": v.todo, "criteria": v.control.criteria}
            for i, v in enumerate(gaps)
        ],
    }


def run_assessment(
    instance: Instance,
    library: ControlLibrary,
    registry: dict[str, CheckSpec],
    period: Period | None = None,
    *,
    run_first: bool = True,
) -> dict[str, Any]:
    """Run the checks (point-in-time only, unless told not to) and assess."""
    if run_first and period is None:
        from assay.compliance.checks import run_checks

        run_checks(instance)
    return assess(instance, library, registry, period)
