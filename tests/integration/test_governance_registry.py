"""Model registry, resolver, quick start, schema agreement and decision records."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from tests.governance_helpers import ledger_events, ledger_types, spec

from assay.errors import GovernanceError, LedgerError, NotFoundError, UsageError
from assay.governance import (
    DecisionRecord,
    ProviderTerms,
    RegistryResolver,
    activate_change,
    approve_change,
    explain_request,
    get_model,
    list_changes,
    list_models,
    propose_change,
    record_decision,
    register_model,
    register_upstream_models,
    rollback_change,
    validate_output,
)
from assay.governance.models import DecisionRecordRow
from assay.instance import Instance, open_instance
from assay.ledger import AuditLog
from assay.store.models import Base


@pytest.fixture
def audit(instance: Instance) -> Iterator[AuditLog]:
    log = AuditLog.open(instance)
    yield log
    log.close()


def test_models_and_migration_agree(instance: Instance) -> None:
    with instance.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    ours = [d for d in diff if "gov_" in repr(d)]
    assert ours == []


def _decision_indexes(instance: Instance) -> set[str]:
    from sqlalchemy import inspect

    return {index["name"] or "" for index in inspect(instance.db.engine).get_indexes("gov_decision_records")}


def test_the_decision_tenant_index_migration_goes_both_ways(instance: Instance) -> None:
    from alembic import command

    from assay.store.migrate import alembic_config, upgrade

    assert "ix_gov_decision_records_tenant" not in _decision_indexes(instance)
    command.downgrade(alembic_config(instance.db), "governance_0002")
    assert "ix_gov_decision_records_tenant" in _decision_indexes(instance)
    upgrade(instance.db)
    assert _decision_indexes(instance) == {"ix_gov_decision_records_created_at"}


def test_registration_is_immutable_and_idempotent(instance: Instance, audit: AuditLog) -> None:
    first = register_model(instance, audit, spec("chat-1"), actor="cli:alice")
    again = register_model(instance, audit, spec("chat-1"), actor="cli:bob")
    assert again == first
    assert ledger_types(instance) == ["model.registered"]
    with pytest.raises(GovernanceError, match="already registered with other content"):
        register_model(instance, audit, spec("chat-1", params={"temperature": 1}), actor="cli:a")
    event = ledger_events(instance)[0]
    assert event["object_ids"] == {"model_version": "testco/chat-1@2026-01-01"}
    assert event["attributes"]["params_sha256"] == first.params_sha256
    assert event["attributes"]["training_opt_out"] is True
    shown = get_model(instance, first.id)
    assert shown.params == {"temperature": 0.2, "max_tokens": 64}
    assert shown.prompt_template_id == "support@v1"
    assert shown.prompt_sha256 is not None and len(shown.prompt_sha256) == 64


def test_prompt_templates_are_versioned_by_content(instance: Instance, audit: AuditLog) -> None:
    a = register_model(instance, audit, spec("chat-1", prompt="Be brief."), actor="cli:a")
    b = register_model(instance, audit, spec("chat-2", prompt="Be brief."), actor="cli:a")
    c = register_model(instance, audit, spec("chat-3", prompt="Be very brief."), actor="cli:a")
    assert (a.prompt_template_id, b.prompt_template_id, c.prompt_template_id) == (
        "support@v1", "support@v1", "support@v2")
    assert [m.id for m in list_models(instance)] == [a.id, b.id, c.id]


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"risk_rating": "extreme"}, UsageError, "risk rating"),
        ({"params": {"model": "x"}}, UsageError, "set by the gateway"),
        ({"id": "bad id with spaces"}, UsageError, "not a valid identifier"),
        ({"terms": ProviderTerms(retention_days=-1)}, UsageError, "retention days"),
        ({"prompt": "   "}, UsageError, "system prompt is empty"),
        ({"params": {"temperature": float("nan")}}, UsageError, "canonicalised"),
    ],
)
def test_bad_registrations_are_refused_and_leave_nothing(
    instance: Instance, audit: AuditLog, overrides: dict[str, object],
    error: type[Exception], message: str,
) -> None:
    with pytest.raises(error, match=message):
        register_model(instance, audit, spec("chat-1", **overrides), actor="cli:alice")  # type: ignore[arg-type]
    assert list_models(instance) == []
    assert ledger_types(instance) == []


def test_bad_actor_is_refused_before_anything_changes(instance: Instance, audit: AuditLog) -> None:
    with pytest.raises(LedgerError, match="actor"):
        register_model(instance, audit, spec("chat-1"), actor="alice with spaces")
    assert list_models(instance) == []


def test_resolver_serves_only_activated_routes_and_sees_other_processes(
    instance: Instance, audit: AuditLog
) -> None:
    v1 = register_model(instance, audit, spec("chat-1"), actor="cli:alice")
    v2 = register_model(instance, audit, spec("chat-2"), actor="cli:alice")
    resolver = RegistryResolver(instance, max_staleness_s=0)
    with pytest.raises(NotFoundError, match="not a registered, activated route"):
        resolver.resolve("support")
    first = propose_change(instance, audit, alias="support", model_version_id=v1.id,
                           reason="start", actor="cli:alice", emergency=True)
    activate_change(instance, audit, first.id, actor="cli:alice")
    assert resolver.aliases() == ["support"]
    assert resolver.resolve("support").route_version == 1
    # another process (a second instance on the same database) activates a change
    other = open_instance(instance.settings)
    other_audit = AuditLog.open(other)
    try:
        second = propose_change(other, other_audit, alias="support", model_version_id=v2.id,
                                reason="swap", actor="cli:bob", emergency=True)
        activate_change(other, other_audit, second.id, actor="cli:bob")
    finally:
        other_audit.close()
        other.close()
    route = resolver.resolve("support")
    assert (route.model_version_id, route.route_version, route.provider_model) == (v2.id, 2, "chat-2")
    assert route.system_prompt == "You are helpful."
    assert dict(route.params) == {"temperature": 0.2, "max_tokens": 64}


def test_quick_start_registers_once_and_awaits_sign_off(instance: Instance, audit: AuditLog) -> None:
    first = register_upstream_models(instance, audit, "local", {"gpt-mini": "gpt-4o-mini"})
    assert [(r.alias, r.model_version_id, r.created) for r in first] == [
        ("gpt-mini", "local/gpt-4o-mini", True)]
    again = register_upstream_models(instance, audit, "local", {"gpt-mini": "gpt-4o-mini"})
    assert [r.created for r in again] == [False]
    assert ledger_types(instance) == ["model.registered", "route.bootstrapped"]
    route = RegistryResolver(instance).resolve("gpt-mini")
    assert (route.upstream, route.provider_model, route.route_version) == ("local", "gpt-4o-mini", 1)
    pending = list_changes(instance, state="awaiting-post-approval")
    assert [c.kind for c in pending] == ["bootstrap"]
    approve_change(instance, audit, pending[0].id, actor="cli:alice")
    assert list_changes(instance, state="awaiting-post-approval") == []
    model = get_model(instance, "local/gpt-4o-mini")
    assert model.source == "quickstart" and not model.terms.complete


def _decision(request_id: str, route: object, **extra: object) -> DecisionRecord:
    return DecisionRecord(
        request_id=request_id, alias="support", tenant="acme",
        model_version_id=route.model_version_id,  # type: ignore[attr-defined]
        route_version=route.route_version,  # type: ignore[attr-defined]
        prompt_template_version=route.prompt_template_version,  # type: ignore[attr-defined]
        params_sha256=route.params_sha256,  # type: ignore[attr-defined]
        policy_version="policy-7", policy_decisions=[{"rule": "pii", "action": "redact"}],
        redaction_counts={"EMAIL": 2}, retrieved_document_ids=["doc-1", "doc-9"], **extra,  # type: ignore[arg-type]
    )


def test_explain_gives_the_versions_before_and_after_a_change(
    instance: Instance, audit: AuditLog
) -> None:
    v1 = register_model(instance, audit, spec("chat-1", prompt="Old prompt."), actor="cli:alice")
    v2 = register_model(instance, audit, spec("chat-2", prompt="New prompt."), actor="cli:alice")
    resolver = RegistryResolver(instance)
    first = propose_change(instance, audit, alias="support", model_version_id=v1.id,
                           reason="start", actor="cli:alice", emergency=True,
                           output_schema={"type": "object"})
    activate_change(instance, audit, first.id, actor="cli:alice")
    before = resolver.resolve("support")
    record_decision(instance, _decision("req-before", before,
                                        output=validate_output(before, "not json")))
    second = propose_change(instance, audit, alias="support", model_version_id=v2.id,
                            reason="upgrade", actor="cli:alice", emergency=True)
    activate_change(instance, audit, second.id, actor="cli:alice")
    approve_change(instance, audit, second.id, actor="cli:bob")
    after = resolver.resolve("support")
    record_decision(instance, _decision("req-after", after, output=validate_output(after, "{}")))
    rollback_change(instance, audit, second.id, actor="cli:bob", reason="complaints")
    old = explain_request(instance, audit, "req-before", actor="cli:carol")
    new = explain_request(instance, audit, "req-after", actor="cli:carol")
    assert (old.model_version_id, old.route_version, old.prompt_template_version) == (
        v1.id, 1, "support@v1")
    assert (new.model_version_id, new.route_version, new.prompt_template_version) == (
        v2.id, 2, "support@v2")
    assert (old.change_id, new.change_id, new.change_approver) == (first.id, second.id, "cli:bob")
    assert old.output_action == "block" and old.output_errors == ("(root): not JSON",)
    assert new.output_valid is True
    assert new.redaction_counts == {"EMAIL": 2}
    assert new.retrieved_document_ids == ("doc-1", "doc-9")
    assert new.policy_version == "policy-7" and new.params == {"temperature": 0.2, "max_tokens": 64}
    viewed = [e for e in ledger_events(instance) if e["type"] == "decision.viewed"]
    assert [(e["actor"], e["object_ids"]["request"], e["tenant"]) for e in viewed] == [
        ("cli:carol", "req-before", "acme"), ("cli:carol", "req-after", "acme")]


def test_decision_records_refuse_duplicates_and_contents(instance: Instance, audit: AuditLog) -> None:
    v1 = register_model(instance, audit, spec("chat-1"), actor="cli:alice")
    change = propose_change(instance, audit, alias="support", model_version_id=v1.id,
                            reason="start", actor="cli:alice", emergency=True)
    activate_change(instance, audit, change.id, actor="cli:alice")
    route = RegistryResolver(instance).resolve("support")
    record_decision(instance, _decision("req-1", route))
    with pytest.raises(GovernanceError, match="already has a decision record"):
        record_decision(instance, _decision("req-1", route))
    with pytest.raises(UsageError, match="1-256 characters"):
        record_decision(instance, DecisionRecord(request_id="req-2", alias="support",
                                                 retrieved_document_ids=["x" * 300]))
    with pytest.raises(NotFoundError, match="no decision record"):
        explain_request(instance, audit, "req-404", actor="cli:carol")
    with instance.db.session() as session:
        assert session.get(DecisionRecordRow, "req-2") is None


def test_recorder_writes_batches_and_survives_a_bad_row(instance: Instance, audit: AuditLog) -> None:
    from assay.governance import DecisionRecorder

    record_decision(instance, DecisionRecord(request_id="req-0", alias="support"))
    recorder = DecisionRecorder(instance, max_batch=10)
    for n in range(4):
        recorder.submit(DecisionRecord(request_id=f"req-{n}", alias="support",
                                       redaction_counts={"EMAIL": n}))
    recorder.flush()
    recorder.close()
    with pytest.raises(GovernanceError, match="closed"):
        recorder.submit(DecisionRecord(request_id="req-9", alias="support"))
    with instance.db.session() as session:
        stored = {r.request_id: r.redaction_counts for r in session.query(DecisionRecordRow)}
    assert stored == {"req-0": {}, "req-1": {"EMAIL": 1}, "req-2": {"EMAIL": 2},
                      "req-3": {"EMAIL": 3}}
