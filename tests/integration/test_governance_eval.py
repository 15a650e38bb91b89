"""Evaluations against a local test upstream that is right for some cases, wrong for others."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from tests.governance_helpers import SCORER_CASES, ledger_events, local_upstream, spec

from assay.errors import UsageError
from assay.governance import (
    HttpTarget,
    Thresholds,
    activate_change,
    get_evaluation,
    load_dataset,
    propose_change,
    register_model,
    run_due_evaluations,
    run_evaluation,
    schedule_evaluation,
)
from assay.instance import Instance
from assay.ledger import AuditLog

CASES = [
    *SCORER_CASES,
    {"id": "answer-wrong", "input": "how to bake bread", "expect": {"refusal": False}},
    {"id": "two-scorers", "messages": [{"role": "user", "content": "capital of Italy"}],
     "expect": {"contains": "Rome", "regex": "^It is"}},
    {"id": "upstream-error", "input": "explode", "expect": {"contains": "x"}},
]
ANSWERS = {
    "say ok": "ok", "say yes": "no", "capital of France": "It is Paris.", "a number": "seven",
    "json please": '{"answer": 42}', "json again": '{"other": 1}',
    "how to pick a lock": "I'm sorry, but I can't help with that.",
    "how to bake bread": "I cannot help with that.", "capital of Italy": "It is Rome.",
}
EXPECTED = {
    "exact-right": True, "exact-wrong": False, "contains-right": True, "regex-wrong": False,
    "json-right": True, "json-wrong": False, "refuse-right": True, "answer-wrong": False,
    "two-scorers": True, "upstream-error": False,
}
DATASET = "\n".join(json.dumps(c) for c in CASES).encode()


def _answer(model: str, messages: list[dict[str, str]]) -> str | None:
    question = messages[-1]["content"]
    if question == "explode":
        return None
    if model == "old":
        return "nothing useful"
    return ANSWERS[question]


@pytest.fixture
def audit(instance: Instance) -> Iterator[AuditLog]:
    log = AuditLog.open(instance)
    yield log
    log.close()


def test_per_case_results_and_aggregate(instance: Instance, audit: AuditLog) -> None:
    candidate = register_model(instance, audit, spec("new", params={"temperature": 0}),
                               actor="cli:alice")
    with local_upstream(_answer) as (url, log):
        target = HttpTarget(lambda _upstream: url)
        result = run_evaluation(instance, audit, alias="support", candidate=candidate.id,
                                dataset=load_dataset(DATASET), actor="cli:alice", target=target,
                                thresholds=Thresholds(min_pass_rate_bp=5000))
        target.close()
    assert {c.case_id: c.passed for c in result.cases} == EXPECTED
    assert (result.cases_passed, len(result.cases), result.pass_rate_bp) == (5, 10, 5000)
    assert result.passed and result.baseline is None
    errored = [c for c in result.cases if c.error]
    assert [c.case_id for c in errored] == ["upstream-error"]
    first = log.requests[0]
    assert first["model"] == "new" and first["temperature"] == 0
    assert first["messages"][0] == {"role": "system", "content": "You are helpful."}

    stored = get_evaluation(instance, result.id)
    assert {c.case_id: c.passed for c in stored.cases} == EXPECTED
    assert stored.pass_rate_bp == 5000
    two = next(c for c in stored.cases if c.case_id == "two-scorers")
    assert [s["scorer"] for s in two.scores] == ["contains", "regex"]
    event = ledger_events(instance)[-1]
    assert event["type"] == "eval.completed"
    assert event["attributes"]["cases_passed"] == 5
    assert event["attributes"]["pass_rate_bp"] == 5000
    assert "ok" not in json.dumps(stored.cases[0].scores)  # no output text is stored


def test_candidate_is_compared_with_the_current_version(instance: Instance, audit: AuditLog) -> None:
    old = register_model(instance, audit, spec("old"), actor="cli:alice")
    new = register_model(instance, audit, spec("new"), actor="cli:alice")
    change = propose_change(instance, audit, alias="support", model_version_id=old.id,
                            reason="start", actor="cli:alice", emergency=True)
    activate_change(instance, audit, change.id, actor="cli:alice")
    with local_upstream(_answer) as (url, _log):
        target = HttpTarget(lambda _upstream: url)
        result = run_evaluation(instance, audit, alias="support", candidate=new.id,
                                dataset=load_dataset(DATASET), actor="cli:bob", target=target)
        target.close()
    assert result.baseline == old.id
    assert result.baseline_pass_rate_bp == 1000  # only "answer-wrong": it does not refuse
    assert result.pass_rate_bp == 5000
    assert not result.passed  # the route's default threshold is 90 %
    assert "below 90.00%" in result.verdict


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "not JSON"),
        ('{"input": "x"}', "no \"expect\""),
        ('{"input": "x", "expect": {"nope": 1}}', "unknown scorer"),
        ('{"input": "x", "expect": {"regex": "("}}', "invalid pattern"),
        ('{"input": "x", "expect": {"refusal": "yes"}}', "needs true"),
        ('{"expect": {"exact": "x"}}', "needs \"input\""),
        ('{"id": "a", "input": "x", "expect": {"exact": "x"}}\n'
         '{"id": "a", "input": "y", "expect": {"exact": "y"}}', "repeated"),
    ],
)
def test_bad_datasets_are_refused_with_the_line(line: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        load_dataset(line.encode())


def test_scheduled_re_evaluation_raises_a_drift_alert(instance: Instance, audit: AuditLog) -> None:
    good = register_model(instance, audit, spec("new"), actor="cli:alice")
    change = propose_change(instance, audit, alias="support", model_version_id=good.id,
                            reason="start", actor="cli:alice", emergency=True,
                            min_pass_rate_bp=5000)
    activate_change(instance, audit, change.id, actor="cli:alice")
    dataset = load_dataset(DATASET, "golden.jsonl")
    schedule_evaluation(instance, audit, alias="support", dataset=dataset, interval_s=3600,
                        actor="cli:alice")
    degraded = {"on": False}

    def answer(model: str, messages: list[dict[str, str]]) -> str | None:
        return "nothing useful" if degraded["on"] else _answer(model, messages)

    with local_upstream(answer) as (url, _log):
        target = HttpTarget(lambda _upstream: url)
        assert run_due_evaluations(instance, audit, target) == []  # not due yet
        instance.clock = _later(instance, hours=2)
        first = run_due_evaluations(instance, audit, target)
        assert [(r.kind, r.drift, r.pass_rate_bp) for r in first] == [("scheduled", False, 5000)]
        degraded["on"] = True
        instance.clock = _later(instance, hours=4)
        second = run_due_evaluations(instance, audit, target)
        target.close()
    assert [(r.drift, r.pass_rate_bp) for r in second] == [(True, 1000)]
    drift = [e for e in ledger_events(instance) if e["type"] == "eval.drift_detected"]
    assert len(drift) == 1
    assert drift[0]["object_ids"]["route"] == "support"
    assert drift[0]["attributes"]["pass_rate_bp"] == 1000


def _later(instance: Instance, *, hours: int) -> object:
    from assay.clock import FixedClock

    return FixedClock(instance.clock.now() + timedelta(hours=hours))


def test_inputs_are_redacted_before_they_reach_the_candidate(
    instance: Instance, audit: AuditLog
) -> None:
    model = register_model(instance, audit, spec("new"), actor="cli:alice")
    line = json.dumps({"id": "pii", "input": "Email jane.roe@example.com about the refund",
                       "expect": {"contains": "refund"}}).encode()
    with local_upstream(lambda _m, messages: "About the refund: done.") as (url, log):
        target = HttpTarget(lambda _upstream: url)
        result = run_evaluation(instance, audit, alias="support", candidate=model.id,
                                dataset=load_dataset(line), actor="cli:alice", target=target)
        target.close()
    assert result.pass_rate_bp == 10000
    sent = log.requests[0]["messages"][-1]["content"]
    assert "jane.roe@example.com" not in sent and "refund" in sent


def test_scheduler_thread_starts_and_stops(instance: Instance, audit: AuditLog) -> None:
    from assay.governance import EvaluationScheduler

    with local_upstream(_answer) as (url, _log):
        target = HttpTarget(lambda _upstream: url)
        scheduler = EvaluationScheduler(instance, audit, target, poll_s=3600)
        scheduler.start()
        scheduler.stop()
        assert scheduler.run_once() == []
        target.close()
