"""The governance checks run inside the compliance engine (loaded as its plugin)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.governance_helpers import spec

from assay.governance import activate_change, propose_change, register_model
from assay.instance import Instance
from assay.ledger import AuditLog

checks = pytest.importorskip("assay.compliance.checks")

GOV_CHECKS = ["gov.emergency-changes-approved", "gov.evaluations-current",
              "gov.models-registered", "gov.route-changes-approved"]


@pytest.fixture
def audit(instance: Instance) -> Iterator[AuditLog]:
    log = AuditLog.open(instance)
    yield log
    log.close()


def test_engine_loads_and_runs_the_governance_checks(instance: Instance, audit: AuditLog) -> None:
    registry = checks.check_registry()
    assert all(check_id in registry for check_id in GOV_CHECKS)
    assert registry["gov.route-changes-approved"].controls == ("AS-AI-04", "AS-AI-05")
    empty = {r.check_id: r.result for r in checks.run_checks(instance, GOV_CHECKS, store=False)}
    assert {k: v.status for k, v in empty.items()} == dict.fromkeys(GOV_CHECKS, "pass")
    assert empty["gov.models-registered"].evidence["population_size"] == 0

    model = register_model(instance, audit, spec("chat-1"), actor="cli:alice")
    change = propose_change(instance, audit, alias="support", model_version_id=model.id,
                            reason="outage", actor="cli:alice", emergency=True)
    activate_change(instance, audit, change.id, actor="cli:alice")
    results = {r.check_id: r.result for r in checks.run_checks(instance, GOV_CHECKS)}
    changes = results["gov.route-changes-approved"]
    assert changes.status == "fail"
    assert changes.evidence["exceptions"][0]["change"] == change.id
    assert "assay changes" in changes.remediation
    assert results["gov.models-registered"].status == "pass"
    assert results["gov.evaluations-current"].status == "fail"
