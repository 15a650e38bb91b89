"""The compliance checks governance feeds, over a period with good and bad changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from tests.governance_helpers import DATASET, capitals_answer, local_upstream, spec

from assay.clock import FixedClock
from assay.governance import (
    GOVERNANCE_CHECKS,
    HttpTarget,
    activate_change,
    approve_change,
    evaluate_change,
    load_dataset,
    propose_change,
    register_model,
    register_upstream_models,
)
from assay.governance.checks import (
    check_emergency_changes_approved,
    check_evaluations_current,
    check_models_registered,
    check_route_changes_approved,
)
from assay.instance import Instance
from assay.ledger import AuditLog


@pytest.fixture
def audit(instance: Instance) -> Iterator[AuditLog]:
    log = AuditLog.open(instance)
    yield log
    log.close()


def test_checks_find_unapproved_changes_missing_terms_and_stale_evaluations(
    instance: Instance, audit: AuditLog
) -> None:
    start = instance.clock.now() - timedelta(days=1)
    good = register_model(instance, audit, spec("chat-1"), actor="cli:alice")
    change = propose_change(instance, audit, alias="support", model_version_id=good.id,
                            reason="launch", actor="user:alice")
    with local_upstream(capitals_answer({})) as (url, _log):
        target = HttpTarget(lambda _u: url)
        evaluate_change(instance, audit, change.id, dataset=load_dataset(DATASET),
                        actor="cli:alice", target=target)
        target.close()
    approve_change(instance, audit, change.id, actor="user:bob")
    activate_change(instance, audit, change.id, actor="cli:alice")
    emergency = propose_change(instance, audit, alias="billing", model_version_id=good.id,
                               reason="outage", actor="user:alice", emergency=True)
    activate_change(instance, audit, emergency.id, actor="cli:alice")
    register_upstream_models(instance, audit, "local", ["mini"])
    end = instance.clock.now() + timedelta(days=1)

    changes = check_route_changes_approved(instance, start, end)
    assert changes.status == "fail" and len(changes.population) == 3
    assert {e["route"]: e["problems"] for e in changes.exceptions} == {
        "billing": ["not approved", "no passing evaluation"], "mini": ["not approved"]}

    models = check_models_registered(instance, start, end)
    assert [p["id"] for p in models.population] == sorted([good.id, "local/mini"])
    assert [e["id"] for e in models.exceptions] == ["local/mini"]

    evaluations = check_evaluations_current(instance, start, end)
    assert {e["id"]: e["problems"] for e in evaluations.exceptions} == {
        "billing": ["never evaluated"], "mini": ["never evaluated"]}
    much_later = end + timedelta(days=200)
    stale = check_evaluations_current(instance, start, much_later)
    by_route = {e["id"]: e["problems"] for e in stale.exceptions}
    assert by_route["support"] == ["no passing evaluation in the last 90 days"]

    within_grace = check_emergency_changes_approved(instance, start, end)
    assert within_grace.status == "pass" and len(within_grace.population) == 2
    overdue = check_emergency_changes_approved(instance, start, end + timedelta(days=5))
    assert [e["problems"] for e in overdue.exceptions] == [["awaiting post-approval"]] * 2

    approve_change(instance, audit, emergency.id, actor="cli:bob")  # a name, not a person
    after = check_route_changes_approved(instance, start, end)
    assert {e["route"]: e["problems"] for e in after.exceptions}["billing"] == [
        "separation of duties not shown: a self-declared name, not a verified person",
        "no passing evaluation"]
    identities = {i["route"]: (i["requested_by"], i["approved_by"]) for i in after.population}
    assert identities == {"support": ("person", "person"), "billing": ("person", "self_declared"),
                          "mini": ("system", None)}


def test_an_empty_period_reports_a_zero_population(instance: Instance) -> None:
    now = instance.clock.now()
    for check in GOVERNANCE_CHECKS:
        finding = check(instance, now - timedelta(days=30), now)
        assert finding.status == "pass" and finding.population == ()
        assert finding.summary.startswith("0 ")
        assert finding.query


def test_post_approval_after_the_grace_period_is_late(instance: Instance, audit: AuditLog) -> None:
    start = instance.clock.now()
    model = register_model(instance, audit, spec("chat-1"), actor="cli:alice")
    change = propose_change(instance, audit, alias="support", model_version_id=model.id,
                            reason="outage", actor="cli:alice", emergency=True)
    activate_change(instance, audit, change.id, actor="cli:alice")
    instance.clock = FixedClock(start + timedelta(days=10))
    approve_change(instance, audit, change.id, actor="cli:bob")
    finding = check_emergency_changes_approved(instance, start, start + timedelta(days=11))
    assert [e["problems"] for e in finding.exceptions] == [["post-approved late"]]
