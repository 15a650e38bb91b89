"""Governance: a scheduled re-evaluation remembers the tenant whose policy it runs under.

Revision ID: governance_0002
Revises: governance_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "governance_0002"
down_revision = "governance_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for schedules made before: they keep running under the runner's default tenant.
    op.add_column("gov_eval_schedules", sa.Column("tenant", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gov_eval_schedules") as batch:
        batch.drop_column("tenant")
