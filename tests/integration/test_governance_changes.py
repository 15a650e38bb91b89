"""The whole change flow on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.governance_helpers import (
    DATASET,
    capitals_answer,
    ledger_events,
    ledger_types,
    local_upstream,
    spec,
)

from assay.errors import GovernanceError, LedgerError, NotFoundError
from assay.governance import (
    HttpTarget,
    RegistryResolver,
    activate_change,
    approve_change,
    evaluate_change,
    get_change,
    get_route,
    list_changes,
    load_dataset,
    propose_change,
    register_model,
    rollback_change,
)
from assay.instance import Instance
from assay.ledger import AuditLog


@pytest.fixture
def audit(instance: Instance) -> Iterator[AuditLog]:
    log = AuditLog.open(instance)
    yield log
    log.close()


def _target(url: str) -> HttpTarget:
    return HttpTarget(lambda _name: url)


def test_change_flow_with_separation_of_duties_and_rollback(
    instance: Instance, audit: AuditLog
) -> None:
    v1 = register_model(instance, audit, spec("chat-1"), actor="cli:alice")
    v2 = register_model(instance, audit, spec("chat-2"), actor="cli:alice")
    dataset = load_dataset(DATASET, "capitals.jsonl")
    resolver = RegistryResolver(instance)
    with local_upstream(capitals_answer({"chat-1": {"Spain"}})) as (url, _log):
        first = propose_change(instance, audit, alias="support", model_version_id=v1.id,
                               reason="launch", actor="cli:alice", min_pass_rate_bp=7500)
        evaluate_change(instance, audit, first.id, dataset=dataset, actor="cli:alice",
                        target=_target(url))
        with pytest.raises(GovernanceError, match="cannot approve"):
            approve_change(instance, audit, first.id, actor="cli:Alice ")
        with pytest.raises(GovernanceError, match="only an approved change"):
            activate_change(instance, audit, first.id, actor="cli:alice")
        approve_change(instance, audit, first.id, actor="cli:bob")
        activate_change(instance, audit, first.id, actor="cli:alice")
        assert resolver.resolve("support").model_version_id == v1.id

        second = propose_change(instance, audit, alias="support", model_version_id=v2.id,
                                reason="better model", actor="cli:carol")
        result = evaluate_change(instance, audit, second.id, dataset=dataset,
                                 actor="cli:carol", target=_target(url))
    assert (result.pass_rate_bp, result.baseline_pass_rate_bp) == (10000, 7500)
    approve_change(instance, audit, second.id, actor="cli:alice")
    live = activate_change(instance, audit, second.id, actor="cli:carol")
    assert live.activated_route_version == 2
    route = resolver.resolve("support")
    assert (route.model_version_id, route.route_version) == (v2.id, 2)
    assert route.prompt_template_version == "support@v1"

    with pytest.raises(GovernanceError, match="later change is live"):
        rollback_change(instance, audit, first.id, actor="cli:bob", reason="oops")
    rolled = rollback_change(instance, audit, second.id, actor="cli:bob", reason="complaints")
    assert rolled.state == "rolled_back"
    route = resolver.resolve("support")
    assert (route.model_version_id, route.route_version) == (v1.id, 3)
    assert [v.kind for v in get_route(instance, "support").history] == [
        "change", "change", "rollback"]
    assert ledger_types(instance) == [
        "model.registered", "model.registered", "change.proposed", "eval.started",
        "eval.completed", "change.evaluated", "change.approved", "route.activated",
        "change.proposed", "eval.started", "eval.completed", "change.evaluated",
        "change.approved", "route.activated", "route.rolled_back",
    ]
    activated = ledger_events(instance)[13]
    assert activated["object_ids"]["model_version"] == v2.id
    assert activated["attributes"]["route_version"] == 2
    assert activated["actor"] == "cli:carol"


def test_activation_refused_without_a_passing_evaluation(
    instance: Instance, audit: AuditLog
) -> None:
    v1 = register_model(instance, audit, spec("chat-1"), actor="cli:alice")
    change = propose_change(instance, audit, alias="support", model_version_id=v1.id,
                            reason="launch", actor="cli:alice")
    with pytest.raises(GovernanceError, match="only an evaluated change"):
        approve_change(instance, audit, change.id, actor="cli:bob")
    with local_upstream(capitals_answer({"chat-1": {"Spain", "Italy"}})) as (url, _log):
        result = evaluate_change(instance, audit, change.id, dataset=load_dataset(DATASET),
                                 actor="cli:alice", target=_target(url))
    assert not result.passed and result.pass_rate_bp == 5000
    assert get_change(instance, change.id).state == "evaluation_failed"
    with pytest.raises(GovernanceError, match="only an evaluated change"):
        approve_change(instance, audit, change.id, actor="cli:bob")
    with pytest.raises(GovernanceError, match="only an approved change"):
        activate_change(instance, audit, change.id, actor="cli:bob")
    with pytest.raises(NotFoundError):
        RegistryResolver(instance).resolve("support")


def test_emergency_change_goes_live_and_awaits_post_approval(
    instance: Instance, audit: AuditLog
) -> None:
    v1 = register_model(instance, audit, spec("chat-1"), actor="cli:alice")
    change = propose_change(instance, audit, alias="support", model_version_id=v1.id,
                            reason="provider outage", actor="cli:alice", emergency=True)
    live = activate_change(instance, audit, change.id, actor="cli:alice")
    assert live.state == "activated" and live.post_approval_pending
    assert [c.id for c in list_changes(instance, state="awaiting-post-approval")] == [change.id]
    assert RegistryResolver(instance).resolve("support").model_version_id == v1.id
    with pytest.raises(GovernanceError, match="cannot approve"):
        approve_change(instance, audit, change.id, actor="cli:alice")
    done = approve_change(instance, audit, change.id, actor="cli:bob")
    assert not done.post_approval_pending and done.approver == "cli:bob"
    assert list_changes(instance, state="awaiting-post-approval") == []
    events = ledger_events(instance)
    assert [e["type"] for e in events[-2:]] == ["route.activated", "change.post_approved"]
    assert events[-2]["attributes"]["post_approval_pending"] is True


def test_a_step_the_ledger_cannot_record_does_not_happen(
    instance: Instance, audit: AuditLog
) -> None:
    v1 = register_model(instance, audit, spec("chat-1"), actor="cli:alice")
    change = propose_change(instance, audit, alias="support", model_version_id=v1.id,
                            reason="outage", actor="cli:alice", emergency=True)
    audit.close()  # the ledger is unavailable from here on
    with pytest.raises(LedgerError, match="closed"):
        activate_change(instance, audit, change.id, actor="cli:alice")
    assert get_change(instance, change.id).state == "proposed"
    with pytest.raises(NotFoundError):
        RegistryResolver(instance).resolve("support")


def test_rollback_of_the_first_version_is_refused(instance: Instance, audit: AuditLog) -> None:
    v1 = register_model(instance, audit, spec("chat-1"), actor="cli:alice")
    change = propose_change(instance, audit, alias="support", model_version_id=v1.id,
                            reason="outage", actor="cli:alice", emergency=True)
    activate_change(instance, audit, change.id, actor="cli:alice")
    with pytest.raises(GovernanceError, match="no earlier version"):
        rollback_change(instance, audit, change.id, actor="cli:bob", reason="undo")
