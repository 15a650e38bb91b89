"""Governance: model registry, routes, change requests, evaluations, decision records.

Revision ID: governance_0001
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "governance_0001"
down_revision = "0001_foundation"
branch_labels = ("governance",)
depends_on = None

TZ = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "gov_prompt_templates",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gov_prompt_templates"),
    )
    op.create_index("ix_gov_prompt_templates_name", "gov_prompt_templates", ["name"])
    op.create_table(
        "gov_model_versions",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("provider", sa.String(128), nullable=False),
        sa.Column("upstream", sa.String(128), nullable=False),
        sa.Column("provider_model", sa.String(200), nullable=False),
        sa.Column("snapshot", sa.String(128), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("params_sha256", sa.String(64), nullable=False),
        sa.Column("prompt_template_id", sa.String(200), nullable=True),
        sa.Column("intended_use", sa.Text(), nullable=False),
        sa.Column("risk_rating", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("training_opt_out", sa.Boolean(), nullable=True),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        sa.Column("region", sa.String(64), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("registered_at", TZ, nullable=False),
        sa.Column("registered_by", sa.String(200), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_gov_model_versions"),
        sa.ForeignKeyConstraint(
            ["prompt_template_id"], ["gov_prompt_templates.id"],
            name="fk_gov_model_versions_prompt_template_id_gov_prompt_templates",
        ),
    )
    op.create_table(
        "gov_routes",
        sa.Column("alias", sa.String(200), nullable=False),
        sa.Column("model_version_id", sa.String(200), nullable=False),
        sa.Column("route_version", sa.Integer(), nullable=False),
        sa.Column("min_pass_rate_bp", sa.Integer(), nullable=False),
        sa.Column("max_regression_bp", sa.Integer(), nullable=False),
        sa.Column("output_schema", sa.JSON(), nullable=True),
        sa.Column("change_id", sa.String(64), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("alias", name="pk_gov_routes"),
        sa.ForeignKeyConstraint(
            ["model_version_id"], ["gov_model_versions.id"],
            name="fk_gov_routes_model_version_id_gov_model_versions",
        ),
    )
    op.create_table(
        "gov_route_versions",
        sa.Column("alias", sa.String(200), nullable=False),
        sa.Column("route_version", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.String(200), nullable=False),
        sa.Column("min_pass_rate_bp", sa.Integer(), nullable=False),
        sa.Column("max_regression_bp", sa.Integer(), nullable=False),
        sa.Column("output_schema", sa.JSON(), nullable=True),
        sa.Column("change_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("activated_at", TZ, nullable=False),
        sa.Column("activated_by", sa.String(200), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("alias", "route_version", name="pk_gov_route_versions"),
    )
    op.create_index(
        "ix_gov_route_versions_activated_at", "gov_route_versions", ["activated_at"]
    )
    op.create_table(
        "gov_route_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gov_route_state"),
    )
    op.create_table(
        "gov_change_requests",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("alias", sa.String(200), nullable=False),
        sa.Column("model_version_id", sa.String(200), nullable=False),
        sa.Column("min_pass_rate_bp", sa.Integer(), nullable=True),
        sa.Column("max_regression_bp", sa.Integer(), nullable=True),
        sa.Column("output_schema", sa.JSON(), nullable=True),
        sa.Column("clear_output_schema", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requester", sa.String(200), nullable=False),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("evaluation_id", sa.String(64), nullable=True),
        sa.Column("approver", sa.String(200), nullable=True),
        sa.Column("approved_at", TZ, nullable=True),
        sa.Column("post_approval_pending", sa.Boolean(), nullable=False),
        sa.Column("activated_by", sa.String(200), nullable=True),
        sa.Column("activated_at", TZ, nullable=True),
        sa.Column("activated_route_version", sa.Integer(), nullable=True),
        sa.Column("previous_route_version", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gov_change_requests"),
        sa.ForeignKeyConstraint(
            ["model_version_id"], ["gov_model_versions.id"],
            name="fk_gov_change_requests_model_version_id_gov_model_versions",
        ),
    )
    op.create_index("ix_gov_change_requests_alias", "gov_change_requests", ["alias"])
    op.create_index("ix_gov_change_requests_state", "gov_change_requests", ["state"])
    op.create_table(
        "gov_change_steps",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("change_id", sa.String(64), nullable=False),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_gov_change_steps"),
        sa.ForeignKeyConstraint(
            ["change_id"], ["gov_change_requests.id"],
            name="fk_gov_change_steps_change_id_gov_change_requests",
        ),
    )
    op.create_index("ix_gov_change_steps_change_id", "gov_change_steps", ["change_id"])
    op.create_table(
        "gov_datasets",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_gov_datasets"),
    )
    op.create_table(
        "gov_evaluations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("alias", sa.String(200), nullable=False),
        sa.Column("candidate_model_version_id", sa.String(200), nullable=False),
        sa.Column("baseline_model_version_id", sa.String(200), nullable=True),
        sa.Column("dataset_sha256", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("cases_total", sa.Integer(), nullable=False),
        sa.Column("cases_passed", sa.Integer(), nullable=False),
        sa.Column("cases_errored", sa.Integer(), nullable=False),
        sa.Column("pass_rate_bp", sa.Integer(), nullable=False),
        sa.Column("baseline_pass_rate_bp", sa.Integer(), nullable=True),
        sa.Column("min_pass_rate_bp", sa.Integer(), nullable=False),
        sa.Column("max_regression_bp", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("verdict", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_gov_evaluations"),
    )
    op.create_index("ix_gov_evaluations_alias", "gov_evaluations", ["alias"])
    op.create_index("ix_gov_evaluations_finished_at", "gov_evaluations", ["finished_at"])
    op.create_table(
        "gov_eval_cases",
        sa.Column("evaluation_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("target", sa.String(16), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("output_sha256", sa.String(64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("evaluation_id", "position", "target", name="pk_gov_eval_cases"),
        sa.ForeignKeyConstraint(
            ["evaluation_id"], ["gov_evaluations.id"],
            name="fk_gov_eval_cases_evaluation_id_gov_evaluations",
        ),
    )
    op.create_table(
        "gov_eval_schedules",
        sa.Column("alias", sa.String(200), nullable=False),
        sa.Column("dataset_sha256", sa.String(64), nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=False),
        sa.Column("next_run_at", TZ, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("alias", name="pk_gov_eval_schedules"),
        sa.ForeignKeyConstraint(
            ["dataset_sha256"], ["gov_datasets.sha256"],
            name="fk_gov_eval_schedules_dataset_sha256_gov_datasets",
        ),
    )
    op.create_table(
        "gov_decision_records",
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("tenant", sa.String(128), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("alias", sa.String(200), nullable=False),
        sa.Column("model_version_id", sa.String(200), nullable=True),
        sa.Column("route_version", sa.Integer(), nullable=True),
        sa.Column("prompt_template_version", sa.String(200), nullable=True),
        sa.Column("params_sha256", sa.String(64), nullable=True),
        sa.Column("policy_version", sa.String(128), nullable=True),
        sa.Column("policy_decisions", sa.JSON(), nullable=False),
        sa.Column("redaction_counts", sa.JSON(), nullable=False),
        sa.Column("retrieved_document_ids", sa.JSON(), nullable=False),
        sa.Column("output_valid", sa.Boolean(), nullable=True),
        sa.Column("output_action", sa.String(16), nullable=True),
        sa.Column("output_errors", sa.JSON(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name="pk_gov_decision_records"),
    )
    op.create_index("ix_gov_decision_records_tenant", "gov_decision_records", ["tenant"])
    op.create_index("ix_gov_decision_records_created_at", "gov_decision_records", ["created_at"])


def downgrade() -> None:
    for table in (
        "gov_decision_records", "gov_eval_schedules", "gov_eval_cases", "gov_evaluations",
        "gov_datasets", "gov_change_steps", "gov_change_requests", "gov_route_state",
        "gov_route_versions", "gov_routes", "gov_model_versions", "gov_prompt_templates",
    ):
        op.drop_table(table)
