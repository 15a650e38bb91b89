"""Compliance engine on both engines: schema, checks, evidence, assessment, samples, OSCAL."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from assay.clock import FixedClock
from assay.compliance import (
    CheckResult,
    add_evidence,
    assess,
    build_sample,
    check,
    check_registry,
    evidence_content,
    hookimpl,
    list_evidence,
    load_library,
    parse_period,
    register_check_plugin,
    run_checks,
)
from assay.compliance import checks as checks_module
from assay.compliance.models import CheckResultRow, EvidenceRow
from assay.compliance.oscal import build_oscal_documents
from assay.errors import ComplianceError, UsageError
from assay.instance import Instance
from assay.store.models import Base

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MY_TABLES = {"check_results", "compliance_evidence"}


@pytest.fixture
def fixed(instance: Instance) -> Instance:
    instance.clock = FixedClock(NOW)
    return instance


def test_models_match_the_migration(instance: Instance) -> None:
    with instance.db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    mine = [d for d in diffs if any(t in repr(d) for t in MY_TABLES)]
    assert mine == []


# --- the check framework -------------------------------------------------------------------


@check("test.broken", title="raises", controls=["AS-MON-01"])
def _broken(ctx: Any) -> CheckResult:
    raise RuntimeError("boom")


@check("test.ok", title="passes", controls=["AS-GOV-01"])
def _ok(ctx: Any) -> CheckResult:
    return CheckResult("pass", "fine", {"looked_at": 3})


class _Plugin:
    @hookimpl
    def assay_compliance_checks(self) -> list[Any]:
        return [_broken, _ok]


@pytest.fixture
def plugin() -> Any:
    p = _Plugin()
    register_check_plugin(p)
    yield p
    checks_module._extra_plugins.remove(p)


def test_plugins_register_checks_and_results_are_stored(fixed: Instance, plugin: Any) -> None:
    registry = check_registry()
    assert {"test.ok", "test.broken", "ledger.integrity"} <= set(registry)
    results = {r.check_id: r for r in run_checks(fixed, ["test.ok", "test.broken"])}
    assert results["test.ok"].result.status == "pass"
    assert results["test.broken"].result.status == "error"
    assert "boom" in results["test.broken"].result.summary
    with fixed.db.session() as session:
        rows = session.scalars(select(CheckResultRow).order_by(CheckResultRow.check_id)).all()
    assert [(r.check_id, r.status) for r in rows] == [("test.broken", "error"), ("test.ok", "pass")]
    ok = rows[1]
    assert json.loads(ok.evidence) == {"looked_at": 3}
    assert ok.evidence_sha256 == hashlib.sha256(ok.evidence.encode()).hexdigest()
    assert ok.ran_at == NOW


def test_duplicate_and_unknown_check_ids(fixed: Instance, plugin: Any) -> None:
    with pytest.raises(ComplianceError, match="unknown check"):
        run_checks(fixed, ["nope"])
    twin = _Plugin()
    register_check_plugin(twin)
    try:
        with pytest.raises(ComplianceError, match="two plugins"):
            check_registry()
    finally:
        checks_module._extra_plugins.remove(twin)


def test_missing_source_tables_are_not_applicable(fixed: Instance) -> None:
    spec = check("test.needs", title="x", controls=["AS-GOV-01"], requires=["no_such_table"])(lambda ctx: CheckResult("pass", "x"))
    ctx = checks_module.CheckContext(fixed, NOW)
    assert checks_module._execute(spec, ctx).status == "not_applicable"


# --- evidence ------------------------------------------------------------------------------


def test_evidence_is_encrypted_dated_and_in_the_ledger(fixed: Instance, tmp_path: Path) -> None:
    library = load_library()
    doc = tmp_path / "risk-register.csv"
    doc.write_bytes(b"risk,score\nprompt injection,high\n")
    info = add_evidence(fixed, library, str(doc), control_id="as-rsk-01", effective=NOW - timedelta(days=10), owner="Security Lead")
    assert info.control_id == "AS-RSK-01"
    assert info.sha256 == hashlib.sha256(doc.read_bytes()).hexdigest()
    with fixed.db.session() as session:
        row = session.get(EvidenceRow, info.id)
        assert row is not None
        assert b"prompt injection" not in row.ciphertext
    assert evidence_content(fixed, info.id) == doc.read_bytes()
    assert info.ledger_index is not None
    with fixed.db.engine.connect() as conn:
        leaf = conn.execute(text("SELECT leaf FROM ledger_entries WHERE idx = :i"), {"i": info.ledger_index}).scalar_one()
    event = json.loads(bytes(leaf))
    assert event["type"] == "evidence.added"
    assert event["attributes"]["sha256"] == info.sha256
    assert "Security Lead" not in bytes(leaf).decode()  # owner names stay out of the ledger
    url = add_evidence(fixed, library, "https://example.com/policy", control_id="AS-GOV-08", effective=NOW, owner="x", expires=NOW + timedelta(days=365))
    assert url.kind == "url"
    assert [e.id for e in list_evidence(fixed, "AS-GOV-08")] == [url.id]


@pytest.mark.parametrize(
    ("target", "control", "expires_days", "error"),
    [
        ("missing.pdf", "AS-RSK-01", None, UsageError),
        ("https://example.com/x", "AS-NOPE-01", None, ComplianceError),
        ("https://example.com/x", "AS-RSK-01", -1, UsageError),
    ],
)
def test_evidence_errors_leave_nothing(fixed: Instance, target: str, control: str, expires_days: int | None, error: type[Exception]) -> None:
    expires = NOW + timedelta(days=expires_days) if expires_days is not None else None
    with pytest.raises(error):
        add_evidence(fixed, load_library(), target, control_id=control, effective=NOW, owner="x", expires=expires)
    assert list_evidence(fixed) == []


# --- assessment ----------------------------------------------------------------------------


def _history(instance: Instance, check_id: str, statuses: list[tuple[datetime, str]]) -> None:
    with instance.db.session() as session:
        for when, status in statuses:
            session.add(CheckResultRow(check_id=check_id, status=status, ran_at=when, summary=f"{status} at {when:%F}",
                                       evidence="{}", evidence_sha256="0" * 64, remediation="do the thing"))


def test_point_in_time_assessment_shape(fixed: Instance) -> None:
    library = load_library()
    report = assess(fixed, library, check_registry())
    assert set(report) >= {"summary", "criteria", "controls", "gaps"}
    assert [c["id"] for c in report["criteria"]] == [c.id for c in library.criteria]
    assert len(report["criteria"]) == 61
    assert all(c["status"] in ("passing", "failing", "at_risk", "not_tested", "not_applicable") for c in report["criteria"])
    assert len(report["controls"]) == len(library.controls)
    assert report["summary"]["kind"] == "type1"
    assert report["gaps"][0]["rank"] == 1


def test_type1_uses_latest_results_and_evidence(fixed: Instance, tmp_path: Path) -> None:
    library = load_library()
    _history(fixed, "policy.changes_attributed", [(NOW - timedelta(days=2), "pass"), (NOW - timedelta(hours=1), "fail")])
    _history(fixed, "transcripts.encrypted", [(NOW - timedelta(hours=1), "pass")])
    doc = tmp_path / "conduct.pdf"
    doc.write_bytes(b"%PDF code of conduct")
    add_evidence(fixed, library, str(doc), control_id="AS-GOV-01", effective=NOW - timedelta(days=30), owner="HR")
    report = assess(fixed, library, check_registry())
    status = {c["id"]: c for c in report["controls"]}
    assert status["AS-CHG-04"]["status"] == "failing"
    assert status["AS-CHG-04"]["todo"] == "do the thing"
    assert status["AS-CNF-02"]["status"] == "passing"
    assert status["AS-GOV-01"]["status"] == "passing"
    assert status["AS-GOV-02"]["status"] == "not_tested"
    criteria = {c["id"]: c["status"] for c in report["criteria"]}
    assert criteria["CC8.1"] == "failing"
    assert report["gaps"][0]["status"] == "failing"
    assert report["summary"]["readiness_score"] > 0


def test_type2_lists_exceptions_over_the_period(fixed: Instance) -> None:
    library = load_library()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    days = [start + timedelta(days=d) for d in range(300)]
    _history(fixed, "transcripts.encrypted", [(d, "pass") for d in days])
    _history(fixed, "policy.changes_attributed", [(d, "fail" if d.day == 15 and d.month == 3 else "pass") for d in days])
    _history(fixed, "keys.rotation_age", [(d, "fail" if d.month == 10 else "pass") for d in days])
    report = assess(fixed, library, check_registry(), parse_period("2026-01-01..2026-10-31"))
    status = {c["id"]: c for c in report["controls"]}
    assert report["summary"]["kind"] == "type2"
    assert status["AS-CNF-02"]["status"] == "passing"
    assert status["AS-CHG-04"]["status"] == "at_risk"
    assert [e["time"][:10] for e in status["AS-CHG-04"]["exceptions"]] == ["2026-03-15"]
    assert status["AS-ACC-09"]["status"] == "failing"
    assert report["summary"]["exceptions"] >= 1 + 27
    outside = assess(fixed, library, check_registry(), parse_period("2025-01-01..2025-06-30"))
    assert {c["id"]: c["status"] for c in outside["controls"]}["AS-CNF-02"] == "not_tested"


# --- samples and OSCAL ---------------------------------------------------------------------


def test_sample_is_identical_across_runs_and_zero_population_recorded(fixed: Instance) -> None:
    library = load_library()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    _history(fixed, "transcripts.encrypted", [(start + timedelta(hours=6 * i), "pass") for i in range(1200)])
    period = parse_period("2026-01-01..2026-10-31")
    first = build_sample(fixed, library, check_registry(), "AS-CNF-02", period)
    second = build_sample(fixed, library, check_registry(), "AS-CNF-02", period)
    assert first == second
    assert first["population"]["size"] == 1200
    assert first["sample"]["size"] == 40  # continuous
    months = {i["time"][:7] for i in first["sample"]["items"]}
    assert len(months) >= 9  # spread across the period
    empty = build_sample(fixed, library, check_registry(), "AS-GOV-02", period)
    assert empty["population"]["size"] == 0 and empty["population"]["sha256"]
    assert empty["sample"]["items"] == []


def test_oscal_documents_validate_with_trestle(fixed: Instance, tmp_path: Path) -> None:
    from trestle.oscal.assessment_results import AssessmentResults
    from trestle.oscal.catalog import Catalog
    from trestle.oscal.component import ComponentDefinition
    from trestle.oscal.poam import PlanOfActionAndMilestones
    from trestle.oscal.profile import Profile
    from trestle.oscal.ssp import SystemSecurityPlan

    library = load_library()
    _history(fixed, "keys.rotation_age", [(NOW - timedelta(hours=1), "fail")])
    report = assess(fixed, library, check_registry())
    docs = build_oscal_documents(library, report, generated="2026-11-20T12:00:00Z", period={"from": "2026-01-01T00:00:00Z", "to": "2026-11-20T12:00:00Z"}, system_name="demo")
    models = {
        "catalog.json": Catalog, "profile.json": Profile, "component-definition.json": ComponentDefinition,
        "ssp.json": SystemSecurityPlan, "assessment-results.json": AssessmentResults,
        "poam.json": PlanOfActionAndMilestones,
    }
    for name, model in models.items():
        path = tmp_path / name
        path.write_bytes(docs[name])
        parsed = model.oscal_read(path)
        assert parsed is not None, name
    catalog = Catalog.oscal_read(tmp_path / "catalog.json")
    assert sum(len(g.controls or []) for g in catalog.groups or []) == len(library.controls)
    poam = json.loads(docs["poam.json"])["plan-of-action-and-milestones"]
    assert any("AS-ACC-09" in item["title"] for item in poam["poam-items"])
    again = build_oscal_documents(library, report, generated="2026-11-20T12:00:00Z", period={"from": "2026-01-01T00:00:00Z", "to": "2026-11-20T12:00:00Z"}, system_name="demo")
    assert again == docs


@pytest.mark.parametrize(
    ("control", "age_days", "expires_in_days", "expected"),
    [
        ("AS-GOV-01", 30, None, "passing"),      # annual, recent
        ("AS-GOV-01", 400, None, "at_risk"),     # annual, older than a year
        ("AS-MON-02", 10, None, "passing"),      # monthly, recent
        ("AS-MON-02", 90, None, "at_risk"),      # monthly, stale
        ("AS-GOV-01", 30, 10, "at_risk"),        # expires within 30 days
    ],
)
def test_manual_control_freshness(fixed: Instance, tmp_path: Path, control: str, age_days: int,
                                  expires_in_days: int | None, expected: str) -> None:
    library = load_library()
    doc = tmp_path / "e.txt"
    doc.write_text("x")
    expires = NOW + timedelta(days=expires_in_days) if expires_in_days is not None else None
    add_evidence(fixed, library, str(doc), control_id=control, effective=NOW - timedelta(days=age_days), owner="o", expires=expires)
    report = assess(fixed, library, check_registry())
    assert {c["id"]: c["status"] for c in report["controls"]}[control] == expected


def test_ledger_population_for_external_events(fixed: Instance) -> None:
    from assay.ledger import AuditLog, Event

    log = AuditLog.open(fixed)
    try:
        log.append_batch([
            Event(type="external.hr.leaver", actor="system", object_ids={"person_ref": f"p{n}"}, attributes={})
            for n in range(30)
        ])
        log.append(Event(type="gateway.request", actor="system", attributes={}))
    finally:
        log.close()
    library = load_library()
    period = parse_period("2026-11-01..2026-11-30")
    result = build_sample(fixed, library, check_registry(), "AS-ACC-03", period)
    assert result["population"]["source"] == "ledger"
    assert result["population"]["size"] == 30
    assert result["sample"]["size"] == 8  # ad hoc, 11-50
    assert result == build_sample(fixed, library, check_registry(), "AS-ACC-03", period)
    report = assess(fixed, library, check_registry(), period)
    assert {c["id"]: c["status"] for c in report["controls"]}["AS-ACC-03"] == "passing"
