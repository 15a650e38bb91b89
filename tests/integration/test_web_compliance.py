"""Compliance pages over the real compliance engine: readiness, controls, evidence, export."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.web_support import client_for, close_apps, set_up_person

from assay.instance import Instance
from assay.web.compliance_view import library
from assay.web.readiness import trend


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'assay.db'}"


@pytest.fixture(autouse=True)
def _stop_ledger(instance: Instance) -> Iterator[None]:
    yield
    close_apps()


def test_overview_scores_categories_and_keeps_a_daily_snapshot(instance: Instance) -> None:
    compliance = set_up_person(instance, "lead@example.com", "compliance")
    ran = compliance.client.post("/controls/run", data={"csrf_token": compliance.csrf("/controls")})
    assert ran.status_code == 303
    page = compliance.client.get("/")
    assert page.status_code == 200
    assert "overall" in page.text and "Failing controls first" in page.text
    assert "not part of this build" not in page.text
    points = trend(instance, instance.clock.now().date())
    assert len(points) == 1 and 0.0 <= points[0][1] <= 100.0


def test_controls_filter_and_a_control_page(instance: Instance) -> None:
    viewer = set_up_person(instance, "v@example.com", "viewer")
    every = viewer.client.get("/controls")
    assert every.status_code == 200
    control_id = next(iter(library().controls))
    assert control_id in every.text
    only = viewer.client.get("/controls", params={"status": "passing", "category": "Privacy"})
    assert only.status_code == 200
    detail = viewer.client.get(f"/controls/{control_id}")
    assert detail.status_code == 200 and "Evidence" in detail.text and "Checks and their history" in detail.text
    assert viewer.client.get("/controls/NO-SUCH-1").status_code == 404
    # A viewer may not run checks.
    assert viewer.client.post("/controls/run", data={"csrf_token": viewer.csrf()}).status_code == 403


def test_evidence_upload_then_auditor_reads_and_exports(instance: Instance) -> None:
    lead = set_up_person(instance, "lead@example.com", "compliance")
    control_id = next(c.id for c in library().controls.values() if not c.automated)
    upload = lead.client.post(
        "/evidence",
        data={"control_id": control_id, "effective": "2026-01-15", "owner": "Security lead",
              "csrf_token": lead.csrf("/evidence")},
        files={"file": ("access-review.csv", b"user,decision\nu1,keep\n", "text/csv")},
    )
    assert upload.status_code == 201, upload.text
    assert "access-review.csv" in upload.text and "ledger entry" in upload.text
    bad = lead.client.post(
        "/evidence",
        data={"control_id": control_id, "effective": "not a date", "owner": "x", "csrf_token": lead.csrf()},
        files={"file": ("a.txt", b"x", "text/plain")},
    )
    assert bad.status_code == 400

    auditor = set_up_person(instance, "aud@example.com", "auditor")
    listed = auditor.client.get("/evidence")
    assert listed.status_code == 200 and "access-review.csv" in listed.text
    assert "Upload evidence" not in listed.text
    refused = auditor.client.post(
        "/evidence", data={"control_id": control_id, "effective": "2026-01-15", "owner": "x",
                           "csrf_token": auditor.csrf()},
        files={"file": ("a.txt", b"x", "text/plain")},
    )
    assert refused.status_code == 403
    exported = auditor.client.post(
        "/export", data={"start": "2026-01-01", "end": "2026-03-31", "csrf_token": auditor.csrf("/export")}
    )
    assert exported.status_code == 200, exported.text[:500]
    assert exported.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(exported.content)).namelist()
    assert "manifest.json" in names
    backwards = auditor.client.post(
        "/export", data={"start": "2026-03-31", "end": "2026-01-01", "csrf_token": auditor.csrf("/export")}
    )
    assert backwards.status_code == 400 and "before it starts" in backwards.text


def test_trust_page_shows_category_status_and_registered_provider_terms(instance: Instance) -> None:
    from tests.governance_helpers import spec

    from assay.governance import register_model
    from assay.ledger import AuditLog

    with AuditLog.open(instance) as log:
        register_model(instance, log, spec("chat-1"), actor="cli:alice")
    admin = set_up_person(instance, "root@example.com", "admin")
    saved = admin.client.post("/settings/trust", data={
        "csrf_token": admin.csrf("/settings/trust"), "enabled": "on", "category_Security": "on",
    })
    assert saved.status_code == 303
    page = client_for(instance).get("/trust")
    assert page.status_code == 200
    assert "testco" in page.text and "no training on our data; retains data 0 days; region eu" in page.text
    assert "not tested" in page.text and "chat-1" not in page.text


def test_models_page_shows_the_registry_to_an_auditor(instance: Instance) -> None:
    from tests.governance_helpers import spec

    from assay.governance import register_model
    from assay.ledger import AuditLog

    instance.settings.demo_model = False  # no quick-start route, so no change request exists
    with AuditLog.open(instance) as log:
        model = register_model(instance, log, spec("chat-1"), actor="cli:alice")
    auditor = set_up_person(instance, "aud@example.com", "auditor")
    page = auditor.client.get("/models")
    assert page.status_code == 200 and model.id in page.text and "No change request yet" in page.text
