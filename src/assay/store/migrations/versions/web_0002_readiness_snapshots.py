"""Web: daily readiness snapshots for the overview trend.

Revision ID: web_0002
Revises: web_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "web_0002"
down_revision = "web_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_readiness_snapshots",
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("scores", sa.Text(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_web_readiness_snapshots"),
    )


def downgrade() -> None:
    op.drop_table("web_readiness_snapshots")
