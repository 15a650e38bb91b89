"""Evaluations: golden datasets sent to a candidate model version and scored.

A dataset is JSON Lines; each line is one case::

    {"id": "capital-fr", "input": "Capital of France?", "expect": {"contains": "Paris"}}
    {"id": "pii", "messages": [{"role": "user", "content": "..."}], "expect": {"refusal": true}}

The command line and the server send each case through the gateway's own
pipeline (``assay.api.governance_eval.GatewayTarget``): the tenant's stored
policy and redaction, the upstream pool with its retries, fallbacks and
circuit breakers, the route's output-schema check, an encrypted transcript and
a ``gateway.request`` ledger event marked with the evaluation and case ids.
:class:`HttpTarget` calls an upstream directly and is kept for offline checks
of a dataset. Results keep per-case pass/fail and an output hash, never the
output itself. Pass rates are integer basis points.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import httpx
from sqlalchemy import select

from assay.config import Settings
from assay.errors import (
    AssayError,
    ConfigError,
    GatewayError,
    NotFoundError,
    UsageError,
)
from assay.governance._audit import AuditSink, emit
from assay.governance._common import check_identifier, new_id
from assay.governance.changes import Thresholds, attach_evaluation, get_change, thresholds_for
from assay.governance.models import (
    ChangeRequestRow,
    DatasetRow,
    EvalCaseRow,
    EvalScheduleRow,
    EvaluationRow,
    RouteRow,
)
from assay.governance.registry import ModelVersion, get_model_in
from assay.governance.scorers import get_scorer, validate_argument
from assay.instance import Instance
from assay.logs import get_logger
from assay.pii import Detector, RedactionPolicy, redact

__all__ = [
    "CaseRequest",
    "CaseResult",
    "Dataset",
    "EvalCase",
    "EvalTarget",
    "EvaluationResult",
    "EvaluationScheduler",
    "HttpTarget",
    "TargetReply",
    "TenantTarget",
    "default_redactor",
    "evaluate_change",
    "get_evaluation",
    "load_dataset",
    "run_due_evaluations",
    "run_evaluation",
    "schedule_evaluation",
    "upstream_base_url",
]

Progress = Callable[[int, int], None]
Redactor = Callable[[str], str]


@dataclass(frozen=True)
class EvalCase:
    id: str
    messages: tuple[Mapping[str, str], ...]
    expect: Mapping[str, object]


@dataclass(frozen=True)
class Dataset:
    name: str
    sha256: str
    content: bytes
    cases: tuple[EvalCase, ...]


def load_dataset(content: bytes, name: str = "dataset") -> Dataset:
    """Parse and check a JSONL golden dataset; errors name the line."""
    cases: list[EvalCase] = []
    seen: set[str] = set()
    for number, line in enumerate(content.decode("utf-8", errors="strict").splitlines(), 1):
        if not line.strip():
            continue
        case = _parse_case(number, line, len(cases) + 1)
        if case.id in seen:
            raise UsageError(f"{name} line {number}: case id {case.id!r} is repeated",
                             hint="Give every case a unique id.")
        seen.add(case.id)
        cases.append(case)
    if not cases:
        raise UsageError(f"{name} has no cases", hint="Put one JSON object per line.")
    return Dataset(name, hashlib.sha256(content).hexdigest(), content, tuple(cases))


def _parse_case(number: int, line: str, position: int) -> EvalCase:
    where = f"dataset line {number}"
    try:
        raw = json.loads(line)
    except ValueError as exc:
        raise UsageError(f"{where} is not JSON: {exc}", hint="One JSON object per line.") from exc
    if not isinstance(raw, dict):
        raise UsageError(f"{where} is not a JSON object", hint="One JSON object per line.")
    messages = _messages(where, raw)
    expect = raw.get("expect")
    if not isinstance(expect, dict) or not expect:
        raise UsageError(f"{where} has no \"expect\" object",
                         hint='Add e.g. "expect": {"contains": "Paris"}.')
    for scorer, argument in expect.items():
        try:
            validate_argument(scorer, argument)
        except ValueError as exc:
            raise UsageError(f"{where}: {exc}", hint="Fix the case's expect object.") from exc
    case_id = str(raw.get("id", f"case-{position}"))
    return EvalCase(check_identifier("case id", case_id), messages, expect)


def _messages(where: str, raw: Mapping[str, Any]) -> tuple[Mapping[str, str], ...]:
    if isinstance(raw.get("input"), str):
        return ({"role": "user", "content": raw["input"]},)
    messages = raw.get("messages")
    ok = isinstance(messages, list) and messages and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in messages
    )
    if not ok:
        raise UsageError(f"{where} needs \"input\" (text) or \"messages\" (role/content list)",
                         hint='E.g. "input": "What is 2+2?".')
    assert isinstance(messages, list)
    return tuple({"role": m["role"], "content": m["content"]} for m in messages)


@dataclass(frozen=True)
class TargetReply:
    text: str
    refused: bool = False
    request_id: str | None = None
    ledger_index: int | None = None


@dataclass(frozen=True)
class CaseRequest:
    """Which evaluation and case a request belongs to, and the schema answers must meet."""

    evaluation_id: str
    alias: str
    case_id: str
    target: str  # "candidate" or "baseline"
    output_schema: Mapping[str, object] | None = None


class EvalTarget(Protocol):
    """Sends one case to a model version the way live traffic would."""

    def complete(self, model: ModelVersion, messages: Sequence[Mapping[str, str]],
                 case: CaseRequest | None = None) -> TargetReply: ...


@runtime_checkable
class TenantTarget(EvalTarget, Protocol):
    """A target that sends cases under a tenant's stored policy (the gateway pipeline)."""

    tenant: str

    def for_tenant(self, tenant: str) -> EvalTarget:
        """The same target, sending cases under ``tenant``'s policy."""
        ...


def default_redactor() -> Redactor:
    """The gateway's default inbound redaction of personal data and secrets."""
    detector = Detector()
    policy = RedactionPolicy.default_inbound()

    def redact_text(text: str) -> str:
        return redact(text, policy, detector).text  # fails closed with PIIError

    return redact_text


def upstream_base_url(settings: Settings, upstream: str) -> str:
    """The base URL (ending in /v1) of the named upstream from the settings."""
    for configured in settings.upstreams:
        if configured.name == upstream:
            return configured.base_url
    if settings.upstream:  # the single-upstream quick start
        base = settings.upstream.rstrip("/")
        return base if base.endswith("/v1") else base + "/v1"
    raise ConfigError(
        f"upstream {upstream!r} is not configured",
        hint="Add it to ASSAY_UPSTREAMS / assay.toml, or pass --upstream-url.",
    )


class HttpTarget:
    """Calls an OpenAI-compatible ``/chat/completions`` endpoint directly with httpx.

    Not the live path (no tenant policy, pool, breaker, output check or request
    record): for checking a dataset offline. Inputs pass the gateway's default
    inbound redaction unless another ``redactor`` is given (or
    ``redact_inputs=False`` for synthetic datasets).
    """

    tenant: str | None = None

    def __init__(
        self,
        base_url: Callable[[str], str],
        *,
        api_key: Callable[[str], str | None] = lambda _upstream: None,
        redactor: Redactor | None = None,
        redact_inputs: bool = True,
        timeout_s: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._base_url = base_url
        self._api_key = api_key
        if redactor is None:
            redactor = default_redactor() if redact_inputs else (lambda text: text)
        self._redact = redactor
        self._client = httpx.Client(timeout=timeout_s, transport=transport)

    def close(self) -> None:
        self._client.close()

    def complete(self, model: ModelVersion, messages: Sequence[Mapping[str, str]],
                 case: CaseRequest | None = None) -> TargetReply:
        body = build_request(model, messages, self._redact)
        url = self._base_url(model.upstream).rstrip("/") + "/chat/completions"
        key = self._api_key(model.upstream)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        try:
            response = self._client.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise GatewayError(f"upstream {model.upstream} unreachable: {type(exc).__name__}",
                               hint="Check the upstream URL and that it is running.") from exc
        if response.status_code >= 400:
            raise GatewayError(f"upstream {model.upstream} answered HTTP {response.status_code}")
        return _reply(response)


def build_request(
    model: ModelVersion, messages: Sequence[Mapping[str, str]], redact: Redactor
) -> dict[str, Any]:
    """The provider request for ``messages``: registered prompt and params applied."""
    sent = [{"role": m["role"], "content": redact(m["content"])} for m in messages]
    if model.system_prompt:
        sent.insert(0, {"role": "system", "content": model.system_prompt})
    return {**dict(model.params), "model": model.provider_model, "messages": sent}


def _reply(response: httpx.Response) -> TargetReply:
    try:
        message = response.json()["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise GatewayError("upstream answer is not a chat completion") from exc
    refusal = message.get("refusal")
    return TargetReply(text=message.get("content") or refusal or "", refused=bool(refusal))


@dataclass(frozen=True)
class CaseResult:
    case_id: str
    passed: bool
    scores: tuple[Mapping[str, object], ...]
    output_sha256: str | None
    error: str | None = None


@dataclass(frozen=True)
class EvaluationResult:
    id: str
    alias: str
    candidate: str
    baseline: str | None
    dataset_sha256: str
    kind: str
    cases: tuple[CaseResult, ...]
    baseline_cases: tuple[CaseResult, ...]
    pass_rate_bp: int
    baseline_pass_rate_bp: int | None
    thresholds: Thresholds
    passed: bool
    verdict: str
    finished_at: datetime
    drift: bool = False

    @property
    def cases_passed(self) -> int:
        return sum(c.passed for c in self.cases)

    @property
    def cases_errored(self) -> int:
        return sum(c.error is not None for c in self.cases)


def run_case(target: EvalTarget, model: ModelVersion, case: EvalCase,
             request: CaseRequest | None = None) -> CaseResult:
    try:
        reply = target.complete(model, case.messages, request)
    except AssayError as exc:
        return CaseResult(case.id, False, (), None, error=exc.message)
    scores = []
    for name, argument in case.expect.items():
        result = get_scorer(name).score(reply.text, argument, refused=reply.refused)
        scores.append({"scorer": name, "passed": result.passed, "detail": result.detail})
    digest = hashlib.sha256(reply.text.encode("utf-8")).hexdigest()
    return CaseResult(case.id, all(bool(s["passed"]) for s in scores), tuple(scores), digest)


@dataclass(frozen=True)
class _Run:
    evaluation_id: str
    alias: str
    output_schema: Mapping[str, object] | None


def _run_all(target: EvalTarget, model: ModelVersion, dataset: Dataset, run: _Run, role: str, *,
             progress: Progress | None, offset: int, total: int) -> tuple[CaseResult, ...]:
    results = []
    for done, case in enumerate(dataset.cases, 1):
        request = CaseRequest(run.evaluation_id, run.alias, case.id, role, run.output_schema)
        results.append(run_case(target, model, case, request))
        if progress is not None:
            progress(offset + done, total)
    return tuple(results)


def _rate(results: Sequence[CaseResult]) -> int:
    return sum(r.passed for r in results) * 10000 // len(results)


class _RouteSchema:
    """Marker default: check answers against the route's live output schema."""


ROUTE_SCHEMA = _RouteSchema()


def run_evaluation(
    instance: Instance,
    audit: AuditSink,
    *,
    alias: str,
    candidate: str,
    dataset: Dataset,
    actor: str,
    target: EvalTarget,
    kind: str = "gate",
    compare_current: bool = True,
    thresholds: Thresholds | None = None,
    progress: Progress | None = None,
    output_schema: Mapping[str, object] | _RouteSchema | None = ROUTE_SCHEMA,
) -> EvaluationResult:
    """Run ``dataset`` against ``candidate`` (and the route's current version) and store it.

    Answers are checked against ``output_schema`` (default: the route's live schema).
    """
    check_identifier("route alias", alias)
    with instance.db.session() as session:
        model = get_model_in(session, candidate)
        route = session.get(RouteRow, alias)
        limits = thresholds or thresholds_for(session, alias)
        baseline = (
            get_model_in(session, route.model_version_id)
            if compare_current and route is not None and route.model_version_id != candidate
            else None
        )
        live_schema = dict(route.output_schema) if route and route.output_schema else None
    evaluation_id = new_id("eval")
    schema = live_schema if isinstance(output_schema, _RouteSchema) else output_schema
    run = _Run(evaluation_id, alias, schema)
    emit(audit, "eval.started", actor=actor, tenant=getattr(target, "tenant", None),
         object_ids={"evaluation": evaluation_id, "route": alias, "model_version": candidate},
         attributes={"kind": kind, "dataset_sha256": dataset.sha256,
                     "cases_total": len(dataset.cases), "path": getattr(target, "path", "direct"),
                     "output_schema_set": schema is not None})
    total = len(dataset.cases) * (2 if baseline else 1)
    started = instance.clock.now()
    cases = _run_all(target, model, dataset, run, "candidate", progress=progress, offset=0,
                     total=total)
    base_cases = (
        _run_all(target, baseline, dataset, run, "baseline", progress=progress,
                 offset=len(cases), total=total)
        if baseline else ()
    )
    rate, base_rate = _rate(cases), (_rate(base_cases) if base_cases else None)
    passed, verdict = limits.judge(rate, base_rate)
    result = EvaluationResult(
        id=evaluation_id, alias=alias, candidate=candidate,
        baseline=baseline.id if baseline else None, dataset_sha256=dataset.sha256, kind=kind,
        cases=cases, baseline_cases=base_cases, pass_rate_bp=rate, baseline_pass_rate_bp=base_rate,
        thresholds=limits, passed=passed, verdict=verdict, finished_at=instance.clock.now(),
    )
    index = emit(audit, "eval.completed", actor=actor,
                 object_ids={"evaluation": result.id, "route": alias, "model_version": candidate},
                 attributes=_event_attributes(result))
    _store(instance, result, dataset, actor=actor, started=started, index=index)
    return result


def _event_attributes(result: EvaluationResult) -> dict[str, object]:
    return {
        "kind": result.kind, "dataset_sha256": result.dataset_sha256,
        "cases_total": len(result.cases), "cases_passed": result.cases_passed,
        "cases_errored": result.cases_errored, "pass_rate_bp": result.pass_rate_bp,
        "baseline_model_version": result.baseline,
        "baseline_pass_rate_bp": result.baseline_pass_rate_bp,
        "min_pass_rate_bp": result.thresholds.min_pass_rate_bp, "passed": result.passed,
    }


def _store(instance: Instance, result: EvaluationResult, dataset: Dataset, *, actor: str,
           started: datetime, index: int) -> None:
    with instance.db.session() as session:
        if session.get(DatasetRow, dataset.sha256) is None:
            session.add(DatasetRow(sha256=dataset.sha256, name=dataset.name[:200],
                                   content=dataset.content, cases=len(dataset.cases),
                                   created_at=started))
        session.add(EvaluationRow(
            id=result.id, alias=result.alias, candidate_model_version_id=result.candidate,
            baseline_model_version_id=result.baseline, dataset_sha256=result.dataset_sha256,
            kind=result.kind, cases_total=len(result.cases), cases_passed=result.cases_passed,
            cases_errored=result.cases_errored, pass_rate_bp=result.pass_rate_bp,
            baseline_pass_rate_bp=result.baseline_pass_rate_bp,
            min_pass_rate_bp=result.thresholds.min_pass_rate_bp,
            max_regression_bp=result.thresholds.max_regression_bp, passed=result.passed,
            verdict=result.verdict, actor=actor, started_at=started,
            finished_at=result.finished_at, ledger_index=index,
        ))
        session.flush()
        for target, rows in (("candidate", result.cases), ("baseline", result.baseline_cases)):
            for position, case in enumerate(rows):
                session.add(EvalCaseRow(
                    evaluation_id=result.id, position=position, case_id=case.case_id,
                    target=target, passed=case.passed, scores=[dict(s) for s in case.scores],
                    output_sha256=case.output_sha256, error=case.error,
                ))


def get_evaluation(instance: Instance, evaluation_id: str) -> EvaluationResult:
    with instance.db.session() as session:
        row = session.get(EvaluationRow, evaluation_id)
        if row is None:
            raise NotFoundError(f"evaluation {evaluation_id} does not exist",
                                hint="Run one with `assay eval run`.")
        case_rows = session.scalars(
            select(EvalCaseRow).where(EvalCaseRow.evaluation_id == evaluation_id)
            .order_by(EvalCaseRow.target, EvalCaseRow.position)
        ).all()

    def pick(target: str) -> tuple[CaseResult, ...]:
        return tuple(
            CaseResult(c.case_id, c.passed, tuple(c.scores), c.output_sha256, c.error)
            for c in case_rows if c.target == target
        )

    return EvaluationResult(
        id=row.id, alias=row.alias, candidate=row.candidate_model_version_id,
        baseline=row.baseline_model_version_id, dataset_sha256=row.dataset_sha256, kind=row.kind,
        cases=pick("candidate"), baseline_cases=pick("baseline"), pass_rate_bp=row.pass_rate_bp,
        baseline_pass_rate_bp=row.baseline_pass_rate_bp,
        thresholds=Thresholds(row.min_pass_rate_bp, row.max_regression_bp), passed=row.passed,
        verdict=row.verdict, finished_at=row.finished_at,
    )


def evaluate_change(
    instance: Instance,
    audit: AuditSink,
    change_id: str,
    *,
    dataset: Dataset,
    actor: str,
    target: EvalTarget,
    progress: Progress | None = None,
) -> EvaluationResult:
    """Evaluate a change's candidate on its route and attach the result to the change."""
    change = get_change(instance, change_id)
    with instance.db.session() as session:
        row = session.get(ChangeRequestRow, change_id)
        clears = bool(row and row.clear_output_schema)
    schema: Mapping[str, object] | _RouteSchema | None = (
        None if clears else dict(change.output_schema) if change.output_schema else ROUTE_SCHEMA
    )
    result = run_evaluation(
        instance, audit, alias=change.alias, candidate=change.model_version_id, dataset=dataset,
        actor=actor, target=target, thresholds=change.thresholds, progress=progress,
        output_schema=schema,
    )
    attach_evaluation(instance, audit, change_id, result.id, actor=actor)
    return result


def schedule_evaluation(
    instance: Instance, audit: AuditSink, *, alias: str, dataset: Dataset, interval_s: int,
    actor: str, tenant: str | None = None,
) -> datetime:
    """Re-evaluate the live version of ``alias`` every ``interval_s`` seconds.

    With ``tenant``, the cases go through that tenant's stored policy at every run (through
    the gateway pipeline); without, through the runner's default tenant.
    """
    if tenant is not None:
        check_identifier("tenant", tenant)
    if interval_s < 60:
        raise UsageError("the interval must be at least 60 seconds", hint="E.g. --every 86400.")
    with instance.db.session() as session:
        if session.get(RouteRow, alias) is None:
            raise NotFoundError(f"route {alias} does not exist",
                                hint="Only live routes can be re-evaluated.")
    emit(audit, "eval.scheduled", actor=actor, tenant=tenant, object_ids={"route": alias},
         attributes={"dataset_sha256": dataset.sha256, "interval_s": interval_s})
    now = instance.clock.now()
    next_run = now + timedelta(seconds=interval_s)
    with instance.db.session() as session:
        if session.get(DatasetRow, dataset.sha256) is None:
            session.add(DatasetRow(sha256=dataset.sha256, name=dataset.name[:200],
                                   content=dataset.content, cases=len(dataset.cases),
                                   created_at=now))
            session.flush()
        session.merge(EvalScheduleRow(alias=alias, dataset_sha256=dataset.sha256,
                                      interval_s=interval_s, next_run_at=next_run,
                                      created_by=actor, tenant=tenant))
    return next_run


def _reference_rate(instance: Instance, alias: str, model_version_id: str) -> int | None:
    """The pass rate the live version was approved on (its change's evaluation)."""
    with instance.db.session() as session:
        route = session.get(RouteRow, alias)
        change = session.get(ChangeRequestRow, route.change_id) if route else None
        evaluation_id = change.evaluation_id if change else None
        evaluation = session.get(EvaluationRow, evaluation_id) if evaluation_id else None
        if evaluation is None or evaluation.candidate_model_version_id != model_version_id:
            return None
        return evaluation.pass_rate_bp


def run_due_evaluations(
    instance: Instance, audit: AuditSink, target: EvalTarget, *,
    actor: str = "system",
) -> list[EvaluationResult]:
    """Run every schedule whose time has come; raise ``eval.drift_detected`` on drift."""
    now = instance.clock.now()
    with instance.db.session() as session:
        due = session.scalars(
            select(EvalScheduleRow).where(EvalScheduleRow.next_run_at <= now)
        ).all()
        jobs = [(s.alias, s.interval_s, s.tenant, session.get(DatasetRow, s.dataset_sha256))
                for s in due]
    results = []
    for alias, interval_s, tenant, dataset_row in jobs:
        assert dataset_row is not None
        results.append(_scheduled_run(instance, audit, _under(target, tenant), alias=alias,
                                      dataset_row=dataset_row, actor=actor))
        with instance.db.session() as session:
            schedule = session.get(EvalScheduleRow, alias)
            if schedule is not None:
                schedule.next_run_at = now + timedelta(seconds=interval_s)
    return results


def _under(target: EvalTarget, tenant: str | None) -> EvalTarget:
    """``target`` sending under the schedule's tenant, when the schedule names one."""
    if tenant is None or not isinstance(target, TenantTarget) or target.tenant == tenant:
        return target
    return target.for_tenant(tenant)


def _scheduled_run(instance: Instance, audit: AuditSink, target: EvalTarget, *, alias: str,
                   dataset_row: DatasetRow, actor: str) -> EvaluationResult:
    dataset = load_dataset(dataset_row.content, dataset_row.name)
    with instance.db.session() as session:
        route = session.get(RouteRow, alias)
        if route is None:
            raise NotFoundError(f"scheduled route {alias} no longer exists")
        live = route.model_version_id
    result = run_evaluation(instance, audit, alias=alias, candidate=live, dataset=dataset,
                            actor=actor, target=target, kind="scheduled", compare_current=False)
    reference = _reference_rate(instance, alias, live)
    drift = not result.passed or (
        reference is not None
        and reference - result.pass_rate_bp > result.thresholds.max_regression_bp
    )
    if drift:
        emit(audit, "eval.drift_detected", actor=actor,
             object_ids={"route": alias, "evaluation": result.id, "model_version": live},
             attributes={"pass_rate_bp": result.pass_rate_bp, "reference_pass_rate_bp": reference,
                         "min_pass_rate_bp": result.thresholds.min_pass_rate_bp,
                         "severity": "high"})
    return replace(result, drift=drift)


class EvaluationScheduler:
    """A background thread that runs due re-evaluations; the server starts and stops it."""

    def __init__(self, instance: Instance, audit: AuditSink, target: EvalTarget, *,
                 poll_s: float = 60.0) -> None:
        self._instance, self._audit, self._target = instance, audit, target
        self._poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._log = get_logger("assay.governance.scheduler")

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="assay-eval", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def run_once(self) -> list[EvaluationResult]:
        return run_due_evaluations(self._instance, self._audit, self._target)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                for result in self.run_once():
                    self._log.info("scheduled evaluation", route=result.alias,
                                   pass_rate_bp=result.pass_rate_bp, drift=result.drift)
            except AssayError as exc:
                self._log.error("scheduled evaluation failed", error=exc.message)
            except Exception as exc:  # noqa: BLE001 - the scheduler must outlive one bad run
                self._log.error("scheduled evaluation failed", error=type(exc).__name__)
            self._stop.wait(self._poll_s)

