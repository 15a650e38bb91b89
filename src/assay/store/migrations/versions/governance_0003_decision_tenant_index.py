"""Governance: decision records lose their tenant index.

No query reads decision records by tenant (they are found by request id, or by time for the
compliance checks), and every gateway request paid for the index inside the ledger commit its
answer waits for (ADR 0046): one more B-tree page written and fsynced per request.

Revision ID: governance_0003
Revises: governance_0002
"""

from __future__ import annotations

from alembic import op

revision = "governance_0003"
down_revision = "governance_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_gov_decision_records_tenant", table_name="gov_decision_records")


def downgrade() -> None:
    op.create_index("ix_gov_decision_records_tenant", "gov_decision_records", ["tenant"])
