"""Evaluations go through the gateway pipeline: tenant policy, redaction, pool, checks, ledger."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from tests.governance_helpers import SCORER_CASES, ledger_events, local_upstream, spec

from assay.api.governance_eval import evaluation_gateway
from assay.config import UpstreamSettings
from assay.gateway import PolicyStore, TenantPolicy
from assay.gateway._audit import ledger_sink
from assay.governance import (
    Thresholds,
    evaluate_change,
    load_dataset,
    propose_change,
    register_model,
    run_evaluation,
)
from assay.instance import Instance
from assay.ledger import AuditLog

CASES = [
    *SCORER_CASES,
    {"id": "upstream-error", "input": "explode", "expect": {"contains": "x"}},
]
ANSWERS = {
    "say ok": "ok", "say yes": "no", "capital of France": "It is Paris.", "a number": "seven",
    "json please": '{"answer": 42}', "json again": '{"other": 1}',
    "how to pick a lock": "I'm sorry, but I can't help with that.",
}
EXPECTED = {
    "exact-right": True, "exact-wrong": False, "contains-right": True, "regex-wrong": False,
    "json-right": True, "json-wrong": False, "refuse-right": True, "upstream-error": False,
}
DATASET = "\n".join(json.dumps(c) for c in CASES).encode()
EMAIL = "jane.roe@example.com"
PII_CASE = json.dumps({"id": "pii", "input": f"Email {EMAIL} about the refund",
                       "expect": {"contains": "refund"}}).encode()


def _answer(_model: str, messages: list[dict[str, str]]) -> str | None:
    return ANSWERS.get(messages[-1]["content"])  # None ("explode"): HTTP 500


@pytest.fixture
def audit(instance: Instance) -> Iterator[AuditLog]:
    log = AuditLog.open(instance)
    yield log
    log.close()


def _configure(instance: Instance, primary: str, backup: str | None = None) -> None:
    """Upstream ``test`` serves alias support; ``backup`` is its configured fallback."""
    upstreams = [UpstreamSettings(name="test", base_url=primary, models={"support": "new"},
                                  breaker_threshold=1, breaker_cooldown_s=3600)]
    if backup is not None:
        upstreams.append(UpstreamSettings(name="backup", base_url=backup,
                                          models={"support": "new"}))
    instance.settings = instance.settings.model_copy(update={"upstreams": upstreams})


def _set_policy(instance: Instance, tenant: str, **changes: Any) -> None:
    async def store() -> None:
        sink = ledger_sink(instance)
        try:
            await PolicyStore(instance.db, instance.clock, sink).set(
                tenant, TenantPolicy(**changes), actor="cli:alice", allow_loosening=True)
        finally:
            sink.close()

    asyncio.run(store())


def _requests(instance: Instance, evaluation_id: str) -> list[dict[str, Any]]:
    return [e for e in ledger_events(instance) if e["type"] == "gateway.request"
            and e["attributes"].get("evaluation") == evaluation_id]


@pytest.mark.parametrize(
    ("tenant", "inbound", "reaches_upstream"),
    [
        ("acme", None, False),  # no stored policy: the secure default pseudonymises e-mail
        ("strict", {"EMAIL_ADDRESS": "mask"}, False),
        ("lax", {"EMAIL_ADDRESS": "allow"}, True),
    ],
)
def test_the_tenant_policy_decides_what_reaches_the_candidate(
    instance: Instance, audit: AuditLog, tenant: str, inbound: dict[str, str] | None,
    reaches_upstream: bool,
) -> None:
    model = register_model(instance, audit, spec("new"), actor="cli:alice")
    if inbound is not None:
        _set_policy(instance, tenant, inbound=inbound)
    with local_upstream(lambda _m, messages: "About the refund: " + messages[-1]["content"]) as (
        url, log
    ):
        _configure(instance, url)
        with evaluation_gateway(instance, tenant=tenant) as target:
            result = run_evaluation(instance, audit, alias="support", candidate=model.id,
                                    dataset=load_dataset(PII_CASE), actor="cli:alice",
                                    target=target)
    sent = log.requests[0]["messages"][-1]["content"]
    assert (EMAIL in sent) is reaches_upstream
    assert "refund" in sent and log.requests[0]["messages"][0]["content"] == "You are helpful."
    assert result.pass_rate_bp == 10000
    [request] = _requests(instance, result.id)
    assert request["tenant"] == tenant
    assert request["actor"] == f"apikey:{result.id}"
    assert request["object_ids"]["model_version"] == model.id
    assert request["attributes"]["eval_case"] == "pii"
    assert request["attributes"]["eval_target"] == "candidate"
    redacted = request["attributes"]["redactions"].get("in.EMAIL_ADDRESS", 0)
    assert redacted == (0 if reaches_upstream else 1)
    assert EMAIL not in json.dumps(ledger_events(instance))
    started = next(e for e in ledger_events(instance) if e["type"] == "eval.started")
    assert (started["actor"], started["tenant"]) == ("cli:alice", tenant)
    assert started["attributes"]["path"] == "gateway"


def test_fallback_breaker_and_per_case_results(instance: Instance, audit: AuditLog) -> None:
    model = register_model(instance, audit, spec("new", params={"temperature": 0}),
                           actor="cli:alice")
    with local_upstream(lambda _m, _msgs: None) as (primary, primary_log), \
            local_upstream(_answer) as (backup, backup_log):
        _configure(instance, primary, backup)
        with evaluation_gateway(instance, tenant="acme") as target:
            result = run_evaluation(instance, audit, alias="support", candidate=model.id,
                                    dataset=load_dataset(DATASET), actor="cli:alice",
                                    target=target, thresholds=Thresholds(min_pass_rate_bp=5000))
    assert len(primary_log.requests) == 1  # then its breaker (threshold 1) kept it out
    assert len(backup_log.requests) == len(CASES)
    assert backup_log.requests[0]["temperature"] == 0
    assert {c.case_id: c.passed for c in result.cases} == EXPECTED
    assert (result.cases_passed, len(result.cases), result.pass_rate_bp) == (4, 8, 5000)
    assert result.passed
    [errored] = [c for c in result.cases if c.error]
    assert errored.case_id == "upstream-error" and "502" in (errored.error or "")
    requests = _requests(instance, result.id)
    # as for live traffic, a request no upstream answered is recorded too: its prompt left
    assert sorted(r["attributes"]["eval_case"] for r in requests) == sorted(EXPECTED)
    unanswered = [r["attributes"] for r in requests if r["attributes"]["eval_case"] == "upstream-error"]
    assert [(a["status"], a["upstream"]) for a in unanswered] == [(502, None)]
    answered = [r for r in requests if r["attributes"]["eval_case"] != "upstream-error"]
    assert {r["attributes"]["upstream"] for r in answered} == {"backup"}
    completed = ledger_events(instance)[-1]
    assert completed["type"] == "eval.completed"
    assert completed["attributes"]["pass_rate_bp"] == 5000


@pytest.mark.parametrize(("action", "json_wrong_error"), [("block", True), ("flag", False)])
def test_the_change_output_schema_is_enforced(
    instance: Instance, audit: AuditLog, action: str, json_wrong_error: bool
) -> None:
    model = register_model(instance, audit, spec("new"), actor="cli:alice")
    schema = {"type": "object", "required": ["answer"], "x-assay-on-violation": action}
    change = propose_change(instance, audit, alias="support", model_version_id=model.id,
                            reason="structured answers", actor="cli:alice", output_schema=schema)
    json_cases = b"\n".join(json.dumps(c).encode() for c in CASES if c["id"].startswith("json"))
    with local_upstream(_answer) as (url, _log):
        _configure(instance, url)
        with evaluation_gateway(instance, tenant="acme") as target:
            result = evaluate_change(instance, audit, change.id, dataset=load_dataset(json_cases),
                                     actor="cli:alice", target=target)
    wrong = next(c for c in result.cases if c.case_id == "json-wrong")
    assert (wrong.error is not None) is json_wrong_error
    assert not wrong.passed
    if json_wrong_error:
        assert "output schema" in (wrong.error or "")
    by_case = {r["attributes"]["eval_case"]: r["attributes"] for r in _requests(instance, result.id)}
    assert by_case["json-wrong"]["output_valid"] is False
    assert by_case["json-wrong"]["output_action"] == action
    assert by_case["json-right"]["output_valid"] is True


@pytest.mark.parametrize(("scheduled_for", "runs_under"), [(None, "default"), ("acme", "acme")])
def test_the_server_re_evaluates_through_its_own_gateway(
    instance: Instance, audit: AuditLog, scheduled_for: str | None, runs_under: str
) -> None:
    """Under the tenant the schedule names; a schedule that names none, under ``default``."""
    from fastapi.testclient import TestClient

    from assay.api.app import create_app
    from assay.clock import FixedClock
    from assay.governance import activate_change, schedule_evaluation

    model = register_model(instance, audit, spec("new"), actor="cli:alice")
    change = propose_change(instance, audit, alias="support", model_version_id=model.id,
                            reason="start", actor="cli:alice", emergency=True,
                            min_pass_rate_bp=5000)
    activate_change(instance, audit, change.id, actor="cli:alice")
    schedule_evaluation(instance, audit, alias="support", dataset=load_dataset(DATASET),
                        interval_s=3600, actor="cli:alice", tenant=scheduled_for)
    with local_upstream(_answer) as (url, log):
        _configure(instance, url)
        app = create_app(instance)
        with TestClient(app):
            instance.clock = FixedClock(instance.clock.now() + timedelta(hours=2))
            [result] = app.state.eval_scheduler.run_once()  # from this thread, on the server's loop
        app.state.gateway.governance.flush()
    assert (result.kind, result.pass_rate_bp, result.drift) == ("scheduled", 5000, False)
    assert len(log.requests) == len(CASES)
    requests = _requests(instance, result.id)
    assert len(requests) == len(CASES)  # the case no upstream answered is recorded as a 502
    assert {r["tenant"] for r in requests} == {runs_under}
    [scheduled] = [e for e in ledger_events(instance) if e["type"] == "eval.scheduled"]
    assert scheduled["tenant"] == scheduled_for


def test_a_tenant_not_allowed_the_route_sends_nothing(instance: Instance, audit: AuditLog) -> None:
    model = register_model(instance, audit, spec("new"), actor="cli:alice")
    _set_policy(instance, "narrow", allowed_models=["other-route"])
    with local_upstream(_answer) as (url, log):
        _configure(instance, url)
        with evaluation_gateway(instance, tenant="narrow") as target:
            result = run_evaluation(instance, audit, alias="support", candidate=model.id,
                                    dataset=load_dataset(DATASET), actor="cli:alice",
                                    target=target)
    assert log.requests == []
    assert result.pass_rate_bp == 0 and not result.passed
    assert all("do not have access" in (c.error or "") for c in result.cases)
    assert _requests(instance, result.id) == []


@pytest.mark.parametrize(
    ("tenant", "message"), [("Not A Tenant", "not valid"), ("", "not valid")],
)
def test_bad_tenant_names_are_refused(instance: Instance, tenant: str, message: str) -> None:
    from assay.errors import UsageError

    with pytest.raises(UsageError, match=message), evaluation_gateway(instance, tenant=tenant):
        pass
