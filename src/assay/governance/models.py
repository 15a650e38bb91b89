"""Tables of the governance area (model registry, routes, changes, evaluations, decisions).

Numbers that would be fractions (pass rates, thresholds) are stored as integer
basis points (1/100 of a percent) so nothing hashed or signed ever holds a float.
Nothing here holds prompts, completions or other personal data: evaluations keep
output hashes, decision records keep versions, counts and identifiers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from assay.store.models import Base, UTCDateTime

__all__ = [
    "ChangeRequestRow",
    "ChangeStepRow",
    "DatasetRow",
    "DecisionRecordRow",
    "EvalCaseRow",
    "EvalScheduleRow",
    "EvaluationRow",
    "ModelVersionRow",
    "PromptTemplateRow",
    "RouteRow",
    "RouteStateRow",
    "RouteVersionRow",
]


class PromptTemplateRow(Base):
    """One immutable version of a system-prompt template."""

    __tablename__ = "gov_prompt_templates"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # "<name>@v<version>"
    name: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))


class ModelVersionRow(Base):
    """A model version the platform may use; immutable once registered."""

    __tablename__ = "gov_model_versions"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    provider: Mapped[str] = mapped_column(String(128))
    upstream: Mapped[str] = mapped_column(String(128))
    provider_model: Mapped[str] = mapped_column(String(200))
    snapshot: Mapped[str] = mapped_column(String(128))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    params_sha256: Mapped[str] = mapped_column(String(64))
    prompt_template_id: Mapped[str | None] = mapped_column(
        String(200), ForeignKey("gov_prompt_templates.id"), nullable=True
    )
    intended_use: Mapped[str] = mapped_column(Text)
    risk_rating: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(200))
    training_opt_out: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    retention_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    region: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source: Mapped[str] = mapped_column(String(32))  # "manual" or "quickstart"
    content_sha256: Mapped[str] = mapped_column(String(64))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    registered_by: Mapped[str] = mapped_column(String(200))
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class RouteRow(Base):
    """What an alias served by the gateway points to right now."""

    __tablename__ = "gov_routes"

    alias: Mapped[str] = mapped_column(String(200), primary_key=True)
    model_version_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("gov_model_versions.id")
    )
    route_version: Mapped[int] = mapped_column(Integer)
    min_pass_rate_bp: Mapped[int] = mapped_column(Integer)
    max_regression_bp: Mapped[int] = mapped_column(Integer)
    output_schema: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    change_id: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RouteVersionRow(Base):
    """Every state a route has had: the population of route changes for CC8.1."""

    __tablename__ = "gov_route_versions"

    alias: Mapped[str] = mapped_column(String(200), primary_key=True)
    route_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_version_id: Mapped[str] = mapped_column(String(200))
    min_pass_rate_bp: Mapped[int] = mapped_column(Integer)
    max_regression_bp: Mapped[int] = mapped_column(Integer)
    output_schema: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    change_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # change | emergency | rollback | bootstrap
    activated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    activated_by: Mapped[str] = mapped_column(String(200))
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class RouteStateRow(Base):
    """One row whose counter moves on every route change (cheap cache check)."""

    __tablename__ = "gov_route_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)


class ChangeRequestRow(Base):
    """A proposed change to a route, moving through the approval workflow."""

    __tablename__ = "gov_change_requests"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    alias: Mapped[str] = mapped_column(String(200), index=True)
    model_version_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("gov_model_versions.id")
    )
    min_pass_rate_bp: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_regression_bp: Mapped[int | None] = mapped_column(Integer, nullable=True)
    output_schema: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    clear_output_schema: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    requester: Mapped[str] = mapped_column(String(200))
    emergency: Mapped[bool] = mapped_column(Boolean)
    kind: Mapped[str] = mapped_column(String(16))  # change | bootstrap
    state: Mapped[str] = mapped_column(String(32), index=True)
    evaluation_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    approver: Mapped[str | None] = mapped_column(String(200), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    post_approval_pending: Mapped[bool] = mapped_column(Boolean)
    activated_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    activated_route_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    previous_route_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChangeStepRow(Base):
    """Each step of a change request, with the ledger index that records it."""

    __tablename__ = "gov_change_steps"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    change_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("gov_change_requests.id"), index=True
    )
    step: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text)
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class DatasetRow(Base):
    """A golden dataset, kept by content hash so scheduled runs need no files."""

    __tablename__ = "gov_datasets"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    cases: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EvaluationRow(Base):
    """One evaluation run of a candidate model version for a route."""

    __tablename__ = "gov_evaluations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    alias: Mapped[str] = mapped_column(String(200), index=True)
    candidate_model_version_id: Mapped[str] = mapped_column(String(200))
    baseline_model_version_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    dataset_sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # gate | scheduled
    cases_total: Mapped[int] = mapped_column(Integer)
    cases_passed: Mapped[int] = mapped_column(Integer)
    cases_errored: Mapped[int] = mapped_column(Integer)
    pass_rate_bp: Mapped[int] = mapped_column(Integer)
    baseline_pass_rate_bp: Mapped[int | None] = mapped_column(Integer, nullable=True)
    min_pass_rate_bp: Mapped[int] = mapped_column(Integer)
    max_regression_bp: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)
    verdict: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class EvalCaseRow(Base):
    """Per-case result of an evaluation: pass/fail per scorer, no plaintext output."""

    __tablename__ = "gov_eval_cases"

    evaluation_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("gov_evaluations.id"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(16), primary_key=True)  # candidate | baseline
    passed: Mapped[bool] = mapped_column(Boolean)
    scores: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    output_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class EvalScheduleRow(Base):
    """A live route re-evaluated on a schedule against a stored dataset."""

    __tablename__ = "gov_eval_schedules"

    alias: Mapped[str] = mapped_column(String(200), primary_key=True)
    dataset_sha256: Mapped[str] = mapped_column(String(64), ForeignKey("gov_datasets.sha256"))
    interval_s: Mapped[int] = mapped_column(Integer)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    #: Whose stored policy the cases go through (None: the runner's default tenant).
    tenant: Mapped[str | None] = mapped_column(String(200), nullable=True)


class DecisionRecordRow(Base):
    """How one gateway answer was produced: versions, decisions, counts, document ids."""

    __tablename__ = "gov_decision_records"

    request_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    # Not indexed: nothing reads records by tenant, and each request would write the index (governance_0003).
    tenant: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    alias: Mapped[str] = mapped_column(String(200))
    model_version_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    route_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    prompt_template_version: Mapped[str | None] = mapped_column(String(200), nullable=True)
    params_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    policy_version: Mapped[str | None] = mapped_column(String(128), nullable=True)
    policy_decisions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    redaction_counts: Mapped[dict[str, int]] = mapped_column(JSON)
    retrieved_document_ids: Mapped[list[str]] = mapped_column(JSON)
    output_valid: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    output_action: Mapped[str | None] = mapped_column(String(16), nullable=True)
    output_errors: Mapped[list[str]] = mapped_column(JSON)
    ledger_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
