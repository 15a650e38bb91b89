"""Compliance: check result history and evidence records.

Revision ID: compliance_0001
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "compliance_0001"
down_revision = "0001_foundation"
branch_labels = ("compliance",)
depends_on = None

_AutoId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "check_results",
        sa.Column("id", _AutoId, primary_key=True, autoincrement=True),
        sa.Column("check_id", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.String(2000), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("evidence_sha256", sa.String(64), nullable=False),
        sa.Column("remediation", sa.String(2000), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_check_results"),
    )
    op.create_index("ix_check_results_check_id_ran_at", "check_results", ["check_id", "ran_at"])
    op.create_index("ix_check_results_ran_at", "check_results", ["ran_at"])
    op.create_table(
        "compliance_evidence",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("control_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("source", sa.String(2000), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_compliance_evidence"),
    )
    op.create_index("ix_compliance_evidence_control_id", "compliance_evidence", ["control_id"])


def downgrade() -> None:
    op.drop_index("ix_compliance_evidence_control_id", table_name="compliance_evidence")
    op.drop_table("compliance_evidence")
    op.drop_index("ix_check_results_ran_at", table_name="check_results")
    op.drop_index("ix_check_results_check_id_ran_at", table_name="check_results")
    op.drop_table("check_results")
